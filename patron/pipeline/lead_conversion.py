"""The opportunity step of lead conversion (leads sits below pipeline, so pipeline registers it)."""


def register_lead_conversion() -> None:
    """Register the opportunity conversion step with ``leads.conversion`` (filled by issue 5)."""
