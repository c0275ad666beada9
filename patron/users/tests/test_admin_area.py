from __future__ import annotations

import pytest
from django.urls import reverse

from patron.core.choices import FieldAccess, OrgWideAccess, SecurityEventKind
from patron.core.models import (
    CustomFieldDefinition,
    FieldPermission,
    ObjectPermission,
    OrgWideDefault,
    SecurityEvent,
)
from patron.core.org import org_settings
from patron.core.testing import assert_max_queries, grant
from patron.users.models import Role, Team, User
from patron.users.services import (
    custom_field_define,
    security_event_record,
    team_save,
    user_create,
)
from patron.users.tests.factories import PASSWORD, TeamFactory, UserFactory, make_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup_objects(db):
    role = make_role("Sales Manager")
    team = TeamFactory(name="North")
    member = UserFactory(email="member@example.com", role=role)
    definition = custom_field_define(
        object_type="contacts.account", key="region", label="Region", field_type="text"
    )
    return {"role": role, "team": team, "member": member, "definition": definition}


def _pages(objects):
    return [
        ("users:admin_index", []),
        ("users:admin_users", []),
        ("users:admin_user_create", []),
        ("users:admin_user_edit", [objects["member"].pk]),
        ("users:admin_user_password", [objects["member"].pk]),
        ("users:admin_teams", []),
        ("users:admin_team_create", []),
        ("users:admin_team_edit", [objects["team"].pk]),
        ("users:admin_roles", []),
        ("users:admin_role_create", []),
        ("users:admin_role_edit", [objects["role"].pk]),
        ("users:admin_role_permissions", [objects["role"].pk]),
        ("users:admin_role_fields", [objects["role"].pk]),
        ("users:admin_org_defaults", []),
        ("users:admin_custom_fields", []),
        ("users:admin_custom_field_create", []),
        ("users:admin_custom_field_edit", [objects["definition"].pk]),
        ("users:admin_organisation", []),
        ("users:admin_security_log", []),
    ]


def test_every_admin_page_opens_for_an_admin(client, admin_user, setup_objects):
    client.force_login(admin_user)
    for name, args in _pages(setup_objects):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name


def test_admin_role_opens_the_admin_area(client, setup_objects):
    admin_role = make_role("Administrator", is_admin=True)
    client.force_login(UserFactory(role=admin_role))
    assert client.get(reverse("users:admin_roles")).status_code == 200


def test_every_admin_page_refuses_a_non_admin(client, setup_objects):
    client.force_login(setup_objects["member"])
    for name, args in _pages(setup_objects):
        url = reverse(name, args=args)
        assert client.get(url).status_code == 403, name
        assert client.post(url, {}).status_code == 403, name
    deactivate = reverse(
        "users:admin_custom_field_deactivate", args=[setup_objects["definition"].pk]
    )
    assert client.post(deactivate).status_code == 403
    setup_objects["definition"].refresh_from_db()
    assert setup_objects["definition"].active


