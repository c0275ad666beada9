"""The routing engine's write path: routing, rerouting, manual reassignment, releasing, the
waiting queue, and the administrators' configuration of pools, members, queues and rules.

Locking order, the same everywhere so two workers never wait on each other in a circle:
the item's ``RoutedItem`` row, then the pool row (only where the pool holds state: the
round-robin pointer, the weighted running weights, or when two members' counters change),
then member rows. Candidate members are locked with ``SKIP LOCKED`` one at a time in the
strategy's order, so a member another worker is assigning to is passed over rather than
waited for, and capacity is checked again under the lock before it is taken with an
``F()`` update. On SQLite ``select_for_update`` is a no-op and ``BEGIN IMMEDIATE``
serialises writers, so the same code is safe there too.
"""

from __future__ import annotations

import datetime
import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Max, Model, Value, When
from django.utils import timezone

from patron.core import events, jobs
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.visibility import can_access, require_admin
from patron.routing import availability as hours
from patron.routing.choices import DecisionKind, SkillKind, SkipReason, Strategy
from patron.routing.conditions import (
    conditions_hold,
    validate_conditions,
    validate_required_skills,
)
from patron.routing.models import (
    AgentAvailability,
    AssignmentDecision,
    AssignmentRule,
    MemberSkill,
    Pool,
    PoolMember,
    RoutedItem,
    RoutingQueue,
)
from patron.routing.registry import Routable, RoutingTarget, routable, routable_for
from patron.routing.strategies import POOL_STATE_STRATEGIES, Candidate, Context, rank
from patron.users.models import User

Errors = dict[str, list[str]]
logger = logging.getLogger(__name__)

# Strategies whose choice does not depend on the item: when nobody fits one waiting item,
# nobody fits the next one either, so the waiting run moves on to the next pool.
ITEM_INDEPENDENT_STRATEGIES = frozenset(
    {
        Strategy.ROUND_ROBIN,
        Strategy.WEIGHTED_ROUND_ROBIN,
        Strategy.LEAST_BUSY,
        Strategy.FIRST_AVAILABLE,
    }
)

ADMIN_ONLY = "Only administrators change the routing configuration."
MAX_REASON_LENGTH = 1000
# Waiting items assigned per transaction: the chunk's log rows and assignment rows are
# written with one statement each.
WAITING_CHUNK = 20
# Seconds to pause before looking again at members another worker holds locked.
BUSY_RETRY_PAUSES = (0.005, 0.02, 0.05)


@dataclass(frozen=True)
class RoutingOutcome:
    target: RoutingTarget | None
    queued: bool
    decision: AssignmentDecision


# --- reading members -----------------------------------------------------------------------


def assigned_today(member: PoolMember, now: datetime.datetime | None = None) -> int:
    """Items the member got on their own local today (the daily counter resets by date)."""
    today = hours.local_date(_member_zone(member), now or timezone.now())
    return member.assigned_today if member.assigned_on == today else 0


def _member_name(member: PoolMember) -> str:
    if member.user_id is not None and member.user is not None:
        return member.user.full_name or member.user.email
    return member.queue.name if member.queue is not None else f"member {member.pk}"


def _member_zone(member: PoolMember) -> str:
    user = member.user if member.user_id is not None else None
    return user.time_zone if user is not None else settings.TIME_ZONE


def load_members(pool: Pool, *, with_skills: bool) -> list[PoolMember]:
    """Every member of ``pool`` with what the availability checks read, in one or two queries."""
    queryset = PoolMember.objects.filter(pool=pool).select_related(
        "user", "user__routing_availability", "queue"
    )
    if with_skills:
        queryset = queryset.prefetch_related("skills")
    return list(queryset.order_by("position", "id"))


@dataclass(frozen=True)
class _MemberFacts:
    """What does not change during one decision (or one waiting-run chunk) about a member."""

    name: str
    today: datetime.date
    skills: dict[tuple[str, str], int]
    availability_skip: tuple[SkipReason, str] | None


def _facts(
    member: PoolMember,
    now: datetime.datetime,
    *,
    with_skills: bool,
    exclude_user_ids: frozenset[int] = frozenset(),
) -> _MemberFacts:
    return _MemberFacts(
        name=_member_name(member),
        today=hours.local_date(_member_zone(member), now),
        skills=(
            {(s.kind, s.value.casefold()): s.level for s in member.skills.all()}
            if with_skills
            else {}
        ),
        availability_skip=_availability_skip(member, now, exclude_user_ids),
    )


def _candidate(member: PoolMember, facts: _MemberFacts) -> Candidate:
    return Candidate(
        member_id=member.pk,
        user_id=member.user_id,
        queue_id=member.queue_id,
        name=facts.name,
        position=member.position,
        weight=member.weight,
        open_items=member.open_items,
        assigned_today=member.assigned_today if member.assigned_on == facts.today else 0,
        max_open_items=member.max_open_items,
        max_items_per_day=member.max_items_per_day,
        current_weight=member.current_weight,
        last_assigned_at=member.last_assigned_at,
        skills=facts.skills,
    )


def _availability_skip(
    member: PoolMember, now: datetime.datetime, exclude_user_ids: frozenset[int]
) -> tuple[SkipReason, str] | None:
    """Why ``member`` cannot take an item now, before looking at capacity."""
    if member.user_id is not None and member.user_id in exclude_user_ids:
        return SkipReason.EXCLUDED, ""
    if member.user_id is not None:
        user = member.user
        if user is None or not user.is_active:
            return SkipReason.INACTIVE, ""
    elif member.queue is None or not member.queue.is_active:
        return SkipReason.INACTIVE, "queue is inactive"
    if member.is_paused:
        return SkipReason.PAUSED, ""
    if member.user_id is None:
        # Queues take items at any hour: someone in the team picks them up later.
        return None
    state = getattr(member.user, "routing_availability", None)
    if state is None:
        return None
    if hours.is_away(is_away_flag=state.is_away, away_until=state.away_until, at=now):
        until = state.away_until
        return SkipReason.AWAY, f"until {until.isoformat(timespec='minutes')}" if until else ""
    assert member.user is not None
    if not hours.is_working(state.working_hours, member.user.time_zone, now):
        local = now.astimezone(hours.zone(member.user.time_zone))
        return SkipReason.OFF_HOURS, f"{local:%a %H:%M} {member.user.time_zone}"
    return None


# --- one decision --------------------------------------------------------------------------


@dataclass
class _Choice:
    chosen: Candidate | None
    candidates: list[Candidate]
    relaxed: bool
    # Nobody was chosen only because other workers held the members who fit.
    contended: bool = False


