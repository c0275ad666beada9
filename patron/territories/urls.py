from django.urls import URLPattern, URLResolver

app_name = "territories"

urlpatterns: list[URLPattern | URLResolver] = []
