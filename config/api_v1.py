"""The /api/v1/ NinjaAPI: routers from each app are mounted here (wiring only)."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="Patron API", version="1.0.0", urls_namespace="api-v1")
