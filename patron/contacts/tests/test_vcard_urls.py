"""A test URLconf: the project's URLs plus the vCard pages and a test API with its router.

It mirrors config/api_v1.py (a PatronAPI with the router under the contacts scope) so the
tests hold before and after the router is mounted in the real API.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from patron.contacts.vcard_api import router as vcard_router
from patron.core.api.auth import SessionAuth
from patron.core.api.base import PatronAPI
from patron.users.api import api_auth

vcard_test_api = PatronAPI(
    title="vCard test API",
    version="0",
    urls_namespace="vcard-test-api",
    auth=[SessionAuth()],
)
vcard_test_api.add_router("/", vcard_router, auth=api_auth("contacts"))

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", vcard_test_api.urls),
    path("", include("patron.contacts.vcard_urls")),
    # By name, not import: apps may not import the wiring in config (import-linter).
    path("", include("config.urls")),
]
