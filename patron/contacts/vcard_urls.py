from django.urls import URLPattern, path

from patron.contacts.vcard_views import (
    contact_list_vcard,
    contact_vcard_download,
    contact_vcard_import,
)

app_name = "vcard"

urlpatterns: list[URLPattern] = [
    path("contacts/vcard/", contact_list_vcard, name="contact_list"),
    path("contacts/vcard/import/", contact_vcard_import, name="contact_import"),
    path("contacts/<int:pk>/vcard/", contact_vcard_download, name="contact"),
]