@dataclass
class _Batch:
    """Writes a waiting run's chunk makes once at its end: one statement each instead of
    one per item (the chunk is one transaction, so nothing is seen half-written)."""

    decisions: list[AssignmentDecision] = field(default_factory=list)
    facts: dict[int, _MemberFacts] = field(default_factory=dict)
    assigned: list[RoutedItem] = field(default_factory=list)
    weights: dict[int, PoolMember] = field(default_factory=dict)
    pointer_moved: bool = False
    contended: bool = False

    def flush(self, pool: Pool, now: datetime.datetime) -> None:
        if self.assigned:
            # A waiting run changes only the assignment (pool, rule and skills stay).
            stamp = connection.ops.adapt_datetimefield_value(now)
            _update_by_id(
                RoutedItem._meta.db_table,
                {
                    column: {r.pk: getattr(r, column) for r in self.assigned}
                    for column in ("member_id", "user_id", "queue_id")
                },
                {"waiting_since": None, "assigned_at": stamp, "updated_at": stamp},
            )
        if self.decisions:
            _insert_decisions(self.decisions)
        if self.weights:
            _update_by_id(
                PoolMember._meta.db_table,
                {"current_weight": {pk: m.current_weight for pk, m in self.weights.items()}},
                {},
            )
        if self.pointer_moved:
            Pool.objects.filter(pk=pool.pk).update(last_position=pool.last_position)


