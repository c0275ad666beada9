from django.urls import URLPattern, path

from patron.data_exchange import privacy_views

urlpatterns: list[URLPattern] = [
    path("data/privacy/", privacy_views.privacy_list, name="privacy_list"),
    path("data/privacy/new/", privacy_views.privacy_new, name="privacy_new"),
    path("data/privacy/<int:pk>/", privacy_views.privacy_detail, name="privacy_detail"),
    path("data/privacy/<int:pk>/archive/", privacy_views.privacy_download, name="privacy_download"),
    path("data/privacy/jobs/<int:pk>/", privacy_views.privacy_job, name="privacy_job"),
]
