from django.urls import path

from patron.data_exchange import import_views

urlpatterns = [
    path("data/imports/", import_views.import_list, name="import_list"),
    path("data/imports/new/", import_views.import_new, name="import_new"),
    path("data/imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("data/imports/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
    path("data/imports/<int:pk>/revert/", import_views.import_revert, name="import_revert"),
    path("data/imports/jobs/<int:pk>/", import_views.import_job, name="import_job"),
    path("data/imports/mappings/", import_views.import_mappings, name="import_mappings"),
    path(
        "data/imports/mappings/<int:pk>/rename/",
        import_views.import_mapping_rename,
        name="import_mapping_rename",
    ),
    path(
        "data/imports/mappings/<int:pk>/delete/",
        import_views.import_mapping_remove,
        name="import_mapping_delete",
    ),
]