def _insert_decisions(decisions: list[AssignmentDecision]) -> None:
    """One ``INSERT ... VALUES (...), (...) RETURNING id`` for a chunk's decision log.

    ``bulk_create`` on PostgreSQL sends the rows as one array per column (``UNNEST``), and
    psycopg escapes every quote of every member list in Python to build the ``jsonb[]``
    literal: about 2 ms a decision for 50 members, more than the rest of the decision. Here
    each value is its own parameter, adapted by the field as a single ``save()`` would.
    """
    fields = [f for f in AssignmentDecision._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    table = quote(AssignmentDecision._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    rows = ", ".join([row] * len(decisions))
    # Only quoted identifiers and placeholders are formatted in; every value is a parameter.
    statement = f"INSERT INTO {table} ({columns}) VALUES {rows} RETURNING {quote('id')}"  # noqa: S608
    params = [
        f.get_db_prep_save(f.pre_save(decision, True), connection)
        for decision in decisions
        for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        ids = [pk for (pk,) in cursor.fetchall()]
    for decision, pk in zip(decisions, ids, strict=True):
        decision.pk = pk
        decision._state.adding = False
        decision._state.db = connection.alias


def _update_by_id(
    table: str, per_row: Mapping[str, Mapping[int, Any]], same: Mapping[str, Any]
) -> None:
    """One ``UPDATE ... SET col = CASE id WHEN ... END WHERE id IN (...)`` for many rows.

    Django's ``bulk_update`` builds the same statement through expressions, which cost more
    to compile than the whole database round trip; table and column names here are the
    model's own, every value is a parameter.
    """
    ids = sorted({pk for values in per_row.values() for pk in values})
    if not ids:
        return
    quote = connection.ops.quote_name
    assignments: list[str] = []
    params: list[Any] = []
    for column, values in per_row.items():
        whens = " ".join("WHEN %s THEN CAST(%s AS BIGINT)" for _pk in values)
        assignments.append(f"{quote(column)} = CASE {quote('id')} {whens} END")
        for pk, value in values.items():
            params.extend([pk, value])
    for column, value in same.items():
        assignments.append(f"{quote(column)} = %s")
        params.append(value)
    marks = ", ".join("%s" for _pk in ids)
    template = "UPDATE {table} SET {sets} WHERE {id} IN ({marks})"
    statement = template.format(
        table=quote(table), sets=", ".join(assignments), id=quote("id"), marks=marks
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, *ids])


def _advance_pool_state(
    pool: Pool,
    strategy: str,
    chosen: Candidate,
    available: list[Candidate],
    members: Mapping[int, PoolMember],
    affinity_user_id: Any,
    batch: _Batch | None,
) -> None:
    """Move the round-robin pointer or the running weights (written at once, or at the end
    of a waiting run's chunk, which holds the pool row for its whole transaction)."""
    if strategy == Strategy.WEIGHTED_ROUND_ROBIN:
        total = sum(c.weight for c in available)
        for candidate in available:
            members[candidate.member_id].current_weight += candidate.weight
        members[chosen.member_id].current_weight -= total
        if batch is not None:
            batch.weights.update({c.member_id: members[c.member_id] for c in available})
            return
        ids = [c.member_id for c in available]
        PoolMember.objects.filter(pk__in=ids).update(
            current_weight=F("current_weight") + F("weight")
        )
        PoolMember.objects.filter(pk=chosen.member_id).update(
            current_weight=F("current_weight") - total
        )
    elif strategy == Strategy.ROUND_ROBIN or (
        strategy == Strategy.OWNER_AFFINITY
        and (affinity_user_id is None or chosen.user_id != int(affinity_user_id))
    ):
        pool.last_position = chosen.position
        if batch is not None:
            batch.pointer_moved = True
        else:
            Pool.objects.filter(pk=pool.pk).update(last_position=chosen.position)


def _choose(
    *,
    pool: Pool,
    strategy: str,
    members: list[PoolMember],
    required_skills: Sequence[Mapping[str, Any]],
    waiting_since: datetime.datetime | None,
    attributes: Mapping[str, Any],
    exclude_user_ids: frozenset[int],
    now: datetime.datetime,
    batch: _Batch | None = None,
) -> _Choice:
    """Rank the available members and take the first whose row can be locked and who still
    has capacity under that lock."""
    with_skills = strategy == Strategy.SKILLS
    relaxed = bool(
        with_skills
        and required_skills
        and pool.relax_skills_after_minutes is not None
        and waiting_since is not None
        and now - waiting_since >= datetime.timedelta(minutes=pool.relax_skills_after_minutes)
    )
    by_id = {member.pk: member for member in members}
    candidates: list[Candidate] = []
    available: list[Candidate] = []
    for member in members:
        facts = batch.facts.get(member.pk) if batch is not None else None
        if facts is None:
            facts = _facts(member, now, with_skills=with_skills, exclude_user_ids=exclude_user_ids)
            if batch is not None:
                batch.facts[member.pk] = facts
        candidate = _candidate(member, facts)
        candidates.append(candidate)
        skip = facts.availability_skip or candidate.full_reason()
        if skip:
            candidate.skip(*skip)
        else:
            available.append(candidate)
    context = Context(
        last_position=pool.last_position,
        attributes=attributes,
        required_skills=required_skills,
        relaxed=relaxed,
    )
    chosen: Candidate | None = None
    busy: list[Candidate] = []
    for candidate in rank(strategy, available, context):
        taken = _try_take(candidate, by_id[candidate.member_id], now)
        if taken is None:
            busy.append(candidate)
        elif taken:
            chosen = candidate
            break
    for pause in BUSY_RETRY_PAUSES:
        if chosen is not None or not busy:
            break
        # Everyone who fits is being given an item by another worker this instant; those
        # transactions are short, so look again shortly instead of making the item wait.
        # Never a blocking lock on a member: a worker holding a member row it rejected
        # could otherwise wait in a circle with one holding the pool row.
        time.sleep(pause)
        retry, busy = busy, []
        for candidate in retry:
            taken = _try_take(candidate, by_id[candidate.member_id], now)
            if taken is None:
                busy.append(candidate)
            elif taken:
                chosen = candidate
                break
    for candidate in available:
        if not candidate.outcome:
            candidate.outcome = "eligible"
    if chosen is not None:
        _advance_pool_state(
            pool, strategy, chosen, available, by_id, attributes.get("affinity_user_id"), batch
        )
    return _Choice(chosen=chosen, candidates=candidates, relaxed=relaxed, contended=bool(busy))


@functools.cache
def _take_statement(vendor_skips_locked: bool) -> str:
    """The one statement that takes a unit of a member's capacity (built once per process).

    ``UPDATE ... WHERE id IN (SELECT id ... FOR UPDATE SKIP LOCKED) AND <not paused, below
    capacity>``: the subquery locks the row or skips it when another worker holds it, and
    PostgreSQL checks the conditions again on the row as locked, so two workers can never
    both take a member's last unit. Written as SQL because it runs once per decision and
    compiling the equivalent F()/Case expression cost more than the database work.
    """
    table = connection.ops.quote_name(PoolMember._meta.db_table)
    lock = " FOR UPDATE SKIP LOCKED" if vendor_skips_locked else ""
    # Only the quoted table name and a constant are interpolated; values are parameters.
    statement = (
        "UPDATE {table} SET open_items = open_items + 1, "
        "assigned_today = CASE WHEN assigned_on = %s THEN assigned_today + 1 ELSE 1 END, "
        "assigned_on = %s, last_assigned_at = %s "
        "WHERE id IN (SELECT id FROM {table} WHERE id = %s{lock}) "
        "AND NOT is_paused "
        "AND (max_open_items IS NULL OR open_items < max_open_items) "
        "AND (max_items_per_day IS NULL OR assigned_on IS NULL OR assigned_on <> %s "
        "OR assigned_today < max_items_per_day)"
    )
    return statement.format(table=table, lock=lock)


def _try_take(candidate: Candidate, member: PoolMember, now: datetime.datetime) -> bool | None:
    """Take one unit of the member's capacity: True when taken, False when the member turned
    out paused or full, None when another worker holds the member's row."""
    today = hours.local_date(_member_zone(member), now)
    day = connection.ops.adapt_datefield_value(today)
    statement = _take_statement(connection.features.has_select_for_update_skip_locked)
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [day, day, connection.ops.adapt_datetimefield_value(now), candidate.member_id, day],
        )
        taken = cursor.rowcount == 1
    if taken:
        # Keep the in-memory copy in step: a waiting run reuses it for the next item.
        member.open_items = candidate.open_items + 1
        member.assigned_today = candidate.assigned_today + 1
        member.assigned_on = today
        member.last_assigned_at = now
        candidate.outcome, candidate.detail = "chosen", ""
        return True
    # Not taken: paused or full since the snapshot, or another worker holds the row.
    current = (
        PoolMember.objects.filter(pk=candidate.member_id)
        .values("is_paused", "open_items", "assigned_today", "assigned_on")
        .first()
    )
    if current is None:
        candidate.skip(SkipReason.INACTIVE, "removed from the pool")
        return False
    member.is_paused = current["is_paused"]
    member.open_items = current["open_items"]
    member.assigned_today = current["assigned_today"]
    member.assigned_on = current["assigned_on"]
    candidate.open_items = member.open_items
    candidate.assigned_today = member.assigned_today if member.assigned_on == today else 0
    if member.is_paused:
        candidate.skip(SkipReason.PAUSED)
        return False
    full = candidate.full_reason()
    if full:
        candidate.skip(*full)
        return False
    candidate.detail = "being assigned another item at the same moment"
    return None


def _skipped_summary(candidates: Iterable[Candidate]) -> str:
    labels = dict(SkipReason.choices)
    skipped = [
        f"{c.name} ({labels[c.reason].lower()})" for c in candidates if c.outcome == "skipped"
    ]
    return f" Skipped: {', '.join(skipped)}." if skipped else ""


def _target_of(routed: RoutedItem) -> RoutingTarget | None:
    if routed.user_id is None and routed.queue_id is None:
        return None
    return RoutingTarget(user_id=routed.user_id, queue_id=routed.queue_id)


def _log(
    *,
    routed: RoutedItem,
    kind: str,
    reason: str,
    candidates: Iterable[Candidate] = (),
    previous: tuple[int | None, int | None] = (None, None),
    actor: User | None = None,
    now: datetime.datetime,
    batch: _Batch | None = None,
) -> AssignmentDecision:
    decision = AssignmentDecision(
        content_type_id=routed.content_type_id,
        object_id=routed.object_id,
        kind=kind,
        pool_id=routed.pool_id,
        rule_id=routed.rule_id,
        strategy=routed.strategy,
        assigned_user_id=routed.user_id,
        assigned_queue_id=routed.queue_id,
        previous_user_id=previous[0],
        previous_queue_id=previous[1],
        considered=[c.log_entry() for c in candidates],
        reason=reason,
        actor=actor,
        created_at=now,
    )
    if batch is not None:
        batch.decisions.append(decision)
    else:
        decision.save()
    return decision


def _announce(routed: RoutedItem, kind: str, object_type: str) -> None:
    events.emit(
        "routing.assigned",
        object_type=object_type,
        object_id=routed.object_id,
        user_id=routed.user_id,
        queue_id=routed.queue_id,
        kind=kind,
    )


def _release_member(member_id: int | None) -> None:
    if member_id is not None:
        PoolMember.objects.filter(pk=member_id, open_items__gt=0).update(
            open_items=F("open_items") - 1
        )


def _assign_in_pool(
    *,
    routed: RoutedItem,
    item: Model,
    spec: Routable,
    attributes: Mapping[str, Any],
    pool: Pool,
    kind: str,
    actor: User | None = None,
    exclude_user_ids: frozenset[int] = frozenset(),
    members: list[PoolMember] | None = None,
    when_nobody: str,
    extra_reason: str = "",
    batch: _Batch | None = None,
) -> RoutingOutcome | None:
    """Assign ``routed`` to a member of ``pool``; when nobody fits, ``when_nobody`` decides:
    "wait" (the item waits in the pool's queue), "keep" (stays with its assignee) or
    "stay" (already waiting: nothing changes and nothing is logged). With ``batch`` (a
    waiting run's chunk, which locked the pool row itself) the writes are deferred."""
    now = timezone.now()
    strategy = routed.strategy or pool.strategy
    if batch is None and (
        strategy in POOL_STATE_STRATEGIES or exclude_user_ids or kind == DecisionKind.DEADLINE
    ):
        # Fresh pointer and running weights; rerouting also touches two members' counters.
        pool = Pool.objects.select_for_update().get(pk=pool.pk)
    if members is None:
        members = load_members(pool, with_skills=strategy == Strategy.SKILLS)
    choice = _choose(
        pool=pool,
        strategy=strategy,
        members=members,
        required_skills=routed.required_skills,
        waiting_since=routed.waiting_since,
        attributes=attributes,
        exclude_user_ids=exclude_user_ids,
        now=now,
        batch=batch,
    )
    previous = (routed.user_id, routed.queue_id)
    strategy_label = Strategy(strategy).label.lower()
    where = f"pool “{pool.name}” ({strategy_label})"
    if routed.rule is not None:
        where = f"rule “{routed.rule.name}”, {where}"
    relaxed_note = ""
    if choice.relaxed:
        relaxed_note = (
            f" Minimum skill levels were dropped after waiting "
            f"{pool.relax_skills_after_minutes} minutes."
        )
    chosen = choice.chosen
    if chosen is None:
        if when_nobody == "stay":
            if batch is not None:
                batch.contended = choice.contended
            return None
        if when_nobody == "keep":
            reason = (
                f"{extra_reason}Nobody else in {where} is available; the item stays where it is."
                + _skipped_summary(choice.candidates)
            )
            decision = _log(
                routed=routed,
                kind=kind,
                reason=reason,
                candidates=choice.candidates,
                previous=previous,
                now=now,
            )
            routed.save()
            return RoutingOutcome(target=_target_of(routed), queued=False, decision=decision)
        routed.member = None
        routed.user = None
        routed.queue_id = pool.queue_id
        routed.waiting_since = routed.waiting_since or now
        routed.is_open = True
        routed.save()
        queue_text = (
            f"waits in the queue “{pool.queue.name}”" if pool.queue is not None else "waits"
        )
        reason = (
            f"{extra_reason}Nobody in {where} is available; the item {queue_text} and is "
            "assigned as soon as someone is." + _skipped_summary(choice.candidates)
        )
        target = _target_of(routed)
        if target is not None:
            spec.apply(item, target, reason)
        decision = _log(
            routed=routed,
            kind=DecisionKind.QUEUED,
            reason=reason,
            candidates=choice.candidates,
            previous=previous,
            actor=actor,
            now=now,
        )
        _announce(routed, DecisionKind.QUEUED, spec.object_type)
        if choice.contended:
            _assign_waiting_soon(pool.pk)
        return RoutingOutcome(target=target, queued=True, decision=decision)
    waited = routed.waiting_since
    if kind == DecisionKind.AUTOMATIC and waited is not None:
        kind = DecisionKind.FROM_QUEUE
    routed.member_id = chosen.member_id
    routed.user_id = chosen.user_id
    routed.queue_id = chosen.queue_id
    routed.waiting_since = None
    routed.is_open = True
    routed.assigned_at = now
    if batch is not None:
        batch.assigned.append(routed)
    else:
        routed.save()
    target = RoutingTarget(user_id=chosen.user_id, queue_id=chosen.queue_id)
    waited_note = ""
    if waited is not None:
        minutes = int((now - waited).total_seconds() // 60)
        waited_note = f" after waiting {minutes} min"
    reason = (
        f"{extra_reason}Assigned to {chosen.name} by {where}{waited_note}."
        + relaxed_note
        + _skipped_summary(choice.candidates)
    )
    spec.apply(item, target, reason)
    decision = _log(
        routed=routed,
        kind=kind,
        reason=reason,
        candidates=choice.candidates,
        previous=previous,
        actor=actor,
        now=now,
        batch=batch,
    )
    _announce(routed, kind, spec.object_type)
    return RoutingOutcome(target=target, queued=False, decision=decision)


# --- the contract ----------------------------------------------------------------------------


def _content_type(spec: Routable) -> ContentType:
    return ContentType.objects.get_for_model(spec.model, for_concrete_model=False)


def _locked_routed_item(spec: Routable, item: Model) -> RoutedItem:
    """The item's one ``RoutedItem`` row, created if new, locked until the transaction ends.

    ``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR UPDATE``: concurrent first
    routings of one item meet at the unique constraint, the second waits for the first to
    commit and then reads (and locks) its row.
    """
    content_type = _content_type(spec)
    RoutedItem.objects.bulk_create(
        [RoutedItem(content_type=content_type, object_id=item.pk)], ignore_conflicts=True
    )
    return (
        RoutedItem.objects.select_for_update(of=("self",))
        .select_related("rule")
        .get(content_type=content_type, object_id=item.pk)
    )


def _has_open_assignment(routed: RoutedItem) -> bool:
    return routed.is_open and (
        routed.user_id is not None
        or routed.queue_id is not None
        or routed.waiting_since is not None
    )


def matching_rule(object_type: str, attributes: Mapping[str, Any]) -> AssignmentRule | None:
    """The first active rule (by position) of ``object_type`` whose conditions hold."""
    rules = (
        AssignmentRule.objects.filter(object_type=object_type, is_active=True, pool__is_active=True)
        .select_related("pool", "pool__queue")
        .order_by("position", "id")
    )
    for rule in rules:
        if conditions_hold(rule.conditions or {}, attributes):
            return rule
    return None


def _route_by_rules(
    *,
    routed: RoutedItem,
    item: Model,
    spec: Routable,
    kind: str,
    actor: User | None,
    exclude_user_ids: frozenset[int] = frozenset(),
    when_nobody: str,
    extra_reason: str = "",
) -> RoutingOutcome:
    attributes = spec.attributes(item)
    rule = matching_rule(spec.object_type, attributes)
    now = timezone.now()
    if rule is None:
        decision = _log(
            routed=routed,
            kind=DecisionKind.NO_RULE,
            reason=f"{extra_reason}No active assignment rule for {spec.label.lower()} matched.",
            previous=(routed.user_id, routed.queue_id),
            actor=actor,
            now=now,
        )
        return RoutingOutcome(target=None, queued=False, decision=decision)
    routed.pool = rule.pool
    routed.rule = rule
    routed.strategy = rule.strategy or rule.pool.strategy
    routed.required_skills = rule.required_skills or []
    outcome = _assign_in_pool(
        routed=routed,
        item=item,
        spec=spec,
        attributes=attributes,
        pool=rule.pool,
        kind=kind,
        actor=actor,
        exclude_user_ids=exclude_user_ids,
        when_nobody=when_nobody,
        extra_reason=extra_reason,
    )
    assert outcome is not None  # "wait" and "keep" always decide
    return outcome


def route_item(*, item: Model, actor: User | None = None) -> RoutingOutcome:
    """Route a new item by its type's rules (see the module docstring for the locking).

    Idempotent: an item that already has an open assignment (or waits) is left alone and
    its latest decision returned, so a retried task never assigns twice.
    """
    spec = routable_for(item)
    with transaction.atomic():
        routed = _locked_routed_item(spec, item)
        if _has_open_assignment(routed):
            latest = (
                AssignmentDecision.objects.filter(
                    content_type_id=routed.content_type_id, object_id=routed.object_id
                )
                .order_by("-created_at", "-id")
                .first()
            )
            if latest is not None:
                return RoutingOutcome(
                    target=_target_of(routed),
                    queued=routed.waiting_since is not None,
                    decision=latest,
                )
        routed.waiting_since = None
        return _route_by_rules(
            routed=routed,
            item=item,
            spec=spec,
            kind=DecisionKind.AUTOMATIC,
            actor=actor,
            when_nobody="wait",
        )


def reroute_item(*, item: Model, reason: str, kind: str = DecisionKind.DEADLINE) -> RoutingOutcome:
    """Route again to someone other than the current assignee (a missed first-response
    deadline). When nobody else is available the item stays with its assignee."""
    spec = routable_for(item)
    with transaction.atomic():
        routed = _locked_routed_item(spec, item)
        excluded = frozenset({routed.user_id}) if routed.user_id is not None else frozenset()
        previous_member = routed.member_id
        outcome = _route_by_rules(
            routed=routed,
            item=item,
            spec=spec,
            kind=kind,
            actor=None,
            exclude_user_ids=excluded,
            when_nobody="keep",
            extra_reason=f"{reason.strip()} " if reason.strip() else "",
        )
        if routed.member_id != previous_member:
            _release_member(previous_member)
        return outcome


def _validate_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed(
            "Say why the item is reassigned.",
            errors={"reason": ["A reason is required for a manual reassignment."]},
        )
    if len(text) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            "The reason is too long.",
            errors={"reason": [f"Use at most {MAX_REASON_LENGTH} characters."]},
        )
    return text


def may_reassign(user: User, item: Model) -> bool:
    """Edit access to the item (administrators always)."""
    if getattr(user, "is_admin", False):
        return True
    if isinstance(item, BusinessRecord):
        return can_access(user, item, Action.UPDATE)
    return False


def reassign_item(
    *,
    item: Model,
    actor: User,
    reason: str,
    user: User | None = None,
    queue: RoutingQueue | None = None,
) -> AssignmentDecision:
    """Move an item to ``user`` or ``queue`` by hand; the reason is required and logged.

    Capacity is not enforced (a person decided), but the counters follow the item.
    """
    text = _validate_reason(reason)
    if (user is None) == (queue is None):
        raise ValidationFailed(
            "Choose who gets the item.",
            errors={"user_id": ["Give a user or a queue, not both and not neither."]},
        )
    if user is not None and not user.is_active:
        raise ValidationFailed(
            "That user is inactive.", errors={"user_id": [f"{user} is inactive."]}
        )
    if queue is not None and not queue.is_active:
        raise ValidationFailed(
            "That queue is inactive.", errors={"queue_id": [f"“{queue}” is inactive."]}
        )
    if not may_reassign(actor, item):
        raise PermissionDenied("You need edit access to this item to reassign it.")
    spec = routable_for(item)
    now = timezone.now()
    with transaction.atomic():
        routed = _locked_routed_item(spec, item)
        previous = (routed.user_id, routed.queue_id)
        if routed.pool_id is not None:
            pool: Pool | None = Pool.objects.select_for_update().get(pk=routed.pool_id)
        else:
            pool = None
        new_member = None
        if pool is not None:
            members = PoolMember.objects.filter(pool=pool)
            new_member = (
                members.filter(user=user) if user is not None else members.filter(queue=queue)
            ).first()
        if new_member is None or new_member.pk != routed.member_id:
            _release_member(routed.member_id)
            if new_member is not None:
                today = hours.local_date(user.time_zone if user else settings.TIME_ZONE, now)
                PoolMember.objects.filter(pk=new_member.pk).update(
                    open_items=F("open_items") + 1,
                    assigned_today=Case(
                        When(assigned_on=today, then=F("assigned_today") + 1), default=Value(1)
                    ),
                    assigned_on=today,
                    last_assigned_at=now,
                )
        routed.member = new_member
        routed.user = user
        routed.queue = queue
        routed.is_open = True
        routed.assigned_at = now
        # Back in its pool's own queue, the item waits for the next available member.
        routed.waiting_since = (
            now if pool is not None and queue is not None and queue.pk == pool.queue_id else None
        )
        routed.save()
        target = RoutingTarget(
            user_id=user.pk if user else None, queue_id=queue.pk if queue else None
        )
        name = (user.full_name or user.email) if user is not None else f"the queue “{queue}”"
        logged = f"Reassigned to {name} by {actor.full_name or actor.email}: {text}"
        spec.apply(item, target, logged)
        decision = _log(
            routed=routed,
            kind=DecisionKind.MANUAL,
            reason=logged,
            previous=previous,
            actor=actor,
            now=now,
        )
        _announce(routed, DecisionKind.MANUAL, spec.object_type)
        if routed.waiting_since is not None and pool is not None:
            _assign_waiting_soon(pool.pk)
    return decision


def release_item(*, item: Model) -> None:
    """The item is closed: give its member's open capacity back; waiting items may now fit."""
    spec = routable_for(item)
    with transaction.atomic():
        routed = (
            RoutedItem.objects.select_for_update()
            .filter(content_type=_content_type(spec), object_id=item.pk)
            .first()
        )
        if routed is None or not routed.is_open:
            return
        _release_member(routed.member_id)
        freed_pool = routed.pool_id if routed.member_id is not None else None
        routed.is_open = False
        routed.waiting_since = None
        routed.save(update_fields=["is_open", "waiting_since", "updated_at"])
        if freed_pool is not None:
            _assign_waiting_soon(freed_pool)


def _assign_waiting_soon(pool_id: int | None) -> None:
    """After commit, ask a worker to assign the pool's waiting items (someone may fit now).

    With the broker down the request still succeeds: the every-minute sweep assigns them."""
    jobs.enqueue("routing.assign_waiting", pool_id)


def assign_waiting_items(*, pool: Pool | None = None, limit: int = 500) -> int:
    """Assign items waiting in pool queues to members who fit now, oldest first; returns how
    many were assigned. Items are taken in chunks of ``WAITING_CHUNK``, each chunk one
    transaction that locks its rows with ``SKIP LOCKED`` (so two runs at once share the work
    instead of queueing behind each other) and each item's member with its own ``SKIP
    LOCKED`` capacity check."""
    waiting = RoutedItem.objects.filter(
        waiting_since__isnull=False, is_open=True, pool__isnull=False, pool__is_active=True
    )
    if pool is not None:
        waiting = waiting.filter(pool=pool)
    rows = list(
        waiting.order_by("waiting_since", "id").values_list(
            "pk", "pool_id", "content_type_id", "object_id"
        )[:limit]
    )
    by_pool: dict[int, list[tuple[int, int, int]]] = {}
    for pk, pool_id, content_type_id, object_id in rows:
        by_pool.setdefault(pool_id, []).append((pk, content_type_id, object_id))
    pools = Pool.objects.select_related("queue").in_bulk(list(by_pool))
    assigned = 0
    for pool_id, entries in by_pool.items():
        assigned += _assign_waiting_in_pool(pools[pool_id], entries)
    return assigned


def _assign_waiting_in_pool(pool: Pool, entries: list[tuple[int, int, int]]) -> int:
    items: dict[tuple[int, int], Model] = {}
    specs: dict[int, Routable] = {}
    for content_type_id in {ct for _pk, ct, _obj in entries}:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        try:
            specs[content_type_id] = routable(model._meta.label_lower)
        except LookupError:
            continue
        ids = [obj for _pk, ct, obj in entries if ct == content_type_id]
        for pk, instance in model._base_manager.in_bulk(ids).items():
            items[(content_type_id, pk)] = instance
    assigned = 0
    for start in range(0, len(entries), WAITING_CHUNK):
        chunk = [pk for pk, _ct, _obj in entries[start : start + WAITING_CHUNK]]
        try:
            with transaction.atomic():
                done, stop = _assign_waiting_chunk(pool, chunk, items, specs)
        except Exception:
            # Something failed for one item (its app's apply, say) and the chunk was rolled
            # back: take the chunk's items one by one so the others are not held up.
            logger.exception("Assigning a chunk of waiting items of pool %s failed", pool.pk)
            done, stop = 0, False
            for routed_pk in chunk:
                try:
                    with transaction.atomic():
                        one, stop = _assign_waiting_chunk(pool, [routed_pk], items, specs)
                    done += one
                except Exception:
                    logger.exception("Could not assign waiting routed item %s", routed_pk)
                if stop:
                    break
        assigned += done
        if stop:
            break
    return assigned


def _assign_waiting_chunk(
    pool: Pool,
    routed_pks: list[int],
    items: Mapping[tuple[int, int], Model],
    specs: Mapping[int, Routable],
) -> tuple[int, bool]:
    """Assign the chunk's waiting items in one transaction; returns how many were assigned
    and whether the pool has nobody left (so the run moves on)."""
    rows = list(
        RoutedItem.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("rule")
        .filter(pk__in=routed_pks, waiting_since__isnull=False, is_open=True)
        .order_by("waiting_since", "id")
    )
    if not rows:
        return 0, False
    strategies = {row.strategy or pool.strategy for row in rows}
    if strategies & POOL_STATE_STRATEGIES:
        locked = Pool.objects.select_for_update().filter(pk=pool.pk).first()
        if locked is None:
            return 0, True
        pool.last_position = locked.last_position
    # Read under the pool lock, so the running weights and the pointer are current; the
    # skills only when a strategy ranks by them (one query fewer a chunk otherwise).
    members = load_members(pool, with_skills=Strategy.SKILLS in strategies)
    batch = _Batch()
    assigned = 0
    stop = False
    for routed in rows:
        item = items.get((routed.content_type_id, routed.object_id))
        spec = specs.get(routed.content_type_id)
        if item is None or spec is None:
            continue
        outcome = _assign_in_pool(
            routed=routed,
            item=item,
            spec=spec,
            attributes=spec.attributes(item),
            pool=pool,
            kind=DecisionKind.AUTOMATIC,
            members=members,
            when_nobody="stay",
            batch=batch,
        )
        if outcome is not None:
            assigned += 1
        elif (
            routed.strategy or pool.strategy
        ) in ITEM_INDEPENDENT_STRATEGIES and not batch.contended:
            stop = True
            break
    batch.flush(pool, timezone.now())
    return assigned, stop


# --- administration --------------------------------------------------------------------------


def _text_field(
    value: Any, errors: Errors, *, key: str, what: str, limit: int, required: bool
) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors[key] = [f"Give the {what}."]
    elif len(text) > limit:
        errors[key] = [f"Use at most {limit} characters."]
    return text


def _optional_count(value: Any, errors: Errors, *, key: str, minimum: int = 0) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if isinstance(value, bool) or number < minimum or number > 1_000_000:
        errors[key] = [f"Give a whole number from {minimum} to 1000000, or leave it empty."]
        return None
    return number


def _id(value: Any, errors: Errors, *, key: str) -> int:
    """An id from a form or API payload; 0 (no row has it) after recording a bad one."""
    return _optional_count(value, errors, key=key, minimum=1) or 0


def _strategy(value: Any, errors: Errors, *, blank_ok: bool) -> str:
    if blank_ok and value in (None, ""):
        return ""
    if value not in Strategy.values:
        errors["strategy"] = [f"Choose one of: {', '.join(Strategy.values)}."]
        return ""
    return str(value)


def _object_type(value: Any, errors: Errors) -> str:
    try:
        return routable(str(value)).object_type
    except LookupError:
        from patron.routing.registry import routables

        known = ", ".join(spec.object_type for spec in routables()) or "none registered"
        errors["object_type"] = [f"{value!r} cannot be routed; choose one of: {known}."]
        return str(value or "")


def _raise(errors: Errors, detail: str) -> None:
    if errors:
        raise ValidationFailed(detail, errors=errors)


def queue_save(
    *,
    user: Any,
    queue: RoutingQueue | None = None,
    name: Any,
    description: Any = "",
    is_active: bool = True,
    member_ids: Sequence[int] | None = None,
) -> RoutingQueue:
    """Create (``queue`` None) or change a queue; ``member_ids`` replaces its users."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    clean_name = _text_field(
        name, errors, key="name", what="queue a name", limit=150, required=True
    )
    clean_description = _text_field(
        description, errors, key="description", what="description", limit=300, required=False
    )
    others = RoutingQueue.objects.exclude(pk=queue.pk) if queue else RoutingQueue.objects.all()
    if clean_name and others.filter(name__iexact=clean_name).exists():
        errors["name"] = [f"There is already a queue called “{clean_name}”."]
    members: list[User] = []
    if member_ids is not None:
        wanted = set(member_ids)
        members = list(User.objects.filter(pk__in=wanted))
        missing = wanted - {u.pk for u in members}
        if missing:
            errors["member_ids"] = [f"No user with id {', '.join(map(str, sorted(missing)))}."]
    _raise(errors, "The queue was not saved.")
    with transaction.atomic():
        target = queue or RoutingQueue()
        target.name = clean_name
        target.description = clean_description
        target.is_active = bool(is_active)
        target.save()
        if member_ids is not None:
            target.members.set(members)
    return target


def queue_delete(*, user: Any, queue: RoutingQueue) -> None:
    require_admin(user, ADMIN_ONLY)
    if Pool.objects.filter(queue=queue).exists():
        raise ValidationFailed(
            f"“{queue}” is the waiting queue of a pool.",
            errors={"queue": ["Choose another waiting queue for those pools first."]},
        )
    queue.delete()


def pool_save(
    *,
    user: Any,
    pool: Pool | None = None,
    name: Any,
    object_type: Any,
    strategy: Any = Strategy.ROUND_ROBIN,
    description: Any = "",
    queue_id: Any = None,
    relax_skills_after_minutes: Any = None,
    is_active: bool = True,
) -> Pool:
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    clean_name = _text_field(name, errors, key="name", what="pool a name", limit=150, required=True)
    clean_description = _text_field(
        description, errors, key="description", what="description", limit=300, required=False
    )
    clean_type = _object_type(object_type, errors)
    clean_strategy = _strategy(strategy, errors, blank_ok=False)
    relax = _optional_count(
        relax_skills_after_minutes, errors, key="relax_skills_after_minutes", minimum=1
    )
    others = Pool.objects.exclude(pk=pool.pk) if pool else Pool.objects.all()
    if clean_name and others.filter(name__iexact=clean_name).exists():
        errors["name"] = [f"There is already a pool called “{clean_name}”."]
    queue = None
    if queue_id not in (None, ""):
        queue = RoutingQueue.objects.filter(pk=_id(queue_id, errors, key="queue_id")).first()
        if queue is None and "queue_id" not in errors:
            errors["queue_id"] = [f"There is no queue with id {queue_id}."]
    if pool is not None and clean_type not in ("", pool.object_type) and pool.rules.exists():
        errors["object_type"] = ["The pool's rules route another type; change them first."]
    _raise(errors, "The pool was not saved.")
    target = pool or Pool()
    target.name = clean_name
    target.description = clean_description
    target.object_type = clean_type
    target.strategy = clean_strategy
    target.queue = queue
    target.relax_skills_after_minutes = relax
    target.is_active = bool(is_active)
    target.save()
    return target


def pool_delete(*, user: Any, pool: Pool) -> None:
    require_admin(user, ADMIN_ONLY)
    if pool.rules.exists():
        raise ValidationFailed(
            f"Rules send items to “{pool}”.",
            errors={"pool": ["Delete or repoint its assignment rules first."]},
        )
    pool.delete()


def _member_settings(
    errors: Errors, *, weight: Any, max_open_items: Any, max_items_per_day: Any, position: Any
) -> dict[str, Any]:
    clean_weight = _optional_count(weight, errors, key="weight", minimum=1)
    if clean_weight is not None and clean_weight > 100:
        errors["weight"] = ["Give a weight from 1 to 100."]
    return {
        "weight": clean_weight if clean_weight is not None else 1,
        "max_open_items": _optional_count(max_open_items, errors, key="max_open_items"),
        "max_items_per_day": _optional_count(max_items_per_day, errors, key="max_items_per_day"),
        "position": _optional_count(position, errors, key="position"),
    }


def member_add(
    *,
    user: Any,
    pool: Pool,
    member_user_id: Any = None,
    member_queue_id: Any = None,
    weight: Any = 1,
    max_open_items: Any = None,
    max_items_per_day: Any = None,
    position: Any = None,
) -> PoolMember:
    """Add a user or a queue to ``pool`` (at the end unless ``position`` is given)."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    values = _member_settings(
        errors,
        weight=weight,
        max_open_items=max_open_items,
        max_items_per_day=max_items_per_day,
        position=position,
    )
    member_user = member_queue = None
    if (member_user_id in (None, "")) == (member_queue_id in (None, "")):
        errors["user_id"] = ["Give a user or a queue, not both and not neither."]
    elif member_user_id not in (None, ""):
        member_user = User.objects.filter(pk=_id(member_user_id, errors, key="user_id")).first()
        if member_user is None:
            errors["user_id"] = [f"There is no user with id {member_user_id}."]
        elif PoolMember.objects.filter(pool=pool, user=member_user).exists():
            errors["user_id"] = [f"{member_user} is already in this pool."]
    else:
        member_queue = RoutingQueue.objects.filter(
            pk=_id(member_queue_id, errors, key="queue_id")
        ).first()
        if member_queue is None:
            errors["queue_id"] = [f"There is no queue with id {member_queue_id}."]
        elif PoolMember.objects.filter(pool=pool, queue=member_queue).exists():
            errors["queue_id"] = [f"“{member_queue}” is already in this pool."]
    _raise(errors, "The member was not added.")
    if values["position"] is None:
        last = PoolMember.objects.filter(pool=pool).aggregate(top=Max("position"))["top"]
        values["position"] = 0 if last is None else last + 1
    try:
        with transaction.atomic():
            member = PoolMember.objects.create(
                pool=pool, user=member_user, queue=member_queue, **values
            )
    except IntegrityError:
        raise ValidationFailed(
            "The member was not added.", errors={"user_id": ["Already in this pool."]}
        ) from None
    _assign_waiting_soon(pool.pk)
    return member


