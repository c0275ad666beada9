from django.urls import URLPattern, URLResolver, path

from patron.automation import views

app_name = "automation"

urlpatterns: list[URLPattern | URLResolver] = [
    path("automation/workflows/", views.workflow_list, name="workflow_list"),
    path("automation/workflows/new/", views.workflow_create, name="workflow_create"),
    path("automation/workflows/import/", views.workflow_import, name="workflow_import"),
    path("automation/workflows/<int:pk>/", views.workflow_detail, name="workflow_detail"),
    path("automation/workflows/<int:pk>/edit/", views.workflow_edit, name="workflow_edit"),
    path(
        "automation/workflows/<int:pk>/activate/",
        views.workflow_activate,
        name="workflow_activate",
    ),
    path(
        "automation/workflows/<int:pk>/deactivate/",
        views.workflow_deactivate,
        name="workflow_deactivate",
    ),
    path("automation/workflows/<int:pk>/json/", views.workflow_json, name="workflow_json"),
    path("automation/workflows/<int:pk>/test/", views.workflow_test, name="workflow_test"),
    path(
        "automation/workflows/<int:pk>/run/<int:object_id>/",
        views.run_manual,
        name="run_manual",
    ),
    path("automation/runs/", views.run_list, name="run_list"),
    path("automation/runs/<int:pk>/", views.run_detail, name="run_detail"),
    path(
        "automation/runs/<int:pk>/steps/<int:step_pk>/retry/",
        views.run_retry,
        name="run_retry",
    ),
]