def test_admin_pages_send_anonymous_users_to_login(client):
    response = client.get(reverse("users:admin_users"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- users -------------------------------------------------------------------------------


def test_user_list_query_count_does_not_grow(client, admin_user):
    teams = [TeamFactory() for _ in range(3)]
    role = make_role("Rep")
    for n in range(15):
        user = UserFactory(role=role)
        user.teams.set(teams[: n % 3])
    client.force_login(admin_user)
    client.get(reverse("users:admin_users"))
    with assert_max_queries(8):
        response = client.get(reverse("users:admin_users"))
    assert response.status_code == 200
    assert "Rep" in response.content.decode()


def test_admin_creates_a_user(client, admin_user):
    role = make_role("Rep")
    team = TeamFactory()
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_user_create"),
        {
            "email": "New@Example.com",
            "full_name": "New Person",
            "password": "a long enough passphrase",
            "role": role.pk,
            "teams": [team.pk],
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.role == role
    assert list(user.teams.all()) == [team]


def test_user_create_errors_name_the_field(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_user_create"),
        {"email": admin_user.email, "full_name": "", "password": "123"},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "email" in errors
    assert "password" in errors


def test_admin_edits_role_teams_and_active_and_it_is_logged(client, admin_user):
    role = make_role("Rep")
    team = TeamFactory(name="South")
    user = UserFactory(email="x@example.com")
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_user_edit", args=[user.pk]),
        {"full_name": "X", "role": role.pk, "teams": [team.pk], "is_active": ""},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.role, user.is_active) == (role, False)
    event = SecurityEvent.objects.get(detail__change="user_updated")
    assert event.user == admin_user
    assert event.detail["target"] == "x@example.com"
    assert event.detail["fields"]["role"] == [None, "Rep"]
    assert event.detail["fields"]["teams"] == [[], ["South"]]
    assert event.detail["fields"]["is_active"] == [True, False]


def test_admin_cannot_deactivate_themselves(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_user_edit", args=[admin_user.pk]), {"full_name": "Me"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["is_active"]
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_admin_resets_a_password(client, admin_user):
    user = UserFactory()
    client.force_login(admin_user)
    new = "another long passphrase"
    response = client.post(
        reverse("users:admin_user_password", args=[user.pk]),
        {"password": new, "password_again": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    mismatch = client.post(
        reverse("users:admin_user_password", args=[user.pk]),
        {"password": new, "password_again": "other"},
    )
    assert mismatch.context["form"].errors["password_again"]


# --- teams -------------------------------------------------------------------------------


def test_team_create_and_membership_change_is_logged(client, admin_user):
    alice, bob = UserFactory(email="alice@example.com"), UserFactory(email="bob@example.com")
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_team_create"),
        {"name": "East", "description": "", "members": [alice.pk, bob.pk]},
    )
    assert response.status_code == 302
    team = Team.objects.get(name="East")
    assert set(team.members.all()) == {alice, bob}
    client.post(
        reverse("users:admin_team_edit", args=[team.pk]),
        {"name": "East", "description": "", "members": [alice.pk]},
    )
    changes = SecurityEvent.objects.filter(detail__change="team_members").order_by("id")
    assert [event.detail["removed"] for event in changes] == [[], ["bob@example.com"]]


def test_team_name_must_be_unique(client, admin_user):
    TeamFactory(name="East")
    client.force_login(admin_user)
    response = client.post(reverse("users:admin_team_create"), {"name": "east"})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]


def test_team_list_query_count(client, admin_user):
    for _ in range(10):
        team_save(actor=None, name=f"T{_}", members=[UserFactory()])
    client.force_login(admin_user)
    client.get(reverse("users:admin_teams"))
    with assert_max_queries(6):
        assert client.get(reverse("users:admin_teams")).status_code == 200


# --- roles -------------------------------------------------------------------------------


def test_role_tree_is_indented_in_hierarchy_order(client, admin_user):
    vp = make_role("VP")
    manager = make_role("Manager", parent=vp)
    make_role("Rep", parent=manager)
    make_role("Analyst")
    client.force_login(admin_user)
    client.get(reverse("users:admin_roles"))
    with assert_max_queries(8):
        response = client.get(reverse("users:admin_roles"))
    names = [role.name for role in response.context["roles"]]
    assert names.index("VP") < names.index("Manager") < names.index("Rep")
    body = response.content.decode()
    assert "padding-left: 48px" in body  # Rep, two levels down


def test_role_create_with_parent_and_log(client, admin_user):
    parent = make_role("VP")
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_role_create"),
        {"name": "Director", "parent": parent.pk, "require_two_factor": "on"},
    )
    assert response.status_code == 302
    role = Role.objects.get(name="Director")
    assert role.parent == parent
    assert role.path.startswith(parent.path)
    assert role.require_two_factor
    assert SecurityEvent.objects.filter(
        kind=SecurityEventKind.PERMISSION_CHANGE, detail__change="role_created", user=admin_user
    ).exists()


def test_role_move_under_another_parent(client, admin_user):
    vp = make_role("VP")
    other = make_role("Other VP")
    manager = make_role("Manager", parent=vp)
    rep = make_role("Rep", parent=manager)
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_role_edit", args=[manager.pk]), {"name": "Manager", "parent": other.pk}
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.path.startswith(other.path)
    assert SecurityEvent.objects.filter(detail__change="role_moved").exists()


def test_role_cycle_is_refused(client, admin_user):
    vp = make_role("VP")
    manager = make_role("Manager", parent=vp)
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_role_edit", args=[vp.pk]), {"name": "VP", "parent": manager.pk}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["parent"]
    vp.refresh_from_db()
    assert vp.parent is None


def test_role_name_must_be_unique(client, admin_user):
    make_role("VP")
    client.force_login(admin_user)
    response = client.post(reverse("users:admin_role_create"), {"name": "vp"})
    assert response.context["form"].errors["name"]


# --- object permissions ------------------------------------------------------------------


def test_permission_grid_lists_business_object_types(client, admin_user):
    role = make_role("Rep")
    grant(role, "contacts.account", "read")
    client.force_login(admin_user)
    response = client.get(reverse("users:admin_role_permissions", args=[role.pk]))
    object_types = [row["object_type"] for row in response.context["rows"]]
    assert {"contacts.account", "contacts.contact"} <= set(object_types)
    body = response.content.decode()
    assert (
        'name="perm:contacts.account:read" value="1" id="permcontactsaccountread" checked' in body
    )


def test_permission_grid_saves_and_logs(client, admin_user):
    role = make_role("Rep")
    grant(role, "contacts.account", "read", "delete")
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_role_permissions", args=[role.pk]),
        {
            "perm:contacts.account:read": "1",
            "perm:contacts.account:update": "1",
            "perm:contacts.contact:read": "1",
            "perm:contacts.contact:export": "1",
        },
    )
    assert response.status_code == 302
    account = ObjectPermission.objects.get(role=role, object_type="contacts.account")
    assert (account.can_read, account.can_update, account.can_delete) == (True, True, False)
    contact = ObjectPermission.objects.get(role=role, object_type="contacts.contact")
    assert (contact.can_read, contact.can_export, contact.can_create) == (True, True, False)
    event = SecurityEvent.objects.get(detail__change="object_permissions")
    assert event.kind == SecurityEventKind.PERMISSION_CHANGE
    assert event.user == admin_user
    assert event.detail["changes"]["contacts.account"] == {
        "added": ["update"],
        "removed": ["delete"],
    }


def test_unchanged_permission_grid_logs_nothing(client, admin_user):
    role = make_role("Rep")
    grant(role, "contacts.account", "read")
    client.force_login(admin_user)
    client.post(
        reverse("users:admin_role_permissions", args=[role.pk]),
        {"perm:contacts.account:read": "1"},
    )
    assert not SecurityEvent.objects.filter(detail__change="object_permissions").exists()


def test_permission_change_takes_effect_for_the_user(client, admin_user):
    role = make_role("Rep")
    member = UserFactory(role=role)
    assert not member.access_profile().may("contacts.account", "read")
    client.force_login(admin_user)
    client.post(
        reverse("users:admin_role_permissions", args=[role.pk]),
        {"perm:contacts.account:read": "1"},
    )
    member = User.objects.get(pk=member.pk)
    assert member.access_profile().may("contacts.account", "read")


# --- org-wide defaults -------------------------------------------------------------------


def test_org_defaults_save_and_log(client, admin_user):
    from patron.users.selectors import business_object_types

    # Every business object type is on the form, so posting all of them keeps this test
    # valid as apps add objects.
    object_types = [object_type for object_type, _label in business_object_types()]
    data = {f"owd:{object_type}": OrgWideAccess.PRIVATE for object_type in object_types}
    data["owd:contacts.account"] = OrgWideAccess.PUBLIC_READ
    client.force_login(admin_user)
    response = client.post(reverse("users:admin_org_defaults"), data)
    assert response.status_code == 302
    assert OrgWideDefault.objects.get(object_type="contacts.account").access == "public_read"
    events = SecurityEvent.objects.filter(detail__change="org_wide_default")
    assert {e.detail["object_type"] for e in events} == set(object_types)


def test_org_default_bad_value_is_a_field_error(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_org_defaults"),
        {"owd:contacts.account": "everyone", "owd:contacts.contact": "private"},
    )
    assert response.status_code == 400
    row = next(r for r in response.context["rows"] if r["name"] == "owd:contacts.account")
    assert row["errors"]
    assert not OrgWideDefault.objects.filter(object_type="contacts.account").exists()


# --- field security ----------------------------------------------------------------------


def test_field_security_lists_model_and_custom_sensitive_fields(client, admin_user):
    role = make_role("Rep")
    custom_field_define(
        object_type="contacts.account",
        key="margin",
        label="Margin",
        field_type="number",
        sensitive=True,
    )
    client.force_login(admin_user)
    response = client.get(reverse("users:admin_role_fields", args=[role.pk]))
    names = {f["name"] for s in response.context["sections"] for f in s["fields"]}
    assert "field:contacts.account:annual_revenue" in names
    assert "field:contacts.account:custom.margin" in names
    assert "field:contacts.contact:birthdate" in names


def test_field_security_saves_and_logs(client, admin_user):
    role = make_role("Rep")
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_role_fields", args=[role.pk]),
        {
            "field:contacts.account:annual_revenue": FieldAccess.READ_ONLY,
            "field:contacts.contact:birthdate": FieldAccess.HIDDEN,
        },
    )
    assert response.status_code == 302
    perm = FieldPermission.objects.get(role=role, field="annual_revenue")
    assert perm.access == FieldAccess.READ_ONLY
    assert not FieldPermission.objects.filter(role=role, field="birthdate").exists()
    event = SecurityEvent.objects.get(detail__change="field_security")
    assert event.detail["changes"] == {"contacts.account.annual_revenue": ["hidden", "read_only"]}


def test_field_security_bad_level_is_refused(client, admin_user):
    role = make_role("Rep")
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_role_fields", args=[role.pk]),
        {"field:contacts.account:annual_revenue": "god_mode"},
    )
    assert response.status_code == 400
    assert not FieldPermission.objects.exists()


