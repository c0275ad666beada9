from django.urls import URLPattern, URLResolver

app_name = "territory_forecasts"

urlpatterns: list[URLPattern | URLResolver] = []
