from django.urls import URLPattern, URLResolver, include, path

app_name = "data_exchange"

urlpatterns: list[URLPattern | URLResolver] = []

# Privacy (GDPR) requests.
urlpatterns += [path("", include("patron.data_exchange.privacy_urls"))]

# Imports.
urlpatterns += [path("", include("patron.data_exchange.import_urls"))]

# Data quality.
urlpatterns += [path("", include("patron.data_exchange.quality_urls"))]

# Duplicates and merge.
urlpatterns += [path("", include("patron.data_exchange.duplicate_urls"))]
