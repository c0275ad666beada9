"""Keyset pages of contacts: an index can serve the order, and paging stays exact (issue 8)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.contacts.models import Contact
from patron.core.api.pagination import keyset_page
from patron.users.models import User

NAMES = [("Ann", "Lee"), ("Bob", "Lee"), ("Cy", "Adams"), ("Di", "Zhu"), ("Ed", "Adams")]


@pytest.fixture
def contacts(db: None) -> list[Contact]:
    owner = User.objects.create_user("owner@example.com", "pw-123456789")
    return [
        Contact.objects.create(
            owner=owner,
            first_name=first,
            last_name=last,
            birthdate=None if n % 2 else datetime.date(1980 + n, 1, 1),
        )
        for n, (first, last) in enumerate(NAMES)
    ]


def _all_pages(columns: tuple[str, ...], limit: int) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        rows, cursor = keyset_page(
            Contact.objects.all(), sort="test", columns=columns, limit=limit, cursor=cursor
        )
        seen += [row.pk for row in rows]
        if cursor is None:
            return seen


def test_not_null_sort_columns_are_ordered_without_a_nulls_clause(contacts: list[Contact]) -> None:
    # NULLS FIRST on an ascending column keeps PostgreSQL from reading the name index in order.
    with CaptureQueriesContext(connection) as queries:
        keyset_page(
            Contact.objects.all(), sort="name", columns=("last_name", "first_name", "id"),
            limit=2, cursor=None,
        )  # fmt: skip
    assert "NULLS" not in queries.captured_queries[-1]["sql"].upper()


@pytest.mark.parametrize("columns", [
    ("last_name", "first_name", "id"),
    ("-last_name", "-first_name", "-id"),
    ("birthdate", "id"),
    ("-birthdate", "-id"),
])  # fmt: skip
def test_paging_returns_every_contact_once_in_order(
    contacts: list[Contact], columns: tuple[str, ...]
) -> None:
    def key(contact: Contact) -> tuple[object, ...]:
        values = []
        for column in columns:
            value = getattr(contact, column.lstrip("-"))
            # NULLs sort as the smallest value in either direction of the keyset order.
            values.append((value is not None, value))
        return tuple(values)

    descending = columns[0].startswith("-")
    expected = [c.pk for c in sorted(contacts, key=key, reverse=descending)]
    assert _all_pages(columns, limit=2) == expected
