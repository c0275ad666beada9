from django.urls import URLPattern, URLResolver, path

from patron.core.record_pages import record_urlpatterns
from patron.leads import capture_views, views

app_name = "leads"

urlpatterns: list[URLPattern | URLResolver] = [
    *record_urlpatterns("leads", views.lead_pages),
    path("leads/<int:pk>/status/", views.lead_status, name="lead_status"),
    path("leads/<int:pk>/disqualify/", views.lead_disqualify, name="lead_disqualify"),
    path("leads/<int:pk>/archive/", views.lead_archive, name="lead_archive"),
    path("leads/<int:pk>/restore/", views.lead_restore, name="lead_restore"),
    path("leads/<int:pk>/convert/", views.lead_convert_page, name="lead_convert"),
    path("admin-area/capture-forms/", capture_views.capture_form_list, name="capture_form_list"),
    path(
        "admin-area/capture-forms/new/",
        capture_views.capture_form_edit,
        name="capture_form_create",
    ),
    path(
        "admin-area/capture-forms/<int:pk>/",
        capture_views.capture_form_edit,
        name="capture_form_edit",
    ),
    path(
        "admin-area/capture-forms/<int:pk>/new-key/",
        capture_views.capture_form_rekey,
        name="capture_form_rekey",
    ),
    path("capture/<str:key>/", capture_views.capture_public, name="capture_public"),
    path("capture/<str:key>/embed.js", capture_views.capture_embed_js, name="capture_embed"),
    path("capture/confirm/<str:token>/", capture_views.capture_confirm, name="capture_confirm"),
]
