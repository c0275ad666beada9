"""The behaviour event types lead scoring knows, registered by the apps that record them.

Leads registers the activity kinds; apps above leads (email marketing: "email.opened", web
analytics: "web.visit") call ``register_behaviour_source`` from their ``AppConfig.ready`` and
report events with ``scoring.behaviour_record``, with no change to leads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count

from patron.leads.models import BehaviourEvent


@dataclass(frozen=True)
class BehaviourSource:
    """An event type behaviour rules can score ("activity.call", "email.opened")."""

    event_type: str
    label: str


_sources: dict[str, BehaviourSource] = {}


def register_behaviour_source(source: BehaviourSource) -> None:
    """Offer ``source.event_type`` to behaviour rules (call from ``AppConfig.ready``)."""
    _sources[source.event_type] = source


def behaviour_sources() -> list[BehaviourSource]:
    return sorted(_sources.values(), key=lambda s: s.event_type)


def behaviour_label(event_type: str) -> str:
    source = _sources.get(event_type)
    return source.label if source else event_type


ACTIVITY_SOURCES = (
    BehaviourSource("activity.call", "Call logged"),
    BehaviourSource("activity.email", "Email logged"),
    BehaviourSource("activity.appointment", "Meeting booked"),
    BehaviourSource("activity.note", "Note added"),
)


def is_behaviour_source(event_type: str) -> bool:
    return event_type in _sources


def behaviour_counts(lead_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Events per lead and type, in one grouped query."""
    counts: dict[int, dict[str, int]] = {}
    rows = (
        BehaviourEvent.objects.filter(lead_id__in=list(lead_ids))
        .values_list("lead_id", "event_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    for lead_id, event_type, n in rows:
        counts.setdefault(lead_id, {})[event_type] = n
    return counts
