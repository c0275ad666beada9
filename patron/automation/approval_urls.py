from django.urls import URLPattern, URLResolver, path

from patron.automation import approval_views as views

app_name = "approvals"

urlpatterns: list[URLPattern | URLResolver] = [
    path("approvals/", views.inbox, name="inbox"),
    path("approvals/export.csv", views.inbox_csv, name="inbox_csv"),
    path("approvals/requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("approvals/requests/<int:pk>/recall/", views.request_recall, name="request_recall"),
    path("approvals/tasks/<int:pk>/decide/", views.task_decide, name="task_decide"),
    path(
        "approvals/records/<str:object_type>/<int:pk>/submit/",
        views.record_submit,
        name="record_submit",
    ),
    path("approvals/processes/", views.process_list, name="process_list"),
    path("approvals/processes/new/", views.process_create, name="process_create"),
    path("approvals/processes/<int:pk>/", views.process_edit, name="process_edit"),
]
