"""The "Territory" card on the detail page of every territory subject (accounts, leads):
the record's territory in the active model, the territories above it, and its members."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from patron.core.record_pages import DetailPanel, register_detail_panel
from patron.territories.models import TerritoryAssignment, TerritoryMember
from patron.territories.registry import TerritorySubject, on_subject_registered
from patron.territories.selectors import territories_of_cached


def _card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    path = territories_of_cached(record)
    if not path:
        return {"territories": [], "members": [], "manual": False}
    own = path[-1]
    return {
        "territories": path,
        "members": list(
            TerritoryMember.objects.filter(territory=own, user__is_active=True)
            .select_related("user")
            .order_by("role", "user__full_name")
        ),
        "manual": TerritoryAssignment.objects.filter(
            territory=own, object_id=record.pk, is_manual=True
        ).exists(),
    }


def _register(subject: TerritorySubject) -> None:
    register_detail_panel(
        DetailPanel(
            key=f"territories.{subject.object_type}",
            template="territories/territory_card.html",
            context=_card,
            object_types=frozenset({subject.object_type}),
            order=60,
            column="side",
        )
    )


def register_territory_panels() -> None:
    on_subject_registered(_register)
