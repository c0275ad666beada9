from __future__ import annotations

import pyotp
import pytest
from django.test import override_settings

from patron.core.choices import FieldAccess, OrgWideAccess, SecurityEventKind
from patron.core.exceptions import ValidationFailed
from patron.core.models import ObjectPermission, OrgWideDefault, SecurityEvent
from patron.users import throttle, twofactor
from patron.users.models import Role
from patron.users.selectors import business_object_types, sensitive_fields, two_factor_required
from patron.users.services import (
    bootstrap_roles,
    custom_field_define,
    field_permissions_set,
    org_default_set,
    role_permissions_set,
    role_set_parent,
    token_create,
    token_revoke,
    two_factor_enable,
    user_create,
)
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db


def test_bootstrap_roles_creates_defaults_once():
    roles = bootstrap_roles()
    assert set(roles) == {"Administrator", "Sales Manager", "Sales Rep", "Read Only"}
    assert roles["Administrator"].is_admin
    assert roles["Sales Rep"].parent == roles["Sales Manager"]
    rep_account = ObjectPermission.objects.get(
        role=roles["Sales Rep"], object_type="contacts.account"
    )
    assert (rep_account.can_read, rep_account.can_create, rep_account.can_delete) == (
        True,
        True,
        False,
    )
    read_only = ObjectPermission.objects.get(
        role=roles["Read Only"], object_type="contacts.contact"
    )
    assert read_only.can_read
    assert not read_only.can_update
    assert OrgWideDefault.objects.get(object_type="contacts.account").access == "private"
    counts = (Role.objects.count(), ObjectPermission.objects.count())
    # An administrator's later edits survive a second run.
    OrgWideDefault.objects.filter(object_type="contacts.account").update(
        access=OrgWideAccess.PUBLIC_READ
    )
    again = bootstrap_roles()
    assert {name: role.pk for name, role in again.items()} == {
        name: role.pk for name, role in roles.items()
    }
    assert (Role.objects.count(), ObjectPermission.objects.count()) == counts
    assert OrgWideDefault.objects.get(object_type="contacts.account").access == "public_read"


def test_user_create_keeps_its_signature():
    role = make_role("Rep")
    user = user_create(
        email="Sam@Example.com",
        password="a long passphrase here",
        full_name="Sam",
        role=role,
        is_superuser=False,
        teams=None,
        check_password_strength=True,
    )
    assert user.email == "sam@example.com"


def test_role_set_parent_refuses_cycles():
    top = make_role("Top")
    middle = make_role("Middle", parent=top)
    bottom = make_role("Bottom", parent=middle)
    for parent in (top, middle, bottom):
        with pytest.raises(ValidationFailed) as caught:
            role_set_parent(role=top, parent=parent)
        assert "parent" in caught.value.errors
    top.refresh_from_db()
    assert top.parent is None


def test_role_permissions_set_rejects_unknown_types_and_actions():
    role = make_role("Rep")
    with pytest.raises(ValidationFailed) as caught:
        role_permissions_set(
            role=role,
            permissions={"nope.thing": ["read"], "contacts.account": ["fly"]},
            actor=None,
        )
    assert set(caught.value.errors) == {"nope.thing", "contacts.account"}
    assert not ObjectPermission.objects.filter(role=role).exists()


def test_org_default_set_logs_only_changes():
    org_default_set(object_type="contacts.account", access="private", actor=None)
    org_default_set(object_type="contacts.account", access="private", actor=None)
    assert SecurityEvent.objects.filter(detail__change="org_wide_default").count() == 1


def test_field_permissions_only_for_sensitive_fields():
    role = make_role("Rep")
    with pytest.raises(ValidationFailed) as caught:
        field_permissions_set(
            role=role, access={("contacts.account", "name"): FieldAccess.EDIT}, actor=None
        )
    assert "contacts.account.name" in caught.value.errors


def test_business_object_types_come_from_business_records():
    types = dict(business_object_types())
    assert "contacts.account" in types
    assert "users.user" not in types
    assert ("annual_revenue", "Annual revenue") in sensitive_fields("contacts.account")
    assert sensitive_fields("no.such") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": "Has Space"}, "key"),
        ({"key": "_lead"}, "key"),
        ({"key": "x" * 51}, "key"),
        ({"field_type": "choice", "choices": []}, "choices"),
        ({"field_type": "multi_choice", "choices": ["", " "]}, "choices"),
        ({"field_type": "lookup"}, "lookup_object_type"),
        ({"field_type": "colour"}, "field_type"),
        ({"object_type": "users.user"}, "object_type"),
    ],
)
def test_custom_field_define_validation(kwargs, field):
    arguments = {
        "object_type": "contacts.account",
        "key": "ok_key",
        "label": "OK",
        "field_type": "text",
        **kwargs,
    }
    with pytest.raises(ValidationFailed) as caught:
        custom_field_define(**arguments)
    assert field in caught.value.errors


