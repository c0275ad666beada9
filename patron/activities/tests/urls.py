"""A test-only URLconf: the activities router mounted on its own API, then the real site."""

from django.urls import include, path

from patron.activities.api import router
from patron.core.api.auth import SessionAuth
from patron.core.api.base import PatronAPI
from patron.users.api import api_auth

api = PatronAPI(urls_namespace="activities-test-api", auth=[SessionAuth()])
api.add_router("/", router, auth=api_auth("activities"))

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("config.urls")),
]
