from django.urls import path

from patron.core.record_pages import record_urlpatterns
from patron.pipeline import admin_views
from patron.pipeline.views import opportunity_move, opportunity_pages

app_name = "pipeline"

urlpatterns = [
    *record_urlpatterns("opportunities", opportunity_pages),
    path("opportunities/<int:pk>/move/", opportunity_move, name="opportunity_move"),
    *admin_views.urlpatterns,
]
