from django.urls import path

from patron.activities import views
from patron.activities.ics_export import activity_list_ics
from patron.core.record_pages import record_urlpatterns

app_name = "activities"

urlpatterns = [
    path("activities/my-tasks/", views.my_tasks, name="my_tasks"),
    path("activities/mine/", views.mine, name="activity_mine"),
    path("activities/quick-add/", views.quick_add, name="quick_add"),
    path("activities/ics/", activity_list_ics, name="activity_list_ics"),
    path("activities/<int:pk>/complete/", views.activity_complete, name="activity_complete"),
    *record_urlpatterns("activities", views.activity_pages),
]
