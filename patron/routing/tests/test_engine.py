"""The routing engine: strategies, skipping, capacity, waiting, the log and its contract."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.leads.models import Lead
from patron.routing import services
from patron.routing.choices import DecisionKind, SkillKind, SkipReason, Strategy
from patron.routing.models import (
    AssignmentDecision,
    AssignmentRule,
    MemberSkill,
    Pool,
    PoolMember,
    RoutedItem,
)
from patron.routing.tests.conftest import (
    make_agent,
    make_lead,
    make_member,
    make_pool,
    make_queue,
)

pytestmark = pytest.mark.usefixtures("lead_routable")


def rule_for(pool: Pool, **fields: Any) -> AssignmentRule:
    fields.setdefault("name", f"To {pool.name}")
    return AssignmentRule.objects.create(object_type="leads.lead", pool=pool, **fields)


def owners(leads: list[Lead]) -> list[int | None]:
    return [Lead.all_objects.get(pk=lead.pk).owner_id for lead in leads]


def considered(decision: AssignmentDecision) -> dict[str, tuple[str, str]]:
    return {entry["name"]: (entry["outcome"], entry["reason"]) for entry in decision.considered}


def freeze(monkeypatch: pytest.MonkeyPatch, moment: datetime.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- strategies ------------------------------------------------------------------------------


def test_round_robin_takes_turns_and_keeps_its_pointer(lead_owner):
    pool = make_pool()
    agents = [make_agent(name) for name in ("Ann", "Ben", "Cleo")]
    for agent in agents:
        make_member(pool, agent)
    rule_for(pool)
    leads = [make_lead(lead_owner) for _ in range(4)]
    for lead in leads[:2]:
        services.route_item(item=lead)
    pool.refresh_from_db()
    assert pool.last_position == 1
    for lead in leads[2:]:
        services.route_item(item=lead)
    assert owners(leads) == [agents[0].pk, agents[1].pk, agents[2].pk, agents[0].pk]


def test_weighted_round_robin_spreads_by_weight_smoothly(lead_owner):
    pool = make_pool(strategy=Strategy.WEIGHTED_ROUND_ROBIN)
    heavy, light = make_agent("Heavy"), make_agent("Light")
    make_member(pool, heavy, weight=3)
    make_member(pool, light, weight=1)
    rule_for(pool)
    leads = [make_lead(lead_owner) for _ in range(8)]
    for lead in leads:
        services.route_item(item=lead)
    assert owners(leads[:4]) == [heavy.pk, heavy.pk, light.pk, heavy.pk]
    assert owners(leads).count(heavy.pk) == 6


def test_least_busy_prefers_fewest_open_then_longest_idle(lead_owner):
    pool = make_pool(strategy=Strategy.LEAST_BUSY)
    busy, idle_long, idle_short = make_agent("Busy"), make_agent("Long"), make_agent("Short")
    now = timezone.now()
    make_member(pool, busy, open_items=3)
    make_member(pool, idle_short, open_items=1, last_assigned_at=now - datetime.timedelta(hours=1))
    make_member(pool, idle_long, open_items=1, last_assigned_at=now - datetime.timedelta(days=1))
    rule_for(pool)
    lead = make_lead(lead_owner)
    outcome = services.route_item(item=lead)
    assert outcome.target is not None
    assert outcome.target.user_id == idle_long.pk


def test_first_available_takes_the_first_by_position_who_fits(lead_owner):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    first, second = make_agent("First"), make_agent("Second")
    make_member(pool, first, is_paused=True)
    make_member(pool, second)
    rule_for(pool)
    outcome = services.route_item(item=make_lead(lead_owner))
    assert outcome.target is not None
    assert outcome.target.user_id == second.pk
    assert considered(outcome.decision)["First"] == ("skipped", SkipReason.PAUSED)


def test_skills_based_requires_skill_and_minimum_level(lead_owner):
    pool = make_pool(strategy=Strategy.SKILLS)
    novice, expert, french = make_agent("Novice"), make_agent("Expert"), make_agent("French")
    for agent, value, level in ((novice, "de", 2), (expert, "de", 4), (french, "fr", 5)):
        member = make_member(pool, agent)
        MemberSkill.objects.create(member=member, kind=SkillKind.LANGUAGE, value=value, level=level)
    rule_for(pool, required_skills=[{"kind": "language", "value": "de", "min_level": 3}])
    outcome = services.route_item(item=make_lead(lead_owner))
    assert outcome.target is not None
    assert outcome.target.user_id == expert.pk
    log = considered(outcome.decision)
    assert log["Novice"] == ("skipped", SkipReason.MISSING_SKILL)
    assert log["French"] == ("skipped", SkipReason.MISSING_SKILL)
    assert "level 2, needs 3" in next(
        e["detail"] for e in outcome.decision.considered if e["name"] == "Novice"
    )


def test_skills_relax_to_any_level_after_the_timeout_and_say_so(lead_owner, monkeypatch):
    queue = make_queue()
    pool = make_pool(strategy=Strategy.SKILLS, queue=queue, relax_skills_after_minutes=10)
    novice = make_agent("Novice")
    member = make_member(pool, novice)
    MemberSkill.objects.create(member=member, kind=SkillKind.LANGUAGE, value="DE", level=1)
    rule_for(pool, required_skills=[{"kind": "language", "value": "de", "min_level": 4}])
    lead = make_lead(lead_owner)
    start = timezone.now()
    freeze(monkeypatch, start)
    first = services.route_item(item=lead)
    assert first.queued
    assert first.target is not None
    assert first.target.queue_id == queue.pk
    assert Lead.all_objects.get(pk=lead.pk).queue_id == queue.pk
    freeze(monkeypatch, start + datetime.timedelta(minutes=9))
    assert services.assign_waiting_items() == 0
    freeze(monkeypatch, start + datetime.timedelta(minutes=11))
    assert services.assign_waiting_items() == 1
    decision = AssignmentDecision.objects.order_by("-id").first()
    assert decision is not None
    assert decision.kind == DecisionKind.FROM_QUEUE
    assert "Minimum skill levels were dropped after waiting 10 minutes" in decision.reason
    assert owners([lead]) == [novice.pk]


def test_territory_match_only_picks_members_of_the_items_territory(lead_owner):
    queue = make_queue()
    pool = make_pool(strategy=Strategy.TERRITORY, queue=queue)
    inside, outside = make_agent("Inside"), make_agent("Outside")
    make_member(pool, outside)
    make_member(pool, inside)
    rule_for(pool)
    lead = make_lead(lead_owner, custom={"territory_user_ids": [inside.pk]})
    outcome = services.route_item(item=lead)
    assert outcome.target is not None
    assert outcome.target.user_id == inside.pk
    assert considered(outcome.decision)["Outside"] == ("skipped", SkipReason.NOT_IN_TERRITORY)
    nowhere = services.route_item(item=make_lead(lead_owner))
    assert nowhere.queued
    assert nowhere.decision.kind == DecisionKind.QUEUED


def test_owner_affinity_prefers_existing_owner_else_round_robin(lead_owner, admin_user):
    pool = make_pool(strategy=Strategy.OWNER_AFFINITY)
    first, owner = make_agent("First"), make_agent("Account owner")
    make_member(pool, first)
    owner_member = make_member(pool, owner)
    rule_for(pool)
    outcome = services.route_item(item=make_lead(lead_owner, custom={"affinity_user_id": owner.pk}))
    assert outcome.target is not None
    assert outcome.target.user_id == owner.pk
    services.member_set_paused(user=admin_user, member=owner_member, paused=True)
    fallback = services.route_item(
        item=make_lead(lead_owner, custom={"affinity_user_id": owner.pk})
    )
    assert fallback.target is not None
    assert fallback.target.user_id == first.pk


def test_queue_members_take_items_at_any_hour(lead_owner):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    team_queue = make_queue("Team EMEA")
    PoolMember.objects.create(pool=pool, queue=team_queue, position=0)
    rule_for(pool)
    outcome = services.route_item(item=make_lead(lead_owner))
    assert outcome.target is not None
    assert outcome.target.queue_id == team_queue.pk
    assert not outcome.queued


# --- skipping --------------------------------------------------------------------------------


def test_inactive_paused_away_and_full_members_are_skipped_with_reasons(lead_owner):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    inactive = make_agent("Inactive")
    inactive.is_active = False
    inactive.save()
    future = timezone.now() + datetime.timedelta(days=1)
    past = timezone.now() - datetime.timedelta(days=1)
    members = {
        "Inactive": make_member(pool, inactive),
        "Paused": make_member(pool, make_agent("Paused"), is_paused=True),
        "Away": make_member(pool, make_agent("Away", is_away=True)),
        "Away till tomorrow": make_member(
            pool, make_agent("Away till tomorrow", is_away=True, away_until=future)
        ),
        "Full": make_member(pool, make_agent("Full"), max_open_items=2, open_items=2),
        "Back again": make_member(pool, make_agent("Back again", is_away=True, away_until=past)),
    }
    rule_for(pool)
    outcome = services.route_item(item=make_lead(lead_owner))
    assert outcome.target is not None
    assert outcome.target.user_id == members["Back again"].user_id
    log = considered(outcome.decision)
    assert log["Inactive"] == ("skipped", SkipReason.INACTIVE)
    assert log["Paused"] == ("skipped", SkipReason.PAUSED)
    assert log["Away"] == ("skipped", SkipReason.AWAY)
    assert log["Away till tomorrow"] == ("skipped", SkipReason.AWAY)
    assert log["Full"] == ("skipped", SkipReason.FULL_OPEN)
    assert log["Back again"] == ("chosen", "")
    assert len(outcome.decision.considered) == len(members)
    assert (
        "Skipped: Inactive (inactive user), Paused (paused in this pool)" in outcome.decision.reason
    )


def test_working_hours_are_read_in_each_members_time_zone(lead_owner, monkeypatch):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    office = {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]}
    tokyo = make_agent("Tokyo", time_zone="Asia/Tokyo", working_hours=office)
    new_york = make_agent("New York", time_zone="America/New_York", working_hours=office)
    make_member(pool, tokyo)
    make_member(pool, new_york)
    rule_for(pool)
    # Monday 2026-11-23 15:00 UTC: 00:00 Tuesday in Tokyo, 10:00 Monday in New York.
    freeze(monkeypatch, datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC))
    outcome = services.route_item(item=make_lead(lead_owner))
    assert outcome.target is not None
    assert outcome.target.user_id == new_york.pk
    entry = next(e for e in outcome.decision.considered if e["name"] == "Tokyo")
    assert entry["reason"] == SkipReason.OFF_HOURS
    assert entry["detail"] == "Tue 00:00 Asia/Tokyo"


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        # Spring forward on Sunday 29 March 2026: 07:30 UTC is 08:30 CET before, 09:30 CEST after.
        (datetime.datetime(2026, 3, 27, 7, 30, tzinfo=datetime.UTC), False),
        (datetime.datetime(2026, 3, 30, 7, 30, tzinfo=datetime.UTC), True),
        (datetime.datetime(2026, 3, 30, 15, 30, tzinfo=datetime.UTC), False),
        # Fall back on Sunday 25 October 2026: 08:30 UTC is 10:30 CEST before, 09:30 CET after.
        (datetime.datetime(2026, 10, 23, 7, 30, tzinfo=datetime.UTC), True),
        (datetime.datetime(2026, 10, 26, 7, 30, tzinfo=datetime.UTC), False),
        (datetime.datetime(2026, 10, 26, 8, 30, tzinfo=datetime.UTC), True),
        (datetime.datetime(2026, 10, 26, 16, 30, tzinfo=datetime.UTC), False),
    ],
)
def test_berlin_working_hours_follow_daylight_saving(lead_owner, monkeypatch, moment, working):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    week = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    berlin = make_agent("Berlin", time_zone="Europe/Berlin", working_hours=week)
    make_member(pool, berlin)
    rule_for(pool)
    freeze(monkeypatch, moment)
    outcome = services.route_item(item=make_lead(lead_owner))
    assert (outcome.target is not None and outcome.target.user_id == berlin.pk) is working
    assert outcome.queued is not working


# --- capacity --------------------------------------------------------------------------------


def test_open_capacity_is_taken_and_given_back_on_release(lead_owner):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    solo = make_agent("Solo")
    member = make_member(pool, solo, max_open_items=1)
    rule_for(pool)
    first, second = make_lead(lead_owner), make_lead(lead_owner)
    assert services.route_item(item=first).target is not None
    blocked = services.route_item(item=second)
    assert blocked.queued
    assert considered(blocked.decision)["Solo"] == ("skipped", SkipReason.FULL_OPEN)
    services.release_item(item=first)
    member.refresh_from_db()
    assert member.open_items == 0
    assert services.assign_waiting_items(pool=pool) == 1
    assert owners([second]) == [solo.pk]
    services.release_item(item=first)  # twice: still only one given back
    member.refresh_from_db()
    assert member.open_items == 1


def test_daily_capacity_resets_on_the_members_local_date(lead_owner, monkeypatch):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    # Sydney is UTC+11 in November: 12:30 UTC is already the next day there.
    sydney = make_agent("Sydney", time_zone="Australia/Sydney")
    member = make_member(pool, sydney, max_items_per_day=1)
    rule_for(pool)
    freeze(monkeypatch, datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC))
    assert services.route_item(item=make_lead(lead_owner)).target is not None
    member.refresh_from_db()
    assert (member.assigned_today, member.assigned_on) == (1, datetime.date(2026, 11, 23))
    freeze(monkeypatch, datetime.datetime(2026, 11, 23, 12, 30, tzinfo=datetime.UTC))
    full = services.route_item(item=make_lead(lead_owner))
    assert full.queued
    assert considered(full.decision)["Sydney"] == ("skipped", SkipReason.FULL_DAY)
    freeze(monkeypatch, datetime.datetime(2026, 11, 23, 13, 5, tzinfo=datetime.UTC))
    assert services.assign_waiting_items() == 1
    member.refresh_from_db()
    assert (member.assigned_today, member.assigned_on) == (1, datetime.date(2026, 11, 24))
    assert member.open_items == 2


# --- waiting, idempotency, rerouting, manual reassignment ----------------------------------


def test_nobody_available_waits_in_the_pool_queue_then_is_assigned(lead_owner, admin_user):
    queue = make_queue()
    pool = make_pool(queue=queue)
    agent = make_agent("Only")
    member = make_member(pool, agent, is_paused=True)
    rule_for(pool)
    lead = make_lead(lead_owner)
    outcome = services.route_item(item=lead)
    assert outcome.queued
    assert outcome.decision.kind == DecisionKind.QUEUED
    assert "waits in the queue “Inbound queue”" in outcome.decision.reason
    routed = RoutedItem.objects.get(object_id=lead.pk)
    assert routed.waiting_since is not None
    assert routed.queue_id == queue.pk
    services.member_set_paused(user=admin_user, member=member, paused=False)
    assert services.assign_waiting_items() == 1
    routed.refresh_from_db()
    assert routed.waiting_since is None
    assert routed.user_id == agent.pk
    lead.refresh_from_db()
    assert (lead.owner_id, lead.queue_id) == (agent.pk, None)
    assert services.assign_waiting_items() == 0


def test_routing_twice_assigns_once(lead_owner):
    pool = make_pool()
    make_member(pool, make_agent("Ann"))
    make_member(pool, make_agent("Ben"))
    rule_for(pool)
    lead = make_lead(lead_owner)
    first = services.route_item(item=lead)
    again = services.route_item(item=lead)
    assert again.target == first.target
    assert again.decision.pk == first.decision.pk
    assert AssignmentDecision.objects.count() == 1
    assert sum(PoolMember.objects.values_list("open_items", flat=True)) == 1


def test_no_matching_rule_is_logged_and_left_to_the_caller(lead_owner):
    pool = make_pool()
    make_member(pool, make_agent("Ann"))
    rule_for(
        pool,
        conditions={
            "match": "all",
            "conditions": [{"field": "country", "op": "eq", "value": "DE"}],
        },
    )
    lead = make_lead(lead_owner, country="FR")
    outcome = services.route_item(item=lead)
    assert outcome.target is None
    assert not outcome.queued
    assert outcome.decision.kind == DecisionKind.NO_RULE
    assert owners([lead]) == [lead_owner.pk]


def test_first_matching_rule_in_order_wins(lead_owner):
    germany, rest = make_pool("Germany"), make_pool("Rest")
    de_agent, rest_agent = make_agent("DE"), make_agent("Rest")
    make_member(germany, de_agent)
    make_member(rest, rest_agent)
    rule_for(rest, position=1)
    rule_for(
        germany,
        position=0,
        conditions={
            "match": "any",
            "conditions": [
                {"field": "country", "op": "in", "value": ["de", "AT"]},
                {"field": "deal_size", "op": "between", "value": [1_000_000, 5_000_000]},
            ],
        },
    )
    leads = [
        make_lead(lead_owner, country="DE"),
        make_lead(lead_owner, country="US", annual_revenue=2_000_000),
        make_lead(lead_owner, country="US"),
    ]
    for lead in leads:
        services.route_item(item=lead)
    assert owners(leads) == [de_agent.pk, de_agent.pk, rest_agent.pk]


def test_reroute_excludes_the_current_assignee_and_moves_capacity(lead_owner):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    first, second = make_agent("First"), make_agent("Second")
    first_member = make_member(pool, first)
    second_member = make_member(pool, second)
    rule_for(pool)
    lead = make_lead(lead_owner)
    services.route_item(item=lead)
    outcome = services.reroute_item(item=lead, reason="No first response within 30 minutes.")
    assert outcome.target is not None
    assert outcome.target.user_id == second.pk
    assert outcome.decision.kind == DecisionKind.DEADLINE
    assert outcome.decision.previous_user_id == first.pk
    assert considered(outcome.decision)["First"] == ("skipped", SkipReason.EXCLUDED)
    assert outcome.decision.reason.startswith("No first response within 30 minutes.")
    first_member.refresh_from_db()
    second_member.refresh_from_db()
    assert (first_member.open_items, second_member.open_items) == (0, 1)


def test_reroute_with_nobody_else_keeps_the_assignee(lead_owner):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    only = make_agent("Only")
    make_member(pool, only)
    rule_for(pool)
    lead = make_lead(lead_owner)
    services.route_item(item=lead)
    outcome = services.reroute_item(item=lead, reason="Deadline missed.")
    assert outcome.target is not None
    assert outcome.target.user_id == only.pk
    assert "Nobody else" in outcome.decision.reason
    assert owners([lead]) == [only.pk]


def test_manual_reassignment_needs_a_reason_and_is_logged(lead_owner, admin_user):
    pool = make_pool(strategy=Strategy.FIRST_AVAILABLE)
    first, second = make_agent("First"), make_agent("Second")
    first_member = make_member(pool, first)
    second_member = make_member(pool, second)
    rule_for(pool)
    lead = make_lead(lead_owner)
    services.route_item(item=lead)
    with pytest.raises(ValidationFailed) as refused:
        services.reassign_item(item=lead, actor=admin_user, reason="  ", user=second)
    assert "reason" in refused.value.errors
    decision = services.reassign_item(
        item=lead, actor=admin_user, reason="Speaks Finnish", user=second
    )
    assert decision.kind == DecisionKind.MANUAL
    assert decision.actor_id == admin_user.pk
    assert decision.previous_user_id == first.pk
    assert decision.assigned_user_id == second.pk
    assert decision.reason.endswith("Speaks Finnish")
    assert owners([lead]) == [second.pk]
    first_member.refresh_from_db()
    second_member.refresh_from_db()
    assert (first_member.open_items, second_member.open_items) == (0, 1)


def test_manual_reassignment_needs_edit_access(lead_owner):
    lead = make_lead(lead_owner)
    stranger = make_agent("Stranger")
    with pytest.raises(PermissionDenied):
        services.reassign_item(item=lead, actor=stranger, reason="Mine now", user=stranger)


def test_reassigning_to_the_pool_queue_puts_the_item_back_in_waiting(lead_owner, admin_user):
    queue = make_queue()
    pool = make_pool(queue=queue, strategy=Strategy.FIRST_AVAILABLE)
    agent = make_agent("Agent")
    make_member(pool, agent)
    rule_for(pool)
    lead = make_lead(lead_owner)
    services.route_item(item=lead)
    services.reassign_item(item=lead, actor=admin_user, reason="Back to the team", queue=queue)
    routed = RoutedItem.objects.get(object_id=lead.pk)
    assert routed.waiting_since is not None
    assert routed.queue_id == queue.pk
    assert Lead.all_objects.get(pk=lead.pk).queue_id == queue.pk
