from django.urls import path

from patron.core import health, search_views, views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("search/", search_views.global_search, name="search"),
]
