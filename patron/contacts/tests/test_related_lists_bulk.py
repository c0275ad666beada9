"""Saved views and bulk actions on the related-list pages (/contacts/<list>/): a view keeps
the filters and sort, opens them again, can be shared and is deleted only by its owner; the
selected rows are removed (or given a status) one by one, rows the user may not change are
refused by name, and a bad request changes nothing."""

from __future__ import annotations

import datetime
import html

import pytest
from django.test import Client

from patron.contacts import related_list_views
from patron.contacts.models import Contact, LiteratureRequest, Subscription
from patron.contacts.related_list_services import related_row_create
from patron.contacts.related_lists import LITERATURE_REQUESTS, SUBSCRIPTIONS
from patron.contacts.services import contact_create
from patron.core.choices import OrgWideAccess
from patron.core.models import ChangeLogEntry, SavedView
from patron.core.saved_views import saved_view_save
from patron.core.testing import assert_max_queries, grant, set_org_default
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

LIST = "/contacts/literature-requests/"
OBJECT_TYPE = "contacts.literaturerequest"
MAY_1 = datetime.date(2026, 5, 1)


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, first_name="Ana", last_name="Lee")


@pytest.fixture
def theirs(other_rep):
    return contact_create(user=other_rep, first_name="Theo", last_name="Theirs")


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _request(contact, user, item, **extra):
    return related_row_create(
        user=user,
        spec=LITERATURE_REQUESTS,
        contact=contact,
        item=item,
        channel="email",
        requested_on=MAY_1,
        **extra,
    )


def _subscription(contact, user, name, status="pending"):
    return related_row_create(
        user=user, spec=SUBSCRIPTIONS, contact=contact, name=name, kind="list", status=status
    )


def _page(response):
    return html.unescape(response.content.decode())


# ---------- saved views ----------


def test_saving_a_view_keeps_filters_and_sort_and_opening_it_applies_them(rep, ana):
    _request(ana, rep, "Sent brochure", fulfilled_on=MAY_1)
    _request(ana, rep, "Open price list")
    client = _client(rep)
    response = client.post(
        f"{LIST}views/",
        {"name": "Sent", "query": "fulfilled=true&sort=item&cursor=abc&channel="},
    )
    saved = SavedView.objects.get(user=rep, name="Sent")
    assert saved.object_type == OBJECT_TYPE
    assert saved.query == "fulfilled=true&sort=item"
    assert not saved.shared
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?view={saved.pk}"

    opened = client.get(response["Location"])
    assert opened.status_code == 302
    assert opened["Location"] == f"{LIST}?fulfilled=true&sort=item&view={saved.pk}"
    page = client.get(opened["Location"])
    text = _page(page)
    assert [row.item for row in page.context["page"].rows] == ["Sent brochure"]
    assert "Saved view: <strong>Sent</strong>" in text
    assert f'href="{LIST}?view={saved.pk}" aria-current="true"' in text
    assert f'action="{LIST}views/{saved.pk}/delete/"' in text


def test_saving_under_the_same_name_replaces_the_view(rep, ana):
    client = _client(rep)
    client.post(f"{LIST}views/", {"name": "Mine", "query": "channel=email"})
    client.post(f"{LIST}views/", {"name": "Mine", "query": "channel=post"})
    assert list(SavedView.objects.values_list("query", flat=True)) == ["channel=post"]


