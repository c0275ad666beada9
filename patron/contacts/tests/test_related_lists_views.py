"""The related-list pages: a card per list on the contact page, add/edit/remove forms that keep
bad input, the list page across contacts (filters, sort, paging, CSV), social handles on the
contact form and page, and who sees what."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.test import Client

from patron.contacts.models import Contact, LiteratureRequest, Subscription, TrainingAttendance
from patron.contacts.related_list_services import consent_record, related_row_create
from patron.contacts.related_list_views import social_links
from patron.contacts.related_lists import LITERATURE_REQUESTS, SUBSCRIPTIONS
from patron.contacts.services import contact_create
from patron.core.choices import OrgWideAccess, SecurityEventKind
from patron.core.models import SecurityEvent
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    set_org_default,
)

pytestmark = pytest.mark.django_db

MARKER = "Zwoelfton"
MAY_1 = datetime.date(2026, 5, 1)


@pytest.fixture
def ana(rep):
    return contact_create(user=rep, first_name="Ana", last_name="Lee")


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _request(contact, user, item=MARKER, **extra):
    return related_row_create(
        user=user,
        spec=LITERATURE_REQUESTS,
        contact=contact,
        item=item,
        channel=extra.pop("channel", "email"),
        requested_on=extra.pop("requested_on", MAY_1),
        **extra,
    )


def test_the_contact_page_has_a_card_per_list_with_add_edit_and_remove(rep, ana):
    row = _request(ana, rep)
    consent_record(user=rep, contact=ana, purpose="newsletter", status="granted", source="web_form")
    page = _client(rep).get(f"/contacts/{ana.pk}/").content.decode()
    for title in (
        "Competitor products owned",
        "Literature requests",
        "Subscriptions",
        "Training courses attended",
        "Consent",
    ):
        assert f">{title}</h2>" in page
    assert MARKER in page
    assert f"/contacts/{ana.pk}/literature-requests/add/" in page
    assert f"/contacts/{ana.pk}/literature-requests/{row.pk}/edit/" in page
    assert f"/contacts/{ana.pk}/literature-requests/{row.pk}/remove/" in page
    assert f"/contacts/literature-requests/?contact={ana.pk}" in page
    assert "Newsletter" in page


def test_a_reader_sees_the_cards_without_add_or_remove(rep, other_rep, ana):
    set_org_default(Contact.object_type(), OrgWideAccess.PUBLIC_READ)
    row = _request(ana, rep)
    page = _client(other_rep).get(f"/contacts/{ana.pk}/").content.decode()
    assert MARKER in page
    assert "/literature-requests/add/" not in page
    assert f"/literature-requests/{row.pk}/remove/" not in page
    response = _client(other_rep).get(f"/contacts/{ana.pk}/literature-requests/add/")
    assert response.status_code == 403
    response = _client(other_rep).post(f"/contacts/{ana.pk}/literature-requests/{row.pk}/remove/")
    assert response.status_code == 403
    assert LiteratureRequest.objects.filter(pk=row.pk).exists()


def test_adding_a_row_returns_to_the_contact_card(rep, ana):
    response = _client(rep).post(
        f"/contacts/{ana.pk}/training-attendances/add/",
        {"course": "Admin 101", "attended_on": "2026-05-01", "result": "passed", "certificate": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{ana.pk}/#related-training-attendances"
    assert TrainingAttendance.objects.get(contact=ana).course == "Admin 101"


def test_bad_input_is_shown_again_with_the_errors_and_nothing_saved(rep, ana):
    response = _client(rep).post(
        f"/contacts/{ana.pk}/literature-requests/add/",
        {
            "item": "Price list for 2027",
            "channel": "email",
            "requested_on": "2026-06-01",
            "fulfilled_on": "2026-05-01",
            "notes": "Send the PDF",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "before it was made (2026-06-01)" in page
    assert 'value="Price list for 2027"' in page
    assert "Send the PDF" in page
    assert not LiteratureRequest.objects.exists()


def test_a_duplicate_subscription_is_an_error_on_its_name(rep, ana):
    related_row_create(
        user=rep, spec=SUBSCRIPTIONS, contact=ana, name="Weekly", kind="list", status="subscribed"
    )
    response = _client(rep).post(
        f"/contacts/{ana.pk}/subscriptions/add/",
        {"name": "Weekly", "kind": "list", "status": "pending", "opt_in_source": ""},
    )
    assert response.status_code == 422
    assert "already has a subscription" in response.content.decode()
    assert Subscription.objects.count() == 1


def test_editing_and_removing_a_row_from_the_card(rep, ana):
    row = _request(ana, rep)
    client = _client(rep)
    form = client.get(f"/contacts/{ana.pk}/literature-requests/{row.pk}/edit/")
    assert form.status_code == 200
    assert f'value="{MARKER}"' in form.content.decode()
    response = client.post(
        f"/contacts/{ana.pk}/literature-requests/{row.pk}/edit/",
        {"item": MARKER, "channel": "post", "requested_on": "2026-05-01", "fulfilled_on": ""},
    )
    assert response.status_code == 302
    assert LiteratureRequest.objects.get(pk=row.pk).channel == "post"
    response = client.post(f"/contacts/{ana.pk}/literature-requests/{row.pk}/remove/")
    assert response.status_code == 302
    assert not LiteratureRequest.objects.exists()
    history = client.get(f"/contacts/{ana.pk}/").context["changes"]
    logged = [c for row in history for c in row["changes"] if c["label"] == "Literature requests"]
    assert [(c["old"], c["new"]) for c in logged] == [
        (f"{MARKER} (Post, 2026-05-01)", None),
        (f"{MARKER} (Email, 2026-05-01)", f"{MARKER} (Post, 2026-05-01)"),
        (None, f"{MARKER} (Email, 2026-05-01)"),
    ]


def test_recording_consent_from_the_page_replaces_the_answer(rep, ana):
    client = _client(rep)
    for status in ("granted", "withdrawn"):
        response = client.post(
            f"/contacts/{ana.pk}/consents/add/",
            {
                "purpose": "marketing_email",
                "status": status,
                "source": "phone",
                "recorded_at": "2026-05-01T10:00",
                "evidence": "Call",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    consent = ana.contactconsent_set.get()
    assert consent.status == "withdrawn"
    assert Contact.objects.get(pk=ana.pk).email_opt_out is True


def test_consent_without_a_source_is_refused(rep, ana):
    response = _client(rep).post(
        f"/contacts/{ana.pk}/consents/add/",
        {"purpose": "sms", "status": "granted", "source": "", "recorded_at": "2026-05-01T10:00"},
    )
    assert response.status_code == 422
    assert "This field is required" in response.content.decode()


def test_the_list_page_filters_sorts_and_pages(rep, ana):
    for n in range(55):
        _request(ana, rep, item=f"Item {n:02d}", fulfilled_on=MAY_1 if n % 2 else None)
    client = _client(rep)
    first = client.get("/contacts/literature-requests/?sort=item")
    page = first.content.decode()
    assert first.status_code == 200
    assert "Item 00" in page
    assert "Item 49" in page
    assert "Item 50" not in page
    cursor = first.context["page"].next_cursor
    second = client.get(f"/contacts/literature-requests/?sort=item&cursor={cursor}")
    assert "Item 54" in second.content.decode()
    fulfilled = client.get("/contacts/literature-requests/?fulfilled=true&sort=item")
    rows = fulfilled.context["page"].rows
    assert {row.fulfilled_on for row in rows} == {MAY_1}
    assert len(rows) == 27
    bad = client.get("/contacts/literature-requests/?requested_after=yesterday")
    assert bad.status_code == 200
    assert "Enter a valid date" in bad.content.decode()
    huge = client.get(f"/contacts/literature-requests/?contact={10**30}")
    assert huge.status_code == 200
    assert "less than or equal to" in huge.content.decode()


def test_the_list_page_query_count_does_not_grow_with_rows(rep, ana):
    client = _client(rep)
    _request(ana, rep)
    client.get("/contacts/literature-requests/")

    def count() -> int:
        with assert_max_queries(12) as ctx:
            assert client.get("/contacts/literature-requests/").status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for n in range(20):
        contact = contact_create(user=rep, last_name=f"Many{n}")
        _request(contact, rep, item=f"Row {n}")
    assert count() == few


def test_the_contact_page_cards_cost_a_fixed_number_of_queries(rep, ana):
    client = _client(rep)

    def count() -> int:
        with assert_max_queries(60) as ctx:
            assert client.get(f"/contacts/{ana.pk}/").status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for n in range(12):
        _request(ana, rep, item=f"Row {n}")
        related_row_create(
            user=rep, spec=SUBSCRIPTIONS, contact=ana, name=f"S{n}", kind="list", status="pending"
        )
    assert count() <= few + 2  # the change log and search index grow, not the cards


def test_csv_download_has_the_filtered_rows_and_is_logged(rep, other_rep, ana):
    _request(ana, rep, item="=HYPERLINK(evil)")
    _request(ana, rep, item="Kept", channel="post")
    theirs = contact_create(user=other_rep, last_name="Theirs")
    _request(theirs, other_rep, item="Not mine")
    response = _client(rep).get("/contacts/literature-requests/export/?channel=email")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["contact_id", "contact", "item", "channel"]
    assert [row[2] for row in rows[1:]] == ["'=HYPERLINK(evil)"]
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT, user=rep).exists()


def test_an_unknown_list_is_not_found(rep):
    assert _client(rep).get("/contacts/not-a-list/").status_code == 404


def test_related_rows_are_shown_only_to_who_may_see_the_contact(rep, other_rep, ana):
    row = _request(ana, rep)
    check_visibility_matrix(
        [
            Endpoint("list page", "/contacts/literature-requests/", "list"),
            Endpoint("csv", "/contacts/literature-requests/export/", "list"),
            Endpoint("contact page", f"/contacts/{ana.pk}/", "detail"),
            Endpoint(
                "edit form", f"/contacts/{ana.pk}/literature-requests/{row.pk}/edit/", "detail"
            ),
            Endpoint("add form", f"/contacts/{ana.pk}/literature-requests/add/", "detail"),
        ],
        marker=MARKER,
        allowed=rep,
        denied=other_rep,
    )


def test_the_contact_form_edits_social_handles_and_keeps_other_networks(rep):
    contact = contact_create(
        user=rep, last_name="Social", social={"mastodon": "@ana@example.social", "github": "old"}
    )
    client = _client(rep)
    form = client.get(f"/contacts/{contact.pk}/edit/").content.decode()
    assert 'for="id_social_0">LinkedIn</label>' in form
    assert 'value="old"' in form
    response = client.post(
        f"/contacts/{contact.pk}/edit/",
        {
            "last_name": "Social",
            "owner": rep.pk,
            "version": contact.version,
            "social_linkedin": "ana-lee",
            "social_x": "@analee",
            "social_github": "",
            "social_website": "example.com",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Contact.objects.get(pk=contact.pk).social == {
        "mastodon": "@ana@example.social",
        "linkedin": "ana-lee",
        "x": "@analee",
        "website": "https://example.com",
    }
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert 'href="https://www.linkedin.com/in/ana-lee"' in page
    assert 'href="https://x.com/analee"' in page


def test_a_handle_with_spaces_is_refused_and_the_input_kept(rep):
    contact = contact_create(user=rep, last_name="Social")
    response = _client(rep).post(
        f"/contacts/{contact.pk}/edit/",
        {
            "last_name": "Social",
            "owner": rep.pk,
            "version": contact.version,
            "social_github": "a b",
        },
    )
    assert response.status_code == 422
    assert "without spaces" in response.content.decode()


def test_social_links_never_link_a_script():
    links = social_links(
        {
            "x": "javascript:alert(1)",
            "website": "javascript:alert(1)",
            "github": "https://github.com/a",
        }
    )
    urls = {link["key"]: link["url"] for link in links}
    assert urls == {
        "x": "https://x.com/javascript%3Aalert%281%29",
        "github": "https://github.com/a",
        "website": "",
    }
