from django.urls import include, path

from config.api_v1 import api

# A database or broker outage answers 503 with Retry-After instead of a 500.
handler500 = "patron.core.middleware.server_error"

urlpatterns = [
    path("api/v1/", api.urls),
    path("ui/", include("patron.core.ui_urls")),
    path("", include("patron.core.urls")),
    path("", include("patron.activities.calendar_urls")),
    path("", include("patron.users.urls")),
    path("", include("patron.contacts.urls")),
    path("", include("patron.contacts.vcard_urls")),
    path("", include("patron.contacts.consent_urls")),
    path("", include("patron.activities.urls")),
    path("", include("patron.routing.urls")),
    path("", include("patron.territories.urls")),
    path("", include("patron.leads.urls")),
    path("", include("patron.leads.policy_urls")),
    path("", include("patron.pipeline.urls")),
    path("", include("patron.pipeline.territory_forecast_urls")),
    path("", include("patron.orders.urls")),
    path("", include("patron.automation.urls")),
    path("", include("patron.automation.approval_urls")),
    path("", include("patron.automation.webhook_urls")),
    path("", include("patron.data_exchange.urls")),
]
