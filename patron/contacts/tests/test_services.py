from __future__ import annotations

import pytest

from patron.contacts.models import Account, Contact
from patron.contacts.services import (
    account_create,
    account_update,
    contact_channels_replace,
    contact_create,
)
from patron.core.exceptions import ValidationFailed, VersionConflict
from patron.core.models import ChangeLogEntry

pytestmark = pytest.mark.django_db


def test_account_create_normalises_domain_and_phone(rep):
    account = account_create(
        user=rep, name="Acme", website="https://www.Acme.com/about", phone="+1 415 555 0100"
    )
    assert account.domain == "acme.com"
    assert account.phone == "+14155550100"
    assert account.owner == rep


def test_account_update_with_stale_version_is_refused_and_writes_nothing(rep):
    account = account_create(user=rep, name="Acme")
    account_update(user=rep, account=account, expected_version=1, industry="Software")
    stale = Account.objects.get(pk=account.pk)
    stale.version = 1
    with pytest.raises(VersionConflict):
        account_update(user=rep, account=stale, expected_version=1, industry="Retail")
    assert Account.objects.get(pk=account.pk).industry == "Software"


def test_update_writes_change_log_with_old_and_new(rep):
    account = account_create(user=rep, name="Acme")
    account_update(user=rep, account=account, industry="Software")
    entry = ChangeLogEntry.objects.filter(object_id=account.pk, action="update").get()
    assert entry.changes == {"industry": ["", "Software"]}
    assert entry.actor == rep


def test_account_parent_cycle_is_refused(rep):
    parent = account_create(user=rep, name="Parent")
    child = account_create(user=rep, name="Child", parent=parent)
    with pytest.raises(ValidationFailed) as excinfo:
        account_update(user=rep, account=parent, parent=child)
    assert "parent" in excinfo.value.errors


def test_contact_create_rejects_bad_email_naming_the_field(rep):
    with pytest.raises(ValidationFailed) as excinfo:
        contact_create(user=rep, last_name="Lee", email="not-an-email")
    assert list(excinfo.value.errors) == ["email"]
    assert not Contact.objects.exists()


def test_visibility_owner_manager_and_stranger(rep, other_rep, manager):
    account = account_create(user=rep, name="Mine")
    assert list(Account.objects.visible_to(rep)) == [account]
    assert list(Account.objects.visible_to(manager)) == [account]
    assert list(Account.objects.visible_to(other_rep)) == []


def test_channels_replace_keeps_one_primary_and_copies_it_to_the_contact(rep):
    contact = contact_create(user=rep, last_name="Lee", email="ana@example.com")
    contact_channels_replace(
        user=rep,
        contact=contact,
        emails=[
            {"kind": "work", "email": "Ana@Example.com"},
            {"kind": "personal", "email": "ana.lee@home.example", "is_primary": True},
        ],
        phones=[{"kind": "mobile", "number": "+44 7700 900123"}],
        addresses=[{"kind": "home", "city": "Leeds", "country": "gb"}],
    )
    contact.refresh_from_db()
    assert contact.email == "ana.lee@home.example"
    assert contact.phone == "+447700900123"
    assert [(e.email, e.is_primary) for e in contact.emails.all()] == [
        ("ana.lee@home.example", True),
        ("ana@example.com", False),
    ]
    assert contact.addresses.get().country == "GB"


def test_channels_replace_names_the_bad_entry_and_changes_nothing(rep):
    contact = contact_create(user=rep, last_name="Lee", email="ana@example.com")
    with pytest.raises(ValidationFailed) as excinfo:
        contact_channels_replace(
            user=rep,
            contact=contact,
            emails=[{"email": "ok@example.com"}, {"email": "broken@"}],
            phones=[{"kind": "pager", "number": "+1 415 555 0100"}],
        )
    assert set(excinfo.value.errors) == {"emails.1.email", "phones.0.kind"}
    assert list(contact.emails.values_list("email", flat=True)) == ["ana@example.com"]


def test_contact_time_zone_must_be_a_real_zone(rep):
    with pytest.raises(ValidationFailed) as excinfo:
        contact_create(user=rep, last_name="Lee", time_zone="Mars/Base")
    assert "time_zone" in excinfo.value.errors
    assert contact_create(user=rep, last_name="Lee", time_zone="Europe/Berlin").time_zone


def test_boolean_filter_rejects_values_other_than_true_or_false(rep):
    from patron.contacts.filters import ContactFilter

    contact_create(user=rep, last_name="Lee", do_not_call=True)
    assert not ContactFilter({"do_not_call": "maybe"}, queryset=Contact.objects.all()).is_valid()
    valid = ContactFilter({"do_not_call": "true"}, queryset=Contact.objects.all())
    assert valid.is_valid()
    assert [c.last_name for c in valid.qs] == ["Lee"]
    assert not ContactFilter({"do_not_call": "false"}, queryset=Contact.objects.all()).qs.exists()


def test_a_sensitive_custom_field_without_edit_access_cannot_be_written(rep):
    from patron.core.exceptions import PermissionDenied
    from patron.core.models import CustomFieldDefinition

    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="credit_limit",
        label="Credit limit",
        field_type="number",
        sensitive=True,
    )
    with pytest.raises(PermissionDenied) as excinfo:
        account_create(user=rep, name="Acme", custom={"credit_limit": "5000"})
    assert list(excinfo.value.errors) == ["custom.credit_limit"]
    assert not Account.objects.exists()


def test_field_security_costs_one_query_however_many_fields_are_sent(rep):
    from patron.core.testing import assert_max_queries
    from patron.core.visibility import sensitive_field_access

    rep.access_profile()
    with assert_max_queries(1):
        sensitive_field_access(rep, Account)


def test_revenue_without_a_currency_is_in_the_org_default_currency(admin_user):
    from decimal import Decimal

    from patron.core.org import org_settings

    settings_row = org_settings()
    settings_row.default_currency = "EUR"
    settings_row.save()
    account = account_create(user=admin_user, name="Acme", annual_revenue=Decimal("1200.50"))
    assert account.revenue_currency == "EUR"
    other = account_create(
        user=admin_user, name="Globex", annual_revenue=Decimal("10"), revenue_currency="gbp"
    )
    assert other.revenue_currency == "GBP"


def test_a_parent_the_user_cannot_see_is_refused_but_an_unchanged_one_may_stay(rep, other_rep):
    hidden_parent = account_create(user=other_rep, name="Not yours")
    with pytest.raises(ValidationFailed) as excinfo:
        account_create(user=rep, name="Child", parent=hidden_parent)
    assert list(excinfo.value.errors) == ["parent"]
    child = account_create(user=other_rep, name="Child", parent=hidden_parent, owner=rep)
    account_update(user=rep, account=child, parent=hidden_parent, industry="Retail")
    assert Account.objects.get(pk=child.pk).industry == "Retail"
