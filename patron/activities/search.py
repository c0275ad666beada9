"""How activities appear in global search (see patron.core.search)."""

from __future__ import annotations

from django.utils import formats, timezone

from patron.activities.models import Activity
from patron.core import search


def describe_activity(activity: Activity) -> tuple[str, str, str]:
    when = formats.date_format(timezone.localtime(activity.occurred_at), "SHORT_DATETIME_FORMAT")
    subtitle = " · ".join(p for p in (activity.get_kind_display(), when, activity.location) if p)
    text = " ".join(
        p
        for p in (
            activity.subject,
            activity.description,
            activity.location,
            activity.phone_number,
            activity.email_from,
            activity.email_to,
        )
        if p
    )
    return str(activity), subtitle, text


def register_search() -> None:
    search.register(
        Activity, describe_activity, url=lambda pk: f"/activities/{pk}/", label="Activities"
    )