def member_update(
    *,
    user: Any,
    member: PoolMember,
    weight: Any,
    max_open_items: Any,
    max_items_per_day: Any,
    position: Any = None,
) -> PoolMember:
    """Change weight, capacity and order. Counters are left alone (they are live)."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    values = _member_settings(
        errors,
        weight=weight,
        max_open_items=max_open_items,
        max_items_per_day=max_items_per_day,
        position=position,
    )
    _raise(errors, "The member was not saved.")
    if values["position"] is None:
        values["position"] = member.position
    with transaction.atomic():
        PoolMember.objects.filter(pk=member.pk).update(**values)
        _assign_waiting_soon(member.pool_id)
    member.refresh_from_db()
    return member


def member_remove(*, user: Any, member: PoolMember) -> None:
    require_admin(user, ADMIN_ONLY)
    member.delete()


def member_set_paused(*, user: Any, member: PoolMember, paused: bool) -> PoolMember:
    """Pause (no new items in this pool) or resume; resuming assigns waiting items."""
    require_admin(user, ADMIN_ONLY)
    with transaction.atomic():
        PoolMember.objects.filter(pk=member.pk).update(is_paused=bool(paused))
        if not paused:
            _assign_waiting_soon(member.pool_id)
    member.is_paused = bool(paused)
    return member


def skill_set(
    *, user: Any, member: PoolMember, kind: Any, value: Any, level: Any = 1
) -> MemberSkill:
    """Add a skill to a member or change its level."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    if kind not in SkillKind.values:
        errors["kind"] = [f"Choose one of: {', '.join(SkillKind.values)}."]
    clean_value = _text_field(
        value, errors, key="value", what="skill a value", limit=100, required=True
    )
    clean_level = _optional_count(level, errors, key="level", minimum=1)
    if clean_level is None or clean_level > 5:
        errors["level"] = ["Give a level from 1 (basic) to 5 (expert)."]
    _raise(errors, "The skill was not saved.")
    skill, _created = MemberSkill.objects.update_or_create(
        member=member, kind=kind, value=clean_value, defaults={"level": clean_level}
    )
    _assign_waiting_soon(member.pool_id)
    return skill


