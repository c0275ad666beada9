from django.urls import include, path

urlpatterns = [
    path("", include("patron.core.urls")),
    path("", include("patron.users.urls")),
    path("", include("patron.contacts.urls")),
]
