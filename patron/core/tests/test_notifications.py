"""In-app notifications: sending once, the page, the bell badge and the API."""

from __future__ import annotations

import pytest

from patron.core.api.testing import assert_problem
from patron.core.models import Notification
from patron.core.notifications import (
    notification_mark_all_read,
    notification_mark_read,
    notification_send,
    notification_unread_count,
)
from patron.core.testing import assert_max_queries
from patron.users.services import token_create

pytestmark = pytest.mark.django_db

API = "/api/v1/notifications/"


def bearer(user, *scopes: str) -> dict[str, str]:
    _, secret = token_create(user=user, name="test", scopes=list(scopes))
    return {"Authorization": f"Bearer {secret}"}


def test_send_with_the_same_dedupe_key_notifies_once(rep):
    first, created = notification_send(
        user=rep, kind="reminder", title="Demo in 15 minutes", dedupe_key="reminder:1:2"
    )
    again, created_again = notification_send(
        user=rep, kind="reminder", title="Demo in 15 minutes", dedupe_key="reminder:1:2"
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Notification.objects.filter(user=rep).count() == 1


def test_sends_without_a_dedupe_key_are_all_kept(rep):
    notification_send(user=rep, kind="info", title="One")
    notification_send(user=rep, kind="info", title="Two")
    assert notification_unread_count(user=rep) == 2


def test_mark_read_keeps_the_first_time_and_mark_all_counts(rep):
    one, _ = notification_send(user=rep, kind="info", title="One")
    notification_send(user=rep, kind="info", title="Two")
    notification_mark_read(user=rep, notification=one)
    first_read = one.read_at
    notification_mark_read(user=rep, notification=one)
    assert one.read_at == first_read
    assert notification_mark_all_read(user=rep) == 1
    assert notification_unread_count(user=rep) == 0


def test_page_lists_only_my_notifications_newest_first(client, rep, other_rep):
    notification_send(user=rep, kind="info", title="Older for Rita")
    notification_send(user=rep, kind="info", title="Newer for Rita")
    notification_send(user=other_rep, kind="info", title="Secret for Otto")
    client.force_login(rep)
    body = client.get("/notifications/").content.decode()
    assert body.index("Newer for Rita") < body.index("Older for Rita")
    assert "Secret for Otto" not in body
    assert "2 unread" in body


def test_page_query_count_does_not_grow_with_notifications(client, rep):
    client.force_login(rep)
    notification_send(user=rep, kind="info", title="One")
    with assert_max_queries(12) as few:
        client.get("/notifications/")
    for index in range(20):
        notification_send(user=rep, kind="info", title=f"Note {index}")
    with assert_max_queries(len(few.captured_queries)):
        client.get("/notifications/")


def test_badge_shows_the_unread_count_and_the_layout_loads_it(client, rep):
    notification_send(user=rep, kind="info", title="One")
    client.force_login(rep)
    assert "1 unread" in client.get("/notifications/badge/").content.decode()
    assert 'hx-get="/notifications/badge/"' in client.get("/").content.decode()


def test_open_marks_read_and_follows_only_local_links(client, rep):
    local, _ = notification_send(user=rep, kind="info", title="Local", url="/activities/1/")
    foreign, _ = notification_send(user=rep, kind="info", title="Foreign", url="https://evil.test/")
    client.force_login(rep)
    response = client.post(f"/notifications/{local.pk}/read/", {"open": "1"})
    assert response.headers["Location"] == "/activities/1/"
    response = client.post(f"/notifications/{foreign.pk}/read/", {"open": "1"})
    assert response.headers["Location"] == "/notifications/"
    assert notification_unread_count(user=rep) == 0


def test_page_read_of_someone_elses_notification_is_404(client, rep, other_rep):
    theirs, _ = notification_send(user=other_rep, kind="info", title="Theirs")
    client.force_login(rep)
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_page_action(client, rep):
    notification_send(user=rep, kind="info", title="One")
    client.force_login(rep)
    assert client.post("/notifications/read-all/").status_code == 302
    assert notification_unread_count(user=rep) == 0


def test_api_lists_in_keyset_pages_with_unread_count(client, rep, other_rep):
    for index in range(3):
        notification_send(user=rep, kind="info", title=f"Note {index}")
    notification_send(user=other_rep, kind="info", title="Not mine")
    headers = bearer(rep, "users:read")
    first = client.get(API, {"limit": 2}, headers=headers).json()
    assert [item["title"] for item in first["items"]] == ["Note 2", "Note 1"]
    assert first["unread"] == 3
    second = client.get(API, {"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()
    assert [item["title"] for item in second["items"]] == ["Note 0"]
    assert second["next_cursor"] is None


def test_api_unread_filter_and_query_count(client, rep):
    one, _ = notification_send(user=rep, kind="info", title="Read one")
    notification_send(user=rep, kind="info", title="Unread one")
    notification_mark_read(user=rep, notification=one)
    client.force_login(rep)
    with assert_max_queries(8):
        body = client.get(API, {"unread": "true"}).json()
    assert [item["title"] for item in body["items"]] == ["Unread one"]


def test_api_read_and_read_all(client, rep, other_rep):
    mine, _ = notification_send(user=rep, kind="info", title="Mine")
    notification_send(user=rep, kind="info", title="Also mine")
    theirs, _ = notification_send(user=other_rep, kind="info", title="Theirs")
    headers = bearer(rep, "users:write")
    response = client.post(f"{API}{mine.pk}/read", headers=headers)
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    assert_problem(client.post(f"{API}{theirs.pk}/read", headers=headers), 404)
    assert client.post(f"{API}read-all", headers=headers).json() == {"marked": 1}


def test_api_refuses_a_tampered_cursor_and_a_read_only_token_writing(client, rep):
    response = client.get(API, {"cursor": "nonsense"}, headers=bearer(rep, "users:read"))
    assert_problem(response, 400, "cursor")
    response = client.post(f"{API}read-all", headers=bearer(rep, "users:read"))
    assert response.status_code == 403
