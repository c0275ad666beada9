from django.urls import URLPattern, path

from patron.contacts.vcard_views import (
    contact_list_vcard,
    contact_vcard_download,
    contact_vcard_import,
    contact_vcard_import_job,
)

app_name = "vcard"

urlpatterns: list[URLPattern] = [
    path("contacts/vcard/", contact_list_vcard, name="contact_list"),
    path("contacts/vcard/import/", contact_vcard_import, name="contact_import"),
    path("contacts/vcard/import/<int:pk>/", contact_vcard_import_job, name="import_job"),
    path("contacts/<int:pk>/vcard/", contact_vcard_download, name="contact"),
]
