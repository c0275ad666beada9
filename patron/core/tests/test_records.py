from __future__ import annotations

from collections.abc import Iterator

import pytest

from patron.contacts.models import Account
from patron.contacts.services import account_create, account_update
from patron.core import records
from patron.core.exceptions import RecordLocked
from patron.core.models import BusinessRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked_names() -> Iterator[set[str]]:
    """A write guard that locks accounts whose name is in the yielded set."""
    names: set[str] = set()

    def guard(record: BusinessRecord) -> str | None:
        if isinstance(record, Account) and record.name in names:
            return "This account is pending approval; it cannot be changed until it is decided."
        return None

    records.register_write_guard(guard)
    yield names
    records._write_guards.remove(guard)


def test_a_write_guard_refuses_updates_and_nothing_is_written(rep, locked_names):
    account = account_create(user=rep, name="Acme")
    locked_names.add("Acme")
    with pytest.raises(RecordLocked) as refused:
        account_update(user=rep, account=account, industry="Software")
    assert "pending approval" in refused.value.errors["__all__"][0]
    assert Account.objects.get(pk=account.pk).industry == ""


def test_a_write_guard_refuses_moving_a_locked_record_to_the_recycle_bin(rep, locked_names):
    account = account_create(user=rep, name="Acme")
    locked_names.add("Acme")
    with pytest.raises(RecordLocked):
        records.record_soft_delete(account, actor=rep)
    assert Account.objects.filter(pk=account.pk).exists()


def test_records_no_guard_refuses_are_written(rep, locked_names):
    account = account_create(user=rep, name="Acme")
    locked_names.add("Other")
    account_update(user=rep, account=account, industry="Software")
    assert Account.objects.get(pk=account.pk).industry == "Software"