def test_custom_field_define_lookup_and_choices_are_kept_by_type():
    lookup = custom_field_define(
        object_type="contacts.contact",
        key="partner",
        label="Partner",
        field_type="lookup",
        lookup_object_type="contacts.account",
        choices=["ignored"],
    )
    assert (lookup.lookup_object_type, lookup.choices) == ("contacts.account", [])
    choice = custom_field_define(
        object_type="contacts.contact",
        key="tier",
        label="Tier",
        field_type="choice",
        choices=["A", "B", "A", " "],
    )
    assert choice.choices == ["A", "B"]


def test_tokens_log_create_and_revoke_once():
    user = UserFactory()
    token, _secret = token_create(user=user, name="CI", scopes=["contacts:read"])
    token_revoke(token=token)
    token_revoke(token=token)
    kinds = list(SecurityEvent.objects.values_list("kind", flat=True))
    assert sorted(kinds) == [SecurityEventKind.TOKEN_CREATED, SecurityEventKind.TOKEN_REVOKED]


def test_two_factor_required_by_role_or_admin_setting():
    plain = UserFactory()
    assert not two_factor_required(plain)
    strict = UserFactory(role=make_role("Strict", require_two_factor=True))
    assert two_factor_required(strict)


def test_two_factor_enable_rejects_a_code_for_another_secret():
    user = UserFactory()
    secret = pyotp.random_base32()
    right = pyotp.TOTP(secret).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(ValidationFailed) as caught:
        two_factor_enable(user=user, secret=secret, code=wrong)
    assert "code" in caught.value.errors
    user.refresh_from_db()
    assert not user.totp_enabled


def test_totp_code_accepted_once_and_with_spaces():
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).now()
    spaced = f"{code[:3]} {code[3:]}"
    assert twofactor.code_matches(secret=secret, code=spaced, replay_scope="u1")
    assert not twofactor.code_matches(secret=secret, code=code, replay_scope="u1")
    assert not twofactor.code_matches(secret=secret, code="12345", replay_scope="u1")


@override_settings(LOGIN_THROTTLE_ATTEMPTS=3, LOGIN_THROTTLE_WINDOW=300)
def test_throttle_counts_per_key_and_reports_wait():
    for _ in range(2):
        throttle.failure_record(email="a@example.com", ip="10.0.0.1")
    assert throttle.retry_after(email="a@example.com", ip="10.0.0.1") is None
    throttle.failure_record(email="a@example.com", ip="10.0.0.1")
    wait = throttle.retry_after(email="A@example.com", ip=None)
    assert wait is not None
    assert 295 <= wait <= 300
    assert throttle.retry_minutes(wait) == 5
    assert throttle.retry_after(email="b@example.com", ip="10.0.0.1") is not None
    assert throttle.retry_after(email="b@example.com", ip="10.0.0.2") is None
    throttle.success_reset(email="a@example.com")
    assert throttle.retry_after(email="a@example.com", ip=None) is None


def test_throttle_works_on_the_shared_file_cache(tmp_path):
    """The embedded default cache is file based: its incr() must not lose the window."""
    file_cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        }
    }
    with override_settings(CACHES=file_cache, LOGIN_THROTTLE_ATTEMPTS=2):
        from django.core.cache import caches

        caches["default"].clear()
        throttle.failure_record(email="f@example.com", ip=None)
        throttle.failure_record(email="f@example.com", ip=None)
        assert throttle.retry_after(email="f@example.com", ip=None) is not None
        assert any(tmp_path.iterdir())


def test_password_change_is_written_to_the_security_log(db):
    from patron.core.models import SecurityEvent
    from patron.users.services import user_password_set
    from patron.users.tests.factories import UserFactory

    admin = UserFactory(is_superuser=True)
    user = UserFactory()
    user_password_set(user=user, password="a much longer passphrase 42", actor=admin)
    event = SecurityEvent.objects.get(kind="password_changed")
    assert event.user == user
    assert event.detail == {"by": admin.email, "reset_by_admin": True}
