"""The duplicates page, its CSV and the API page candidate groups by keyset, in the same
sorts, keeping the filters, with a query count that does not grow with the page."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from html import unescape
from typing import Any
from unittest import mock

from django.test import TestCase

from patron.contacts.models import Contact
from patron.core.testing import grant
from patron.data_exchange import duplicate_views
from patron.data_exchange.duplicate_services import record_group
from patron.data_exchange.models import DuplicateGroup
from patron.users.services import token_create
from patron.users.tests.factories import UserFactory, make_role

EMAIL_GROUPS = 55
PHONE_GROUPS = 3


def _hrefs(html: str, rel: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'rel="{rel}" href="([^"]+)"', html)]


def _group_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="group-(\d+)"', html)]


class DuplicatePagingTests(TestCase):
    user: Any
    email_groups: list[DuplicateGroup]

    @classmethod
    def setUpTestData(cls) -> None:
        role = make_role("Deduper")
        grant(role, "contacts.contact", "create", "read", "update", "delete")
        cls.user = UserFactory(role=role, email="dedupe@example.com", full_name="Dee Duper")
        cls.email_groups = []
        for i in range(EMAIL_GROUPS + PHONE_GROUPS):
            a = Contact.objects.create(owner=cls.user, last_name=f"A{i}")
            b = Contact.objects.create(owner=cls.user, last_name=f"B{i}")
            kind = "email" if i < EMAIL_GROUPS else "phone"
            group = record_group(
                "contacts.contact",
                None,
                [a.pk, b.pk],
                similarity=60 + i % 7,
                match_key=f"{kind} g{i}",
            )
            assert group is not None
            if kind == "email":
                cls.email_groups.append(group)

    def setUp(self) -> None:
        self.client.force_login(self.user)
        # The first request after logging in also saves the session; count from the second.
        self.client.get("/data/duplicates/?status=dismissed")

    def test_page_walks_every_group_once_by_keyset_keeping_filters_and_sort(self) -> None:
        with self.assertNumQueries(7):
            first = self.client.get("/data/duplicates/?q=email&sort=found")
        html = first.content.decode()
        assert first.status_code == 200
        page_one = _group_ids(html)
        assert len(page_one) == duplicate_views.PAGE_SIZE
        assert _hrefs(html, "prev") == []
        (next_url,) = _hrefs(html, "next")
        for part in ("q=email", "sort=found", "cursor="):
            assert part in next_url
        assert "page=" not in next_url
        with self.assertNumQueries(7):
            second = self.client.get("/data/duplicates/" + next_url)
        html = second.content.decode()
        page_two = _group_ids(html)
        assert _hrefs(html, "next") == []
        newest_first = sorted((g.pk for g in self.email_groups), reverse=True)
        assert page_one + page_two == newest_first
        (prev_url,) = _hrefs(html, "prev")
        back = self.client.get("/data/duplicates/" + prev_url).content.decode()
        assert _group_ids(back) == page_one

    def test_page_sorted_by_similarity_matches_the_api_order(self) -> None:
        html = self.client.get("/data/duplicates/?sort=similarity&q=email").content.decode()
        _, secret = token_create(user=self.user, name="t", scopes=["data:read"])
        api = self.client_class(HTTP_AUTHORIZATION=f"Bearer {secret}")
        body = api.get("/api/v1/data/duplicates/groups?q=email&sort=similarity&limit=50").json()
        assert [item["id"] for item in body["items"]] == _group_ids(html)
        refused = api.get("/api/v1/data/duplicates/groups?sort=size")
        assert refused.status_code == 422
        assert "sort" in refused.json()["errors"]

    def test_unreadable_or_edited_cursor_starts_again_from_the_first_page(self) -> None:
        first = _group_ids(self.client.get("/data/duplicates/").content.decode())
        edited = json.dumps({"d": "n", "v": ["high", "x"]}).encode()
        for cursor in ("not-a-cursor", base64.urlsafe_b64encode(edited).decode()):
            response = self.client.get("/data/duplicates/", {"cursor": cursor})
            assert response.status_code == 200
            assert _group_ids(response.content.decode()) == first

    def test_csv_walks_every_matching_group_in_keyset_batches(self) -> None:
        with mock.patch.object(duplicate_views, "CSV_BATCH", 7):
            response = self.client.get("/data/duplicates/?q=email&format=csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        ids = [int(row[0]) for row in rows[1:]]
        assert sorted(ids) == sorted(g.pk for g in self.email_groups)
        assert len(ids) == len(set(ids))