# --- custom fields -----------------------------------------------------------------------


def _custom_field_post(**overrides):
    data = {
        "object_type": "contacts.account",
        "key": "segment",
        "label": "Segment",
        "field_type": "choice",
        "choices": "SMB\nMid-market\nEnterprise\n",
        "lookup_object_type": "",
        "help_text": "",
        "position": "0",
    }
    data.update(overrides)
    return data


def test_custom_field_create(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("users:admin_custom_field_create"), _custom_field_post())
    assert response.status_code == 302
    definition = CustomFieldDefinition.objects.get(key="segment")
    assert definition.choices == ["SMB", "Mid-market", "Enterprise"]
    assert definition.active


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"key": "Bad Key!"}, "key"),
        ({"key": "9lives"}, "key"),
        ({"choices": ""}, "choices"),
        ({"field_type": "multi_choice", "choices": "  \n"}, "choices"),
        ({"field_type": "lookup", "choices": "", "lookup_object_type": ""}, "lookup_object_type"),
        ({"object_type": "nope.thing"}, "object_type"),
        ({"label": ""}, "label"),
    ],
)
def test_custom_field_bad_input_gets_field_errors(client, admin_user, overrides, field):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_custom_field_create"), _custom_field_post(**overrides)
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not CustomFieldDefinition.objects.exists()


