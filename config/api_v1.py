"""The /api/v1/ API: routers from each app are mounted here (wiring only).

Every router carries its own scope area (a token needs ``<area>:read`` or ``:write``);
operations outside any router accept only a signed-in browser session.
"""

from __future__ import annotations

from patron.activities.api import router as activities_router
from patron.activities.calendar_api import router as calendar_router
from patron.automation.api import router as automation_router
from patron.automation.approval_api import router as approvals_router
from patron.automation.inbound_api import router as inbound_hooks_router
from patron.automation.webhook_api import router as webhooks_router
from patron.contacts.api import router as contacts_router
from patron.contacts.competitor_api import router as competitor_router
from patron.contacts.consent_api import router as consent_router
from patron.contacts.purchase_history_api import router as purchase_history_router
from patron.contacts.related_list_api import router as related_lists_router
from patron.contacts.vcard_api import router as vcard_router
from patron.core.api.auth import SessionAuth
from patron.core.api.base import PatronAPI
from patron.core.api.notifications import router as notifications_router
from patron.core.api.timeline import router as timeline_router
from patron.core.export_api import router as exports_router
from patron.core.search_api import router as search_router
from patron.data_exchange.api import router as data_exchange_router
from patron.leads.api import router as leads_router
from patron.leads.capture_api import router as lead_capture_router
from patron.leads.policy_api import router as lead_policy_router
from patron.orders.api import router as orders_router
from patron.orders.quote_api import router as quotes_router
from patron.pipeline.analytics_api import router as sales_analytics_router
from patron.pipeline.api import router as pipeline_router
from patron.pipeline.forecast_api import router as forecast_router
from patron.pipeline.playbook_api import router as playbook_router
from patron.pipeline.related_api import router as opportunity_related_router
from patron.pipeline.territory_forecast_api import router as territory_forecast_router
from patron.routing.api import router as routing_router
from patron.territories.api import router as territories_router
from patron.users.api import api_auth
from patron.users.api import router as users_router

api = PatronAPI(
    title="Patron API",
    version="1.0.0",
    description=(
        "The Patron CRM API. Authenticate with a personal API token "
        "(`Authorization: Bearer <token>`) or a browser session (with CSRF on writes). "
        "Errors are RFC 9457 problem documents. See docs/api.md."
    ),
    urls_namespace="api-v1",
    auth=[SessionAuth()],
)
api.add_router("/", contacts_router)
api.add_router("/", vcard_router, auth=api_auth("contacts"))
api.add_router("/", competitor_router, auth=api_auth("contacts"))
api.add_router("/", purchase_history_router, auth=api_auth("contacts"))
api.add_router("/", related_lists_router, auth=api_auth("contacts"))
api.add_router("/", consent_router, auth=api_auth("contacts"))
api.add_router("/", activities_router)
api.add_router("/", calendar_router)
api.add_router("/", pipeline_router)
api.add_router("/", opportunity_related_router, auth=api_auth("sales"))
api.add_router("/", playbook_router, auth=api_auth("sales"))
api.add_router("/", forecast_router, auth=api_auth("sales"))
api.add_router("/", sales_analytics_router, auth=api_auth("sales"))
api.add_router("/users", users_router)
api.add_router("/search", search_router, auth=api_auth("search"))
# The timeline is the activity history of a record, so tokens need the activities scope.
api.add_router("/timeline", timeline_router, auth=api_auth("activities"))
api.add_router("/notifications", notifications_router, auth=api_auth("users"))
api.add_router("/", orders_router, auth=api_auth("sales"))
api.add_router("/", quotes_router, auth=api_auth("sales"))
api.add_router("/", leads_router, auth=api_auth("leads"))
api.add_router("/", lead_policy_router, auth=api_auth("leads"))
# Public: a capture form's key is published in its embed snippet, so this router has no auth.
api.add_router("/", lead_capture_router, auth=None)
api.add_router("/", routing_router, auth=api_auth("routing"))
api.add_router("/", territories_router, auth=api_auth("territories"))
api.add_router("/", territory_forecast_router, auth=api_auth("sales"))
api.add_router("/", automation_router, auth=api_auth("automation"))
api.add_router("/", approvals_router, auth=api_auth("automation"))
api.add_router("/", webhooks_router, auth=api_auth("automation"))
# Public: an inbound webhook's secret URL token is its authentication.
api.add_router("/", inbound_hooks_router, auth=None)
api.add_router("/", data_exchange_router, auth=api_auth("data"))
api.add_router("/", exports_router, auth=api_auth("data"))
