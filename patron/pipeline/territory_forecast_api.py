"""Forecasts and quotas rolled up by territory."""

from ninja import Router

router = Router(tags=["Forecasts"])