def test_custom_field_duplicate_key(client, admin_user):
    custom_field_define(object_type="contacts.account", key="segment", label="S", field_type="text")
    client.force_login(admin_user)
    response = client.post(reverse("users:admin_custom_field_create"), _custom_field_post())
    assert response.context["form"].errors["key"]


def test_custom_field_edit_keeps_key_and_type(client, admin_user):
    definition = custom_field_define(
        object_type="contacts.account", key="region", label="Region", field_type="text"
    )
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_custom_field_edit", args=[definition.pk]),
        _custom_field_post(
            key="hacked", field_type="number", label="Sales region", active="on", sensitive="on"
        ),
    )
    assert response.status_code == 302
    definition.refresh_from_db()
    assert (definition.key, definition.field_type, definition.label) == (
        "region",
        "text",
        "Sales region",
    )
    assert definition.sensitive
    assert SecurityEvent.objects.filter(detail__change="sensitive_field").exists()


def test_custom_field_deactivate(client, admin_user):
    definition = custom_field_define(
        object_type="contacts.account", key="region", label="Region", field_type="text"
    )
    client.force_login(admin_user)
    response = client.post(reverse("users:admin_custom_field_deactivate", args=[definition.pk]))
    assert response.status_code == 302
    definition.refresh_from_db()
    assert not definition.active