def skill_remove(*, user: Any, skill: MemberSkill) -> None:
    require_admin(user, ADMIN_ONLY)
    skill.delete()


def rule_save(
    *,
    user: Any,
    rule: AssignmentRule | None = None,
    object_type: Any,
    name: Any,
    pool_id: Any,
    conditions: Any = None,
    strategy: Any = "",
    required_skills: Any = None,
    is_active: bool = True,
    position: Any = None,
) -> AssignmentRule:
    """Create or change a rule; the conditions are checked against the type's fields."""
    require_admin(user, ADMIN_ONLY)
    errors: Errors = {}
    clean_name = _text_field(name, errors, key="name", what="rule a name", limit=150, required=True)
    clean_type = _object_type(object_type, errors)
    clean_strategy = _strategy(strategy, errors, blank_ok=True)
    fields: list[str] = []
    if "object_type" not in errors:
        fields = [key for key, _label in routable(clean_type).condition_fields]
    clean_conditions, condition_errors = validate_conditions(conditions, fields)
    if "object_type" not in errors:
        errors.update(condition_errors)
    clean_skills, skill_errors = validate_required_skills(required_skills)
    errors.update(skill_errors)
    order = _optional_count(position, errors, key="position")
    pool = None
    if pool_id in (None, ""):
        errors["pool_id"] = ["Choose the pool the matching items go to."]
    else:
        pool = Pool.objects.filter(pk=_id(pool_id, errors, key="pool_id")).first()
        if pool is None and "pool_id" not in errors:
            errors["pool_id"] = [f"There is no pool with id {pool_id}."]
        elif pool is not None and clean_type and pool.object_type != clean_type:
            errors["pool_id"] = [f"“{pool}” routes {pool.object_type}, not {clean_type}."]
    effective = clean_strategy or (pool.strategy if pool is not None else "")
    if effective == Strategy.SKILLS and not clean_skills:
        errors["required_skills"] = ["The skills-based strategy needs at least one skill."]
    _raise(errors, "The rule was not saved.")
    assert pool is not None
    if order is None:
        if rule is not None and rule.object_type == clean_type:
            order = rule.position
        else:
            last = AssignmentRule.objects.filter(object_type=clean_type).aggregate(
                top=Max("position")
            )["top"]
            order = 0 if last is None else last + 1
    target = rule or AssignmentRule()
    target.object_type = clean_type
    target.name = clean_name
    target.pool = pool
    target.conditions = clean_conditions
    target.strategy = clean_strategy
    target.required_skills = clean_skills
    target.is_active = bool(is_active)
    target.position = order
    target.save()
    return target


