"""Territory rules, hierarchy precedence, validation of bad input, assignment on save and in
the batch job, and copy / compare / activate."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError

from patron.contacts.models import Account
from patron.contacts.services import account_create, account_update
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import ChangeLogEntry, Job
from patron.territories import compare, services
from patron.territories.choices import MemberRole, ModelState
from patron.territories.models import Territory, TerritoryAssignment, TerritoryModel
from patron.territories.selectors import (
    records_in_user_territories,
    territories_of,
    territory_user_ids_for,
)
from patron.territories.tests.conftest import make_territory, rule_in, rule_range
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def account(admin, **fields):
    return account_create(user=admin, name=fields.pop("name", "Acme"), **fields)


def assigned(model, obj):
    row = TerritoryAssignment.objects.filter(
        model=model, content_type=ContentType.objects.get_for_model(Account), object_id=obj.pk
    ).first()
    return row.territory.name if row else None


# --- rule matching ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "fields", "expected"),
    [
        (rule_in("country", "de", "AT"), {"billing_country": "DE"}, True),
        (rule_in("country", "DE"), {"billing_country": "FR"}, False),
        (rule_in("region", "Bavaria"), {"billing_region": "  bavaria "}, True),
        (rule_in("region", "Bavaria"), {"billing_region": ""}, False),
        (rule_in("industry", "Software", "Retail"), {"industry": "RETAIL"}, True),
        (rule_in("industry", "Software"), {"industry": "Banking"}, False),
        (rule_range("postal_code", "80000", "87999"), {"billing_postal_code": "80 331"}, True),
        (rule_range("postal_code", "80000", "87999"), {"billing_postal_code": "88000"}, False),
        # A code of another format is not in the range, though it sorts inside it as a string.
        (rule_range("postal_code", "80000", "87999"), {"billing_postal_code": "8100"}, False),
        (rule_in("postal_code", "SW1A 1AA"), {"billing_postal_code": "sw1a1aa"}, True),
        (rule_range("employee_count", "50", "250"), {"employee_count": 250}, True),
        (rule_range("employee_count", "50", "250"), {"employee_count": 251}, False),
        (rule_range("employee_count", "1000", ""), {"employee_count": 5000}, True),
        (
            rule_range("annual_revenue", "1000000", "5000000.50"),
            {"annual_revenue": Decimal("5000000.50")},
            True,
        ),
        (
            rule_range("annual_revenue", "1000000", "5000000"),
            {"annual_revenue": Decimal("999999.99")},
            False,
        ),
    ],
)
def test_rule_matches_each_field(admin_user, active_model, rule, fields, expected):
    make_territory(admin_user, active_model, "T", rule)
    record = account(admin_user, **fields)
    assert (services.territory_assign_record(obj=record) is not None) is expected


def test_rules_of_one_field_are_ored_and_of_different_fields_anded(admin_user, active_model):
    make_territory(
        admin_user,
        active_model,
        "DACH software",
        rule_in("country", "DE"),
        rule_in("country", "AT"),
        rule_in("industry", "Software"),
    )
    austrian = account(admin_user, billing_country="AT", industry="software")
    german_bank = account(admin_user, billing_country="DE", industry="Banking")
    assert services.territory_assign_record(obj=austrian) is not None
    assert services.territory_assign_record(obj=german_bank) is None


def test_deepest_matching_territory_wins_then_priority_then_lowest_id(admin_user, active_model):
    europe = make_territory(admin_user, active_model, "Europe", rule_in("country", "DE", "FR"))
    germany = make_territory(
        admin_user, active_model, "Germany", rule_in("country", "DE"), parent=europe
    )
    make_territory(
        admin_user,
        active_model,
        "German software",
        rule_in("industry", "Software"),
        parent=germany,
        priority=1,
    )
    make_territory(
        admin_user,
        active_model,
        "German large",
        rule_range("employee_count", "1000", ""),
        parent=germany,
        priority=5,
    )
    make_territory(
        admin_user, active_model, "German retail", rule_in("industry", "Retail"), parent=germany
    )
    both = account(admin_user, billing_country="DE", industry="Software", employee_count=2000)
    software = account(admin_user, billing_country="DE", industry="Software")
    plain = account(admin_user, billing_country="DE", industry="Banking")
    french = account(admin_user, billing_country="FR", industry="Software")
    for record in (both, software, plain, french):
        services.territory_assign_record(obj=record)
    assert assigned(active_model, both) == "German large"
    assert assigned(active_model, software) == "German software"
    assert assigned(active_model, plain) == "Germany"
    # The child's rules match but its parent's do not: the child does not claim it.
    assert assigned(active_model, french) == "Europe"


def test_a_parent_without_rules_groups_children_without_constraining_them(admin_user, active_model):
    emea = make_territory(admin_user, active_model, "EMEA")
    make_territory(admin_user, active_model, "France", rule_in("country", "FR"), parent=emea)
    french = account(admin_user, billing_country="FR")
    unknown = account(admin_user, billing_country="JP")
    services.territory_assign_record(obj=french)
    assert assigned(active_model, french) == "France"
    assert services.territory_assign_record(obj=unknown) is None


# --- bad input --------------------------------------------------------------------------------


def test_cyclical_parent_is_refused(admin_user, active_model):
    top = make_territory(admin_user, active_model, "Top")
    middle = make_territory(admin_user, active_model, "Middle", parent=top)
    bottom = make_territory(admin_user, active_model, "Bottom", parent=middle)
    with pytest.raises(ValidationFailed) as error:
        services.territory_save(
            user=admin_user, model=active_model, territory=top, name="Top", parent=bottom
        )
    assert "cyclical" in error.value.errors["parent"][0]
    with pytest.raises(ValidationFailed):
        services.territory_save(
            user=admin_user, model=active_model, territory=top, name="Top", parent=top
        )
    top.refresh_from_db()
    assert top.parent_id is None


def test_parent_in_another_model_is_refused(admin_user, active_model, planning_model):
    other = make_territory(admin_user, planning_model, "Elsewhere")
    with pytest.raises(ValidationFailed) as error:
        services.territory_save(user=admin_user, model=active_model, name="X", parent=other)
    assert "another territory model" in error.value.errors["parent"][0]


def test_moving_a_subtree_updates_paths_and_depths(admin_user, active_model):
    a = make_territory(admin_user, active_model, "A")
    b = make_territory(admin_user, active_model, "B")
    child = make_territory(admin_user, active_model, "Child", parent=a)
    grandchild = make_territory(admin_user, active_model, "Grandchild", parent=child)
    services.territory_save(
        user=admin_user, model=active_model, territory=child, name="Child", parent=b
    )
    grandchild.refresh_from_db()
    assert grandchild.path == f"{b.pk}.{child.pk}.{grandchild.pk}."
    assert grandchild.depth == 2


def test_overlapping_postal_ranges_at_the_same_level_are_refused(admin_user, active_model):
    make_territory(admin_user, active_model, "North", rule_range("postal_code", "20000", "29999"))
    south = make_territory(admin_user, active_model, "South")
    with pytest.raises(ValidationFailed) as error:
        services.rule_add(
            user=admin_user, territory=south, data=rule_range("postal_code", "29000", "39999")
        )
    message = error.value.errors["low"][0]
    assert "29000 to 29999" in message
    assert "North" in message
    # Another format does not overlap; nor does a child narrowing its parent's range.
    services.rule_add(
        user=admin_user, territory=south, data=rule_range("postal_code", "3000", "3999")
    )
    assert south.rules.count() == 1


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (rule_range("postal_code", "39999", "30000"), "high", "below the low bound"),
        (rule_range("employee_count", "500", "10"), "high", "below the low bound"),
        (rule_range("employee_count", "many", "10"), "low", "not a number"),
        ({"field": "shoe_size", "operator": "in", "values": ["9"]}, "field", "not a rule field"),
        ({"field": "country", "operator": "range", "low": "A", "high": "B"}, "operator", "list"),
        (rule_in("country"), "values", "at least one"),
        (rule_range("postal_code", "1000", "AB12"), "high", "same postal-code format"),
    ],
)
def test_bad_rules_are_refused_with_the_field_named(admin_user, active_model, data, field, words):
    territory = make_territory(admin_user, active_model, "T")
    with pytest.raises(ValidationFailed) as error:
        services.rule_add(user=admin_user, territory=territory, data=data)
    assert words in " ".join(error.value.errors[field])
    assert territory.rules.count() == 0


def test_only_administrators_change_territories(rep, active_model):
    with pytest.raises(PermissionDenied):
        services.territory_save(user=rep, model=active_model, name="Mine")


def test_only_one_model_is_active(db, active_model):
    with pytest.raises(IntegrityError):
        TerritoryModel.objects.create(name="Second", state=ModelState.ACTIVE)


# --- assignment -------------------------------------------------------------------------------


def test_account_is_assigned_when_saved_through_the_event(
    admin_user, active_model, django_capture_on_commit_callbacks
):
    make_territory(admin_user, active_model, "Germany", rule_in("country", "DE"))
    make_territory(admin_user, active_model, "France", rule_in("country", "FR"))
    with django_capture_on_commit_callbacks(execute=True):
        record = account(admin_user, billing_country="DE")
    assert assigned(active_model, record) == "Germany"
    with django_capture_on_commit_callbacks(execute=True):
        account_update(user=admin_user, account=record, billing_country="FR")
    assert assigned(active_model, record) == "France"
    assert [t.name for t in territories_of(obj=record)] == ["France"]


def test_manual_assignment_survives_saves_and_batch_runs(
    admin_user, active_model, django_capture_on_commit_callbacks
):
    make_territory(admin_user, active_model, "Germany", rule_in("country", "DE"))
    key_accounts = make_territory(admin_user, active_model, "Key accounts")
    record = account(admin_user, billing_country="DE")
    services.assignment_set_manual(user=admin_user, territory=key_accounts, obj=record)
    with django_capture_on_commit_callbacks(execute=True):
        account_update(user=admin_user, account=record, name="Acme GmbH")
    services.assign_all(active_model)
    assert assigned(active_model, record) == "Key accounts"
    services.assignment_clear_manual(user=admin_user, model=active_model, obj=record)
    assert assigned(active_model, record) == "Germany"


def test_batch_run_job_assigns_every_account_in_chunks(
    admin_user, active_model, django_capture_on_commit_callbacks, monkeypatch
):
    make_territory(admin_user, active_model, "Germany", rule_in("country", "DE"))
    make_territory(admin_user, active_model, "France", rule_in("country", "FR"))
    monkeypatch.setattr(services, "CHUNK", 3)
    records = [
        Account.objects.create(
            name=f"A{i}", owner=admin_user, billing_country="DE" if i % 2 else "FR"
        )
        for i in range(7)
    ] + [Account.objects.create(name="Nowhere", owner=admin_user, billing_country="JP")]
    sent = []
    monkeypatch.setattr(
        "celery.current_app.send_task", lambda name, args, kwargs: sent.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = services.assignment_run_start(user=admin_user, model=active_model)
    assert sent == [(job.pk,)]
    services.assignment_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert (job.progress_done, job.progress_total) == (8, 8)
    assert job.result["assigned"] == 7
    assert job.result["records"] == 8
    assert assigned(active_model, records[1]) == "Germany"
    assert assigned(active_model, records[0]) == "France"
    assert assigned(active_model, records[-1]) is None
    # Run again (a redelivered message) changes nothing.
    services.assignment_run(job_id=job.pk)
    assert TerritoryAssignment.objects.filter(model=active_model).count() == 7


# --- selectors --------------------------------------------------------------------------------


def test_selectors_give_users_and_records_of_territories(admin_user, active_model, rep, manager):
    west = make_territory(admin_user, active_model, "West")
    berlin = make_territory(
        admin_user, active_model, "Berlin", rule_in("region", "Berlin"), parent=west
    )
    services.member_set(user=admin_user, territory=berlin, member=rep, role=MemberRole.SALES_REP)
    services.member_set(user=admin_user, territory=west, member=manager, role=MemberRole.MANAGER)
    record = account(admin_user, billing_region="Berlin")
    services.territory_assign_record(obj=record)
    assert territory_user_ids_for(obj=record) == [rep.pk]
    assert [t.name for t in territories_of(obj=record)] == ["West", "Berlin"]
    ids = lambda user, edit=False: set(  # noqa: E731
        records_in_user_territories(user_id=user.pk, model=Account, edit=edit).values_list(
            "object_id", flat=True
        )
    )
    assert ids(rep) == {record.pk}
    assert ids(rep, edit=True) == set()
    assert ids(manager) == {record.pk}
    assert ids(manager, edit=True) == {record.pk}


# --- copy, compare, activate ------------------------------------------------------------------


@pytest.fixture
def realignment(admin_user, active_model, rep, other_rep):
    north = make_territory(
        admin_user, active_model, "North", rule_range("postal_code", "20000", "29999")
    )
    south = make_territory(
        admin_user, active_model, "South", rule_range("postal_code", "80000", "89999")
    )
    services.member_set(user=admin_user, territory=north, member=rep, role=MemberRole.SALES_REP)
    services.member_set(
        user=admin_user, territory=south, member=other_rep, role=MemberRole.SALES_REP
    )
    hamburg = account(admin_user, name="Hamburg Ltd", billing_postal_code="20095")
    hanover = account(admin_user, name="Hanover Ltd", billing_postal_code="30159")
    munich = account(admin_user, name="Munich Ltd", billing_postal_code="80331")
    services.assign_all(active_model)
    plan = services.model_copy(user=admin_user, source=active_model, name="FY2027")
    plan_north = Territory.objects.get(model=plan, name="North")
    services.territory_set_rules(
        user=admin_user, territory=plan_north, rules=[rule_range("postal_code", "20000", "39999")]
    )
    plan_south = Territory.objects.get(model=plan, name="South")
    services.territory_set_rules(
        user=admin_user, territory=plan_south, rules=[rule_range("postal_code", "81000", "89999")]
    )
    services.assign_all(plan)
    return {"plan": plan, "hamburg": hamburg, "hanover": hanover, "munich": munich}


def test_copy_keeps_territories_rules_and_members(admin_user, active_model, realignment):
    plan = realignment["plan"]
    assert plan.state == ModelState.PLANNING
    assert set(Territory.objects.filter(model=plan).values_list("name", flat=True)) == {
        "North",
        "South",
    }
    assert Territory.objects.get(model=plan, name="North").members.count() == 1
    source = Territory.objects.get(model=plan, name="North").source
    assert source is not None
    assert source.model_id == active_model.pk


def test_compare_lists_which_accounts_move_and_to_whom(admin_user, realignment, rep, other_rep):
    result = compare.compare(planning=realignment["plan"])
    moves, cursor = compare.moves_page(result)
    assert cursor is None
    by_name = {move.name: move for move in moves}
    assert set(by_name) == {"Hanover Ltd", "Munich Ltd"}
    hanover, munich = by_name["Hanover Ltd"], by_name["Munich Ltd"]
    assert hanover.from_territory is None
    assert getattr(hanover.to_territory, "name", None) == "North"
    assert hanover.gained_by == [rep.pk]
    assert getattr(munich.from_territory, "name", None) == "South"
    assert munich.to_territory is None
    assert munich.lost_by == [other_rep.pk]
    assert {u: (g, lo) for u, g, lo in result.users} == {rep.pk: (1, 0), other_rep.pk: (0, 1)}
    only_rep = compare.CompareFilters(user=other_rep.pk)
    assert [m.name for m in compare.moves_page(result, filters=only_rep)[0]] == ["Munich Ltd"]


def test_activate_archives_the_old_model_logs_it_and_recomputes(
    admin_user, active_model, realignment, django_capture_on_commit_callbacks, monkeypatch
):
    plan = realignment["plan"]
    monkeypatch.setattr("celery.current_app.send_task", lambda *a, **k: None)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.model_activate(user=admin_user, model=plan)
    services.assignment_run(job_id=job.pk)
    active_model.refresh_from_db()
    plan.refresh_from_db()
    assert (active_model.state, plan.state) == (ModelState.ARCHIVED, ModelState.ACTIVE)
    assert ChangeLogEntry.objects.filter(object_id=plan.pk, action="activate").exists()
    assert Job.objects.get(pk=job.pk).status == "done"
    assert [t.name for t in territories_of(obj=realignment["hanover"])] == ["North"]
    assert territories_of(obj=realignment["munich"]) == []
    with pytest.raises(ValidationFailed):
        services.model_activate(user=admin_user, model=active_model)


def test_a_rep_only_user_cannot_copy(rep, active_model):
    with pytest.raises(PermissionDenied):
        services.model_copy(user=rep, source=active_model)


def test_non_member_user_is_not_in_anyone_s_territory(admin_user, active_model):
    stranger = UserFactory()
    make_territory(admin_user, active_model, "Everywhere", rule_in("country", "DE"))
    services.territory_assign_record(obj=account(admin_user, billing_country="DE"))
    assert not records_in_user_territories(user_id=stranger.pk, model=Account).exists()