# --- organisation ------------------------------------------------------------------------


def test_org_settings_save(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_organisation"),
        {
            "name": "Acme",
            "default_currency": "eur",
            "time_zone": "Europe/Berlin",
            "fiscal_year_start_month": "4",
            "require_two_factor_for_admins": "on",
        },
    )
    assert response.status_code == 302
    row = org_settings()
    assert (row.name, row.default_currency, row.time_zone, row.fiscal_year_start_month) == (
        "Acme",
        "EUR",
        "Europe/Berlin",
        4,
    )
    assert row.require_two_factor_for_admins
    assert SecurityEvent.objects.filter(detail__change="require_two_factor_for_admins").exists()


def test_org_settings_bad_currency(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("users:admin_organisation"),
        {
            "name": "Acme",
            "default_currency": "E1",
            "time_zone": "UTC",
            "fiscal_year_start_month": "4",
        },
    )
    assert response.status_code == 400
    assert "default_currency" in response.context["form"].errors
    bad_month = client.post(
        reverse("users:admin_organisation"),
        {
            "name": "Acme",
            "default_currency": "EUR",
            "time_zone": "UTC",
            "fiscal_year_start_month": "13",
        },
    )
    assert "fiscal_year_start_month" in bad_month.context["form"].errors
    assert org_settings().name == "My organisation"


# --- security log ------------------------------------------------------------------------


def test_security_log_filters_and_query_count(client, admin_user):
    someone = UserFactory(email="someone@example.com")
    for _ in range(30):
        security_event_record(kind=SecurityEventKind.LOGIN_FAILED, email="x@example.com")
    security_event_record(kind=SecurityEventKind.LOGIN, user=someone)
    client.force_login(admin_user)
    client.get(reverse("users:admin_security_log"))
    with assert_max_queries(6):
        response = client.get(reverse("users:admin_security_log"))
    assert response.status_code == 200
    by_kind = client.get(reverse("users:admin_security_log"), {"kind": "login"})
    assert {e.email for e, _detail in by_kind.context["events"]} == {"someone@example.com"}
    by_user = client.get(reverse("users:admin_security_log"), {"user": "x@example"})
    assert len(by_user.context["events"]) == 30
    bad_date = client.get(reverse("users:admin_security_log"), {"since": "yesterday"})
    assert bad_date.status_code == 200


def test_security_log_pages_by_id(client, admin_user):
    for _ in range(60):
        security_event_record(kind=SecurityEventKind.LOGIN_FAILED, email="x@example.com")
    client.force_login(admin_user)
    first = client.get(reverse("users:admin_security_log"), {"kind": "login_failed"})
    assert len(first.context["events"]) == 50
    assert "kind=login_failed" in first.context["next_query"]
    second = client.get(reverse("users:admin_security_log") + "?" + first.context["next_query"])
    assert len(second.context["events"]) == 10
    assert second.context["next_query"] == ""


def test_security_log_detail_is_readable(client, admin_user):
    security_event_record(
        kind=SecurityEventKind.PERMISSION_CHANGE,
        detail={"change": "role_moved", "parent": [None, "VP"], "added": ["read", "update"]},
    )
    client.force_login(admin_user)
    response = client.get(reverse("users:admin_security_log"))
    _event, detail = response.context["events"][0]
    assert detail == [("change", "role_moved"), ("added", "read, update"), ("parent", "none → VP")]


def test_login_events_appear_in_the_log(client, admin_user):
    user_create(email="log@example.com", password=PASSWORD, check_password_strength=False)
    client.post("/login/", {"email": "log@example.com", "password": "wrong"})
    client.force_login(admin_user)
    response = client.get(reverse("users:admin_security_log"), {"kind": "login_failed"})
    assert "log@example.com" in response.content.decode()
