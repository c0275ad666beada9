from django.urls import URLPattern, URLResolver

app_name = "lead_policy"

urlpatterns: list[URLPattern | URLResolver] = []
