from __future__ import annotations

from patron.core.models import OrganizationSettings


def org_settings() -> OrganizationSettings:
    """The organisation settings row (created on first use)."""
    settings_row, _ = OrganizationSettings.objects.get_or_create(pk=1)
    return settings_row
