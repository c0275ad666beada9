from django.urls import URLPattern, URLResolver

from patron.territories.views import urlpatterns as page_patterns

app_name = "territories"

urlpatterns: list[URLPattern | URLResolver] = [*page_patterns]
