from django.urls import URLPattern, path

from patron.data_exchange import quality_views

urlpatterns: list[URLPattern] = [
    path("data/quality/", quality_views.quality_page, name="quality"),
]
