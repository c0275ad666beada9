"""What the routing engine knows about the things it routes.

Routing sits below the apps whose items it assigns (leads now; cases, conversations and
partner leads later), so each of them registers a ``Routable`` in ``AppConfig.ready`` and the
engine never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class RoutingTarget:
    """Where an item goes: a user or a queue (exactly one is set)."""

    user_id: int | None = None
    queue_id: int | None = None


@dataclass(frozen=True)
class Routable:
    """An object type the engine can route.

    ``attributes`` returns the values rules and strategies read. Keys the strategies use:
    ``language``, ``region``, ``country``, ``postal_code``, ``product``, ``deal_size``
    (a number), ``source``, ``territory_user_ids`` (users of the item's territories, for
    territory match) and ``affinity_user_id`` (the existing owner, for owner affinity). Any
    other key can appear in a rule's conditions.

    ``apply`` writes the target onto the item through the app's own service; the engine calls
    it inside its transaction, after the member's capacity is taken.
    """

    object_type: str
    model: type[models.Model]
    label: str
    attributes: Callable[[Any], Mapping[str, Any]]
    apply: Callable[[Any, RoutingTarget, str], None]
    # Fields offered in the rule editor: (key, label).
    condition_fields: tuple[tuple[str, str], ...] = ()


_routables: dict[str, Routable] = {}


def register_routable(spec: Routable) -> None:
    _routables[spec.object_type] = spec


def routable(object_type: str) -> Routable:
    try:
        return _routables[object_type]
    except KeyError:
        raise LookupError(f"{object_type!r} is not a routable object type") from None


def routable_for(instance: models.Model) -> Routable:
    return routable(instance._meta.label_lower)


def routables() -> list[Routable]:
    return sorted(_routables.values(), key=lambda spec: spec.label)