def test_a_view_without_a_name_is_not_saved_and_the_filters_are_kept(rep, ana):
    client = _client(rep)
    response = client.post(f"{LIST}views/", {"name": " ", "query": "channel=post"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?channel=post"
    assert not SavedView.objects.exists()
    page = _page(client.get(response["Location"]))
    assert "Give the view a name" in page


def test_a_shared_view_is_listed_for_others_who_may_not_delete_it(rep, other_rep, ana):
    client, other = _client(rep), _client(other_rep)
    client.post(f"{LIST}views/", {"name": "Team", "query": "channel=post", "shared": "on"})
    client.post(f"{LIST}views/", {"name": "Private one", "query": "channel=email"})
    team = SavedView.objects.get(name="Team")
    private = SavedView.objects.get(name="Private one")
    assert team.shared

    page = _page(other.get(LIST))
    assert "Team <span" in page
    assert "Shared</span>" in page
    assert "Private one" not in page
    assert f"views/{team.pk}/delete/" not in page
    assert other.get(f"{LIST}?view={private.pk}").status_code == 200  # not opened, no error

    refused = other.post(f"{LIST}views/{team.pk}/delete/", follow=True)
    assert "You can only delete your own saved views." in _page(refused)
    assert SavedView.objects.filter(pk=team.pk).exists()

    client.post(f"{LIST}views/{team.pk}/delete/")
    assert not SavedView.objects.filter(pk=team.pk).exists()


def test_each_list_shows_only_its_own_views(rep, ana):
    saved_view_save(user=rep, object_type=OBJECT_TYPE, name="Literature one", query="", columns=[])
    saved_view_save(
        user=rep, object_type="contacts.subscription", name="Subscription one", query="", columns=[]
    )
    saved_view_save(
        user=rep, object_type="contacts.contact", name="Contact one", query="", columns=[]
    )
    page = _page(_client(rep).get(LIST))
    assert "Literature one" in page
    assert "Subscription one" not in page
    assert "Contact one" not in page
    # Deleting through another list's address does not touch this list's view.
    view = SavedView.objects.get(name="Literature one")
    _client(rep).post(f"/contacts/subscriptions/views/{view.pk}/delete/")
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_the_list_page_query_count_is_fixed_however_many_views_and_rows(rep, other_rep, ana):
    client = _client(rep)
    _request(ana, rep, "First")
    client.get(LIST)

    def count() -> int:
        with assert_max_queries(13) as ctx:
            assert client.get(LIST).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for n in range(8):
        saved_view_save(user=rep, object_type=OBJECT_TYPE, name=f"Mine {n}", query="", columns=[])
        saved_view_save(
            user=other_rep,
            object_type=OBJECT_TYPE,
            name=f"Shared {n}",
            query="channel=email",
            columns=[],
            shared=True,
        )
        contact = contact_create(user=rep, last_name=f"Many{n}")
        _request(contact, rep, f"Row {n}")
    assert count() == few


# ---------- bulk actions ----------


def test_the_list_has_row_checkboxes_and_remove_but_status_only_where_rows_have_one(rep, ana):
    row = _request(ana, rep, "Brochure")
    _subscription(ana, rep, "Weekly")
    client = _client(rep)
    page = _page(client.get(LIST))
    assert f'name="ids" value="{row.pk}" aria-label="Select Brochure (Email, 2026-05-01) of' in page
    assert 'value="remove"' in page
    assert 'value="status"' not in page
    subscriptions = _page(client.get("/contacts/subscriptions/"))
    assert 'value="status"' in subscriptions
    assert "Keep status" in subscriptions


def test_a_reader_gets_no_bulk_bar(sales_roles, rep, ana):
    _request(ana, rep, "Brochure")
    role = make_role("Contact reader")
    grant(role, Contact.object_type(), "read")
    reader = UserFactory(role=role)
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)
    page = _page(_client(reader).get(LIST))
    assert "Brochure" in page
    assert 'name="ids"' not in page
    assert "Remove selected" not in page


def test_bulk_remove_removes_what_it_may_and_names_what_it_refuses(rep, other_rep, ana, theirs):
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)
    mine = [_request(ana, rep, f"Mine {n}") for n in range(2)]
    read_only = _request(theirs, other_rep, "Their catalogue")
    missing = 10**12
    client = _client(rep)
    response = client.post(
        f"{LIST}bulk/",
        {
            "action": "remove",
            "ids": [str(mine[0].pk), str(mine[1].pk), str(read_only.pk), str(missing)],
            "query": "sort=item&cursor=xyz",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?sort=item"
    assert list(LiteratureRequest.objects.values_list("pk", flat=True)) == [read_only.pk]
    page = _page(client.get(response["Location"]))
    assert "2 literature requests removed." in page
    assert "2 not removed:" in page
    assert "Their catalogue (Email, 2026-05-01) of Theo Theirs: You may not edit" in page
    assert f"#{missing}: not on a contact you can see" in page
    history = ChangeLogEntry.objects.filter(
        object_id=ana.pk, changes__has_key="Literature requests"
    )
    assert history.count() == 4  # two added, two removed


def test_bulk_remove_refuses_rows_of_contacts_the_user_cannot_see(rep, other_rep, theirs):
    hidden = _request(theirs, other_rep, "Secret")
    response = _client(rep).post(
        f"{LIST}bulk/", {"action": "remove", "ids": [hidden.pk]}, follow=True
    )
    page = _page(response)
    assert LiteratureRequest.objects.filter(pk=hidden.pk).exists()
    assert f"1 not removed: #{hidden.pk}: not on a contact you can see" in page
    assert "Secret" not in page


def test_bulk_set_status_changes_the_selected_subscriptions(rep, ana):
    weekly = _subscription(ana, rep, "Weekly")
    monthly = _subscription(ana, rep, "Monthly")
    untouched = _subscription(ana, rep, "Daily")
    response = _client(rep).post(
        "/contacts/subscriptions/bulk/",
        {"action": "status", "status": "unsubscribed", "ids": [weekly.pk, monthly.pk]},
        follow=True,
    )
    assert "2 subscriptions updated." in _page(response)
    statuses = dict(Subscription.objects.values_list("name", "status"))
    assert statuses == {"Weekly": "unsubscribed", "Monthly": "unsubscribed", "Daily": "pending"}
    assert untouched.status == "pending"


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        (f"{LIST}bulk/", {"action": "remove"}, "Select at least one literature request first."),
        (f"{LIST}bulk/", {"action": "remove", "ids": ["x", "-1"]}, "Select at least one"),
        (f"{LIST}bulk/", {"action": "remove", "ids": [str(10**30)]}, "Select at least one"),
        (f"{LIST}bulk/", {"action": "archive", "ids": ["ROW"]}, "unknown bulk action"),
        (f"{LIST}bulk/", {"ids": ["ROW"]}, "unknown bulk action"),
        (f"{LIST}bulk/", {"action": "status", "status": "x", "ids": ["ROW"]}, "no status to set"),
        (
            "/contacts/subscriptions/bulk/",
            {"action": "status", "status": "gone", "ids": ["SUB"]},
            "Nothing was changed: Select a valid choice.",
        ),
        (
            "/contacts/subscriptions/bulk/",
            {"action": "status", "status": "", "ids": ["SUB"]},
            "Choose the status to set",
        ),
    ],
)
def test_a_bad_bulk_request_changes_nothing_and_says_why(rep, ana, url, data, message):
    row = _request(ana, rep, "Kept")
    sub = _subscription(ana, rep, "Weekly")
    ids = {"ROW": str(row.pk), "SUB": str(sub.pk)}
    data = {**data, "ids": [ids.get(i, i) for i in data.get("ids", [])]}
    response = _client(rep).post(url, data, follow=True)
    assert response.status_code == 200
    assert message in _page(response)
    assert LiteratureRequest.objects.filter(pk=row.pk).exists()
    assert Subscription.objects.get(pk=sub.pk).status == "pending"


def test_bulk_acts_on_at_most_the_bulk_limit(rep, ana, monkeypatch):
    monkeypatch.setattr(related_list_views, "BULK_LIMIT", 2)
    rows = [_request(ana, rep, f"Row {n}") for n in range(3)]
    _client(rep).post(f"{LIST}bulk/", {"action": "remove", "ids": [r.pk for r in rows]})
    assert list(LiteratureRequest.objects.values_list("pk", flat=True)) == [rows[2].pk]


def test_bulk_and_views_need_a_role_that_may_see_contacts(rep, ana):
    row = _request(ana, rep, "Kept")
    stranger = UserFactory(role=make_role("No contacts"))
    client = _client(stranger)
    assert client.post(f"{LIST}bulk/", {"action": "remove", "ids": [row.pk]}).status_code == 403
    assert client.post(f"{LIST}views/", {"name": "X", "query": ""}).status_code == 403
    assert LiteratureRequest.objects.filter(pk=row.pk).exists()
    assert not SavedView.objects.exists()


def test_bulk_and_views_only_accept_posts(rep):
    client = _client(rep)
    assert client.get(f"{LIST}bulk/").status_code == 405
    assert client.get(f"{LIST}views/").status_code == 405
