"""The timeline merge: order across sources, keyset paging, filters, cursors, the change log,
the page and the API."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.core import signing
from django.test import Client

from patron.contacts.services import account_create, account_update
from patron.core import timeline
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.testing import Endpoint, check_visibility_matrix
from patron.core.timeline import (
    Before,
    InvalidTimelineCursor,
    Target,
    TimelineEntry,
    TimelineKind,
    TimelineSource,
    timeline_filters,
    timeline_page,
    timeline_record,
)

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)


def _admits(before: Before | None, entry: TimelineEntry) -> bool:
    """What ``Before.q`` selects in SQL, for sources kept in memory."""
    if before is None:
        return True
    if before.ties == "all":
        return entry.at <= before.at
    if before.ties == "none":
        return entry.at < before.at
    return entry.at < before.at or (entry.at == before.at and entry.id < before.id)


def memory_source(key: str, kinds: tuple[TimelineKind, ...], rows: list[tuple[int, int, str]]):
    """A source over (minutes after T0, id, kind) rows."""
    entries = [
        TimelineEntry(
            at=T0 + datetime.timedelta(minutes=minutes),
            kind=kind,
            department=next(k.department for k in kinds if k.key == kind),
            title=f"{key}-{entry_id}",
            summary="",
            url=None,
            actor="Someone",
            source=key,
            id=entry_id,
        )
        for minutes, entry_id, kind in rows
    ]

    def fetch(user, targets, before, limit, wanted):
        found = [e for e in entries if e.kind in wanted and _admits(before, e)]
        found.sort(key=lambda e: (e.at, e.id), reverse=True)
        return found[:limit]

    return TimelineSource(key, kinds, fetch)


CALL = TimelineKind("call", "Call", "sales")
MAIL = TimelineKind("mailing", "Mailing", "marketing")
CASE = TimelineKind("case", "Case", "service")


@pytest.fixture
def only_memory_sources(monkeypatch):
    """Replace the registered sources and scopes for one test."""
    sources: dict[str, TimelineSource] = {}
    monkeypatch.setattr(timeline, "_sources", sources)
    monkeypatch.setattr(timeline, "_scopes", {})
    return sources


@pytest.fixture
def acme(rep):
    return account_create(user=rep, name="Acme Corporation")


def _titles(page) -> list[str]:
    return [entry.title for entry in page.entries]


def test_merge_orders_by_time_then_source_then_id(only_memory_sources, rep, acme):
    only_memory_sources["b"] = memory_source("b", (CALL,), [(5, 1, "call"), (5, 2, "call")])
    only_memory_sources["a"] = memory_source("a", (MAIL,), [(5, 7, "mailing"), (1, 8, "mailing")])
    only_memory_sources["c"] = memory_source("c", (CASE,), [(9, 3, "case")])
    page = timeline_page(user=rep, record=acme)
    assert _titles(page) == ["c-3", "a-7", "b-2", "b-1", "a-8"]
    assert page.next_cursor is None


def test_paging_has_no_gaps_or_repeats_across_sources_with_equal_times(
    only_memory_sources, rep, acme
):
    # Three sources, many entries at the same few instants, ids overlapping across sources.
    only_memory_sources["a"] = memory_source(
        "a",
        (CALL,),
        [(minute % 3, i, "call") for i, minute in zip(range(1, 12), itertools.count())],
    )
    only_memory_sources["b"] = memory_source(
        "b",
        (MAIL,),
        [(minute % 2, i, "mailing") for i, minute in zip(range(1, 9), itertools.count())],
    )
    only_memory_sources["c"] = memory_source("c", (CASE,), [(1, i, "case") for i in range(1, 6)])
    everything = _titles(timeline_page(user=rep, record=acme, limit=100))
    assert len(everything) == 11 + 8 + 5
    for size in (1, 2, 3, 7):
        seen: list[str] = []
        cursor = ""
        while True:
            page = timeline_page(user=rep, record=acme, cursor=cursor, limit=size)
            assert len(page.entries) <= size
            seen.extend(_titles(page))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == everything, f"page size {size}"


def test_filters_by_kind_and_department(only_memory_sources, rep, acme):
    only_memory_sources["a"] = memory_source("a", (CALL, MAIL), [(1, 1, "call"), (2, 2, "mailing")])
    only_memory_sources["c"] = memory_source("c", (CASE,), [(3, 3, "case")])
    by_kind = timeline_page(user=rep, record=acme, filters=timeline_filters(kinds=["call", "case"]))
    assert _titles(by_kind) == ["c-3", "a-1"]
    by_department = timeline_page(
        user=rep, record=acme, filters=timeline_filters(department="marketing")
    )
    assert _titles(by_department) == ["a-2"]
    both = timeline_page(
        user=rep, record=acme, filters=timeline_filters(kinds=["call"], department="service")
    )
    assert both.entries == []


def test_unknown_kind_or_department_is_refused_naming_the_choices(only_memory_sources):
    only_memory_sources["a"] = memory_source("a", (CALL,), [])
    with pytest.raises(ValidationFailed) as caught:
        timeline_filters(kinds=["fax"], department="legal")
    assert caught.value.status == 422
    assert "call" in caught.value.errors["kind"][0]
    assert "sales" in caught.value.errors["department"][0]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        signing.dumps([T0.isoformat(), "a", 1], salt="another.salt"),
        signing.dumps({"at": T0.isoformat()}, salt="patron.timeline.cursor"),
        signing.dumps(["not a date", "a", 1], salt="patron.timeline.cursor"),
        signing.dumps(["2026-11-01T09:00:00", "a", 1], salt="patron.timeline.cursor"),
        signing.dumps([T0.isoformat(), "a", "1"], salt="patron.timeline.cursor"),
    ],
    # Signed values carry a timestamp: fixed ids keep the test ids equal in every xdist worker.
    ids=[
        "garbage",
        "other-salt",
        "not-a-list",
        "bad-date",
        "naive-date",
        "id-not-a-number",
    ],
)
def test_bad_cursor_is_a_clear_400(only_memory_sources, rep, acme, cursor):
    with pytest.raises(InvalidTimelineCursor) as caught:
        timeline_page(user=rep, record=acme, cursor=cursor)
    assert caught.value.status == 400
    assert "cursor" in caught.value.errors


def test_page_size_outside_bounds_is_refused(only_memory_sources, rep, acme):
    with pytest.raises(ValidationFailed) as caught:
        timeline_page(user=rep, record=acme, limit=0)
    assert "limit" in caught.value.errors


def test_timeline_record_hides_what_the_user_cannot_read(rep, other_rep, acme):
    assert timeline_record(user=rep, object_type="contacts.account", pk=acme.pk) == acme
    for object_type, pk in (
        ("contacts.account", acme.pk),
        ("contacts.nothing", 1),
        ("core.changelogentry", 1),
        ("nonsense", 1),
    ):
        with pytest.raises(RecordNotFound):
            timeline_record(user=other_rep, object_type=object_type, pk=pk)


# ---------- the change log source (real rows) ----------


def test_change_log_entries_say_who_changed_what(rep, acme):
    account_update(user=rep, account=acme, industry="Retail", website="https://acme.example")
    page = timeline_page(user=rep, record=acme, filters=timeline_filters(kinds=["change"]))
    assert [entry.title for entry in page.entries] == [
        "Rita Rep changed the account Acme Corporation",
        "Rita Rep created the account Acme Corporation",
    ]
    assert "Industry" in page.entries[0].summary
    assert "Website" in page.entries[0].summary
    assert page.entries[0].department == ""


def test_change_log_pages_by_keyset_when_times_are_equal(rep, acme):
    from patron.core.models import ChangeLogEntry

    for n in range(5):
        account_update(user=rep, account=acme, industry=f"Industry {n}")
    ChangeLogEntry.objects.filter(object_id=acme.pk).update(at=T0)
    ids = list(
        ChangeLogEntry.objects.filter(object_id=acme.pk)
        .order_by("-id")
        .values_list("pk", flat=True)
    )
    change_only = timeline_filters(kinds=["change"])
    seen: list[int] = []
    cursor = ""
    while True:
        page = timeline_page(user=rep, record=acme, filters=change_only, cursor=cursor, limit=2)
        seen.extend(entry.id for entry in page.entries)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == ids


def test_changes_leave_department_filters(rep, acme):
    page = timeline_page(user=rep, record=acme, filters=timeline_filters(department="sales"))
    assert all(entry.kind != "change" for entry in page.entries)


def test_before_keeps_same_time_entries_by_source_order():
    assert str(Before(T0, 5, "all").q()) == str(Before(T0, 9, "all").q())
    assert "id__lt" in str(Before(T0, 5, "below").q())
    assert "id__lt" not in str(Before(T0, 5, "none").q())


def test_a_record_without_a_scope_covers_itself(monkeypatch, rep, acme):
    monkeypatch.setattr(timeline, "_scopes", {})
    assert timeline.timeline_scope(rep, acme) == [Target("contacts.account", [acme.pk])]


# ---------- the page and the API ----------


@pytest.fixture
def client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def test_timeline_page_renders_without_javascript(client_for, rep, acme):
    account_update(user=rep, account=acme, industry="Retail")
    response = client_for(rep).get(f"/ui/timeline/contacts.account/{acme.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Timeline of" in body
    assert "changed the account Acme Corporation" in body
    assert 'name="kind"' in body
    assert 'id="timeline-department"' in body


def test_timeline_htmx_parts(client_for, rep, acme, monkeypatch):
    from patron.core import timeline_views

    monkeypatch.setattr(timeline_views, "PAGE_SIZE", 2)
    for n in range(3):
        account_update(user=rep, account=acme, industry=f"Industry {n}")
    client = client_for(rep)
    url = f"/ui/timeline/contacts.account/{acme.pk}/"
    body = client.get(url, headers={"HX-Request": "true", "HX-Target": "timeline-body"})
    assert body.status_code == 200
    html = body.content.decode()
    assert "<ol" in html
    assert "<html" not in html
    assert 'id="timeline-more"' in html
    more_url = html.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    more = client.get(more_url, headers={"HX-Request": "true", "HX-Target": "timeline-more"})
    assert more.status_code == 200
    assert "<ol" not in more.content.decode()
    assert "timeline-entry" in more.content.decode()


def test_timeline_page_refuses_bad_input_with_a_message(client_for, rep, acme):
    client = client_for(rep)
    url = f"/ui/timeline/contacts.account/{acme.pk}/"
    bad_cursor = client.get(url + "?cursor=nonsense")
    assert bad_cursor.status_code == 400
    assert b"The cursor is not valid" in bad_cursor.content
    bad_kind = client.get(
        url + "?kind=fax", headers={"HX-Request": "true", "HX-Target": "timeline-body"}
    )
    assert bad_kind.status_code == 422
    assert b"Unknown kind" in bad_kind.content


def test_detail_page_shows_the_timeline_card(client_for, rep, acme):
    response = client_for(rep).get(f"/accounts/{acme.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="timeline-card"' in body
    assert 'hx-trigger="timeline-changed from:body"' in body
    assert "created the account Acme Corporation" in body


def test_api_pages_and_filters(client_for, rep, acme):
    for n in range(3):
        account_update(user=rep, account=acme, industry=f"Industry {n}")
    client = client_for(rep)
    url = f"/api/v1/timeline/contacts.account/{acme.pk}"
    first = client.get(url, {"limit": 3, "kind": "change"})
    assert first.status_code == 200
    data = first.json()
    assert len(data["items"]) == 3
    assert data["next_cursor"]
    assert data["items"][0]["kind"] == "change"
    assert data["items"][0]["source"] == "changes"
    rest = client.get(url, {"limit": 3, "kind": "change", "cursor": data["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    ids = [item["id"] for item in data["items"] + rest["items"]]
    assert len(set(ids)) == 4


def test_api_bad_input_is_problem_json(client_for, rep, acme):
    client = client_for(rep)
    url = f"/api/v1/timeline/contacts.account/{acme.pk}"
    bad_cursor = client.get(url, {"cursor": "x"})
    assert bad_cursor.status_code == 400
    assert bad_cursor["Content-Type"].startswith("application/problem+json")
    assert "cursor" in bad_cursor.json()["errors"]
    bad_kind = client.get(url, {"kind": "call,fax"})
    assert bad_kind.status_code == 422
    assert "kind" in bad_kind.json()["errors"]
    bad_limit = client.get(url, {"limit": 1000})
    assert bad_limit.status_code == 422
    missing = client.get("/api/v1/timeline/contacts.account/999999")
    assert missing.status_code == 404


def test_timeline_visibility_matrix(rep, other_rep, acme):
    check_visibility_matrix(
        [
            Endpoint("timeline page", f"/ui/timeline/contacts.account/{acme.pk}/", "detail"),
            Endpoint("timeline API", f"/api/v1/timeline/contacts.account/{acme.pk}", "detail"),
        ],
        marker="Acme Corporation",
        allowed=rep,
        denied=other_rep,
    )
