"""What an account's and a contact's timeline covers: the subtree of accounts, their contacts
(primary or related), only what the user may see, in a number of queries that does not grow
with the entries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import ALL_ACTIONS
from patron.activities.services import activity_create
from patron.contacts.models import Contact
from patron.contacts.services import (
    account_create,
    account_update,
    contact_create,
    contact_update,
    relation_add,
)
from patron.contacts.timeline import account_scope
from patron.core.choices import OrgWideAccess
from patron.core.sharing import share_grant
from patron.core.testing import assert_max_queries, grant, set_org_default
from patron.core.timeline import timeline_filters, timeline_page

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def activity_permissions(sales_roles):
    for role in sales_roles.values():
        grant(role, "activities.activity", *ALL_ACTIONS)
    set_org_default("activities.activity", OrgWideAccess.PRIVATE)


@pytest.fixture
def group(rep):
    """Holding > Acme > Acme Labs, and Beta beside Acme; one contact at each."""
    holding = account_create(user=rep, name="Holding")
    acme = account_create(user=rep, name="Acme", parent=holding)
    labs = account_create(user=rep, name="Acme Labs", parent=acme)
    beta = account_create(user=rep, name="Beta", parent=holding)
    contacts = {
        account.name: contact_create(
            user=rep, last_name=f"Person at {account.name}", account=account
        )
        for account in (holding, acme, labs, beta)
    }
    return {"holding": holding, "acme": acme, "labs": labs, "beta": beta, "contacts": contacts}


def note(user, record, text: str):
    return activity_create(
        user=user,
        kind="note",
        description=text,
        links=[{"object_type": record.object_type(), "id": record.pk}],
    )


def activity_titles(user, record) -> set[str]:
    page = timeline_page(
        user=user,
        record=record,
        filters=timeline_filters(kinds=["task", "appointment", "call", "note", "email"]),
        limit=100,
    )
    return {entry.title for entry in page.entries}


def test_account_timeline_includes_child_accounts_and_their_contacts(rep, group):
    note(rep, group["holding"], "At holding")
    note(rep, group["acme"], "At acme")
    note(rep, group["labs"], "At labs")
    note(rep, group["contacts"]["Acme Labs"], "With the labs person")
    note(rep, group["contacts"]["Beta"], "With the beta person")
    assert activity_titles(rep, group["acme"]) == {
        "At acme",
        "At labs",
        "With the labs person",
    }
    assert len(activity_titles(rep, group["holding"])) == 5


def test_account_timeline_shows_changes_of_child_accounts_and_contacts(rep, group):
    account_update(user=rep, account=group["labs"], industry="Research")
    page = timeline_page(
        user=rep, record=group["acme"], filters=timeline_filters(kinds=["change"]), limit=100
    )
    titles = [entry.title for entry in page.entries]
    assert titles[0] == "Rita Rep changed the account Acme Labs"
    assert "Rita Rep created the contact Person at Acme Labs" in titles
    assert not any("Holding" in title or "Beta" in title for title in titles)


def test_contacts_related_to_the_account_count_too(rep, group):
    outsider = contact_create(user=rep, last_name="Advisor")
    relation_add(user=rep, account=group["acme"], contact_id=outsider.pk)
    note(rep, outsider, "Advice given")
    assert "Advice given" in activity_titles(rep, group["acme"])


def test_contact_timeline_covers_only_the_contact(rep, group):
    person = group["contacts"]["Acme"]
    note(rep, person, "Just them")
    note(rep, group["acme"], "The account")
    assert activity_titles(rep, person) == {"Just them"}


def test_a_hidden_contacts_activity_stays_hidden_until_the_user_may_see_it(rep, other_rep, group):
    share_grant(user=rep, record=group["acme"], grantee_user=other_rep)
    secret = contact_create(user=other_rep, last_name="Secret Person", account=group["acme"])
    note(other_rep, secret, "Only about the secret person")
    assert "Only about the secret person" not in activity_titles(rep, group["acme"])
    changes = timeline_page(user=rep, record=group["acme"], limit=100)
    assert not any("Secret Person" in entry.title for entry in changes.entries)

    share_grant(user=other_rep, record=secret, grantee_user=rep)
    rep.forget_access_profile()
    assert "Only about the secret person" in activity_titles(rep, group["acme"])


def test_a_hidden_child_account_is_left_out(rep, other_rep, group):
    share_grant(user=rep, record=group["labs"], grantee_user=other_rep)
    hidden = account_create(user=other_rep, name="Hidden Sub", parent=group["labs"])
    note(other_rep, hidden, "Hidden work")
    assert "Hidden work" not in activity_titles(rep, group["acme"])
    changes = timeline_page(user=rep, record=group["acme"], limit=100)
    assert not any("Hidden Sub" in entry.title for entry in changes.entries)


def test_the_scope_is_one_query(rep, group):
    rep.access_profile()
    with assert_max_queries(1):
        targets = account_scope(rep, group["acme"])
    assert [target.object_type for target in targets] == ["contacts.account", "contacts.contact"]


# ---------- query count does not grow with the entries ----------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _fill(rep, group, count: int) -> None:
    """``count`` entries of each kind the account timeline merges: notes and changes, on
    the account, a child account and contacts of both (so both pages hold the same mix)."""
    records = [
        group["acme"],
        group["labs"],
        group["contacts"]["Acme"],
        group["contacts"]["Acme Labs"],
    ]
    for index in range(count):
        record = records[index % len(records)]
        note(rep, record, f"Entry {index}")
        record.refresh_from_db()
        if isinstance(record, Contact):
            contact_update(user=rep, contact=record, title=f"Title {index}")
        else:
            account_update(user=rep, account=record, industry=f"Industry {index}")


def test_account_timeline_query_count_does_not_grow_with_entries(rep, group):
    client = Client()
    client.force_login(rep)
    acme = group["acme"].pk
    urls = [
        f"/ui/timeline/contacts.account/{acme}/",
        f"/api/v1/timeline/contacts.account/{acme}?limit=25",
    ]
    _fill(rep, group, 5)
    for url in urls:  # the first request of a session fills caches (content types, profile)
        _queries(client, url)
    few = [_queries(client, url) for url in urls]
    _fill(rep, group, 95)
    many = [_queries(client, url) for url in urls]
    assert many == few
    page = client.get(urls[1]).json()
    assert len(page["items"]) == 25
    assert page["next_cursor"]


def test_a_large_scope_goes_to_the_sources_as_subqueries(rep, group, monkeypatch):
    from patron.contacts import timeline as contacts_timeline

    note(rep, group["contacts"]["Acme Labs"], "Deep in the tree")
    note(rep, group["contacts"]["Beta"], "Beside the tree")
    monkeypatch.setattr(contacts_timeline, "SCOPE_ID_LIMIT", 2)
    targets = account_scope(rep, group["acme"])
    assert not isinstance(targets[0].ids, list)
    assert "Deep in the tree" in activity_titles(rep, group["acme"])
    assert "Beside the tree" not in activity_titles(rep, group["acme"])
