"""The strategies: each ranks the members who are available, best first.

A strategy never writes; the engine tries the ranked members in order under row locks
(``SKIP LOCKED``), so when a concurrent worker holds the first choice the next one is taken
instead of waiting. Strategies that exclude members (skills, territory) say why, for the log.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patron.routing.choices import SkipReason, Strategy


@dataclass
class Candidate:
    """One pool member as the engine sees it for one decision."""

    member_id: int
    user_id: int | None
    queue_id: int | None
    name: str
    position: int
    weight: int
    open_items: int
    assigned_today: int  # already reset to 0 when the last assignment was on another local day
    max_open_items: int | None
    max_items_per_day: int | None
    current_weight: int
    last_assigned_at: datetime.datetime | None
    skills: dict[tuple[str, str], int] = field(default_factory=dict)
    outcome: str = ""
    reason: str = ""
    detail: str = ""

    def skip(self, reason: SkipReason, detail: str = "") -> None:
        self.outcome, self.reason, self.detail = "skipped", reason.value, detail

    def full_reason(self) -> tuple[SkipReason, str] | None:
        if self.max_open_items is not None and self.open_items >= self.max_open_items:
            return SkipReason.FULL_OPEN, f"{self.open_items} of {self.max_open_items} open"
        if self.max_items_per_day is not None and self.assigned_today >= self.max_items_per_day:
            return SkipReason.FULL_DAY, f"{self.assigned_today} of {self.max_items_per_day} today"
        return None

    def log_entry(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "user_id": self.user_id,
            "queue_id": self.queue_id,
            "name": self.name,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Context:
    """What a strategy may read besides the members."""

    last_position: int
    attributes: Mapping[str, Any]
    required_skills: Sequence[Mapping[str, Any]]
    relaxed: bool


Ranker = Callable[[list[Candidate], Context], list[Candidate]]

_NEVER = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def by_position(members: list[Candidate]) -> list[Candidate]:
    return sorted(members, key=lambda c: (c.position, c.member_id))


def round_robin(members: list[Candidate], context: Context) -> list[Candidate]:
    """The member after the pointer (the last one assigned), wrapping round."""
    ordered = by_position(members)
    after = [c for c in ordered if c.position > context.last_position]
    before = [c for c in ordered if c.position <= context.last_position]
    return after + before


def weighted_round_robin(members: list[Candidate], context: Context) -> list[Candidate]:
    """Smooth weighted round robin (as nginx does): every turn each member gains its weight,
    the highest running weight wins and gives back the total, so weights 3:1 go A A B A
    rather than A A A B."""
    return sorted(
        members,
        key=lambda c: (-(c.current_weight + c.weight), c.position, c.member_id),
    )


def least_busy(members: list[Candidate], context: Context) -> list[Candidate]:
    """Fewest open items; on a tie the one who waited longest since the last assignment."""
    return sorted(
        members,
        key=lambda c: (c.open_items, c.last_assigned_at or _NEVER, c.position, c.member_id),
    )


def first_available(members: list[Candidate], context: Context) -> list[Candidate]:
    return by_position(members)


def skills_based(members: list[Candidate], context: Context) -> list[Candidate]:
    """Members holding every required skill (at the minimum level unless relaxed), the most
    skilled first, then the least busy."""
    qualified: list[tuple[int, Candidate]] = []
    for candidate in members:
        total = 0
        for skill in context.required_skills:
            level = candidate.skills.get((skill["kind"], skill["value"].casefold()))
            wanted = int(skill.get("min_level", 1))
            if level is None:
                candidate.skip(SkipReason.MISSING_SKILL, f"no {skill['kind']} {skill['value']}")
                break
            if level < wanted and not context.relaxed:
                candidate.skip(
                    SkipReason.MISSING_SKILL,
                    f"{skill['kind']} {skill['value']} at level {level}, needs {wanted}",
                )
                break
            total += level
        else:
            qualified.append((total, candidate))
    qualified.sort(
        key=lambda pair: (
            -pair[0],
            pair[1].open_items,
            pair[1].last_assigned_at or _NEVER,
            pair[1].position,
        )
    )
    return [candidate for _total, candidate in qualified]


def territory_match(members: list[Candidate], context: Context) -> list[Candidate]:
    """Only members of the item's territories (users), the least busy first."""
    territory = {int(uid) for uid in context.attributes.get("territory_user_ids") or []}
    inside: list[Candidate] = []
    for candidate in members:
        if candidate.user_id is not None and candidate.user_id in territory:
            inside.append(candidate)
        else:
            candidate.skip(SkipReason.NOT_IN_TERRITORY)
    return least_busy(inside, context)


def owner_affinity(members: list[Candidate], context: Context) -> list[Candidate]:
    """The existing owner (e.g. of the matched account) first when available, then round
    robin over the others."""
    affinity = context.attributes.get("affinity_user_id")
    ordered = round_robin(members, context)
    first = [c for c in ordered if affinity is not None and c.user_id == int(affinity)]
    return first + [c for c in ordered if c not in first]


RANKERS: dict[str, Ranker] = {
    Strategy.ROUND_ROBIN: round_robin,
    Strategy.WEIGHTED_ROUND_ROBIN: weighted_round_robin,
    Strategy.LEAST_BUSY: least_busy,
    Strategy.SKILLS: skills_based,
    Strategy.TERRITORY: territory_match,
    Strategy.OWNER_AFFINITY: owner_affinity,
    Strategy.FIRST_AVAILABLE: first_available,
}
# Strategies whose state spans the pool (the pointer, every member's running weight): the
# engine locks the pool row for them, so two workers never read the same pointer.
POOL_STATE_STRATEGIES = frozenset(
    {Strategy.ROUND_ROBIN, Strategy.WEIGHTED_ROUND_ROBIN, Strategy.OWNER_AFFINITY}
)


def rank(strategy: str, members: list[Candidate], context: Context) -> list[Candidate]:
    return RANKERS[strategy](members, context)
