"""Core pages under /ui/ (included by config.urls as ``path("ui/", include(...))``)."""

from django.urls import path

from patron.core import picker_views, sharing_views, timeline_views, views

app_name = "ui"
urlpatterns = [
    path("components/", views.components, name="components"),
    path("recycle-bin/", views.recycle_bin, name="recycle_bin"),
    path("recycle-bin/restore/", views.recycle_bin_restore, name="recycle_bin_restore"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/download/", views.job_download, name="job_download"),
    path("share/<str:object_type>/<int:pk>/", sharing_views.share_add, name="share_add"),
    path("share/<int:share_pk>/remove/", sharing_views.share_remove, name="share_remove"),
    path("timeline/<str:object_type>/<int:pk>/", timeline_views.timeline, name="timeline"),
    path("pick/<str:object_type>/", picker_views.pick, name="pick"),
]