def rule_delete(*, user: Any, rule: AssignmentRule) -> None:
    require_admin(user, ADMIN_ONLY)
    rule.delete()


def rule_reorder(*, user: Any, object_type: str, rule_ids: Sequence[int]) -> list[AssignmentRule]:
    """Put the type's rules in the order given (every rule of the type, each once)."""
    require_admin(user, ADMIN_ONLY)
    rules = {r.pk: r for r in AssignmentRule.objects.filter(object_type=object_type)}
    if sorted(rule_ids) != sorted(rules) or len(set(rule_ids)) != len(rule_ids):
        raise ValidationFailed(
            "The new order does not list the rules.",
            errors={"rule_ids": [f"List every rule of {object_type} once: {sorted(rules)}."]},
        )
    with transaction.atomic():
        for index, pk in enumerate(rule_ids):
            rules[pk].position = index
        AssignmentRule.objects.bulk_update(list(rules.values()), ["position"])
    return [rules[pk] for pk in rule_ids]


def rule_shift(*, user: Any, rule: AssignmentRule, offset: int) -> None:
    """Move a rule one place up (-1) or down (+1) among its type's rules."""
    ordered = list(
        AssignmentRule.objects.filter(object_type=rule.object_type)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    index = ordered.index(rule.pk)
    other = index + offset
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    rule_reorder(user=user, object_type=rule.object_type, rule_ids=ordered)


# --- availability (every user, for themselves) ---------------------------------------------


def _may_change_availability(actor: Any, user: User) -> None:
    if actor.pk != user.pk and not getattr(actor, "is_admin", False):
        raise PermissionDenied("You may change only your own availability.")


def availability_for(user: User) -> AgentAvailability:
    availability, _created = AgentAvailability.objects.get_or_create(user=user)
    return availability


def _member_pool_ids(user: User) -> list[int]:
    return list(PoolMember.objects.filter(user=user).values_list("pool_id", flat=True))


def availability_set_away(
    *, actor: Any, user: User, away: bool, away_until: datetime.datetime | None = None
) -> AgentAvailability:
    """Mark ``user`` away (optionally until a moment, then back by itself) or back."""
    _may_change_availability(actor, user)
    if away_until is not None:
        if timezone.is_naive(away_until):
            raise ValidationFailed(
                "Give the end with its time zone.",
                errors={"away_until": ["Include the time zone, e.g. 2026-11-30T09:00:00+01:00."]},
            )
        if away and away_until <= timezone.now():
            raise ValidationFailed(
                "The end of the absence is in the past.",
                errors={"away_until": ["Choose a moment in the future, or leave it empty."]},
            )
    with transaction.atomic():
        availability = availability_for(user)
        availability.is_away = bool(away)
        availability.away_until = away_until if away else None
        availability.save(update_fields=["is_away", "away_until", "updated_at"])
        if not away:
            for pool_id in _member_pool_ids(user):
                _assign_waiting_soon(pool_id)
    return availability


def availability_set_working_hours(
    *, actor: Any, user: User, working_hours: Any
) -> AgentAvailability:
    """Replace ``user``'s working hours (wall-clock times in their own time zone)."""
    _may_change_availability(actor, user)
    clean, errors = hours.validate_working_hours(working_hours)
    _raise(errors, "The working hours were not saved.")
    with transaction.atomic():
        availability = availability_for(user)
        availability.working_hours = clean
        availability.save(update_fields=["working_hours", "updated_at"])
        for pool_id in _member_pool_ids(user):
            _assign_waiting_soon(pool_id)
    return availability
