"""Forecasts and quotas rolled up by territory."""


def register_territory_forecasts() -> None:
    """Register navigation for the territory forecast (filled by issue 5)."""
