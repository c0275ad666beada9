"""The import history: every run reachable through pages (keyset, capped count), filtered
by object type and status, sorted by date; the page and the API share one FilterSet."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.test import TestCase
from django.utils import timezone

from patron.core.testing import assert_max_queries, grant
from patron.data_exchange.models import ImportRun
from patron.users.models import User
from patron.users.services import role_create

RUNS = 120


class ImportHistoryTests(TestCase):
    user: Any
    stranger: Any

    @classmethod
    def setUpTestData(cls) -> None:
        role = role_create(name="Importer")
        for object_type in ("contacts.contact", "contacts.account"):
            grant(role, object_type, "create", "read", "import")
        cls.user = User.objects.create_user("ann@example.com", "pw", role=role)
        cls.stranger = User.objects.create_user("sam@example.com", "pw", role=role)
        start = timezone.now() - datetime.timedelta(days=1)
        ImportRun.objects.bulk_create(
            [
                ImportRun(
                    object_type="contacts.account" if n % 3 == 0 else "contacts.contact",
                    status="done" if n % 2 == 0 else "failed",
                    file_name=f"run-{n:03d}.csv",
                    created_by=cls.user,
                    created_at=start + datetime.timedelta(minutes=n),
                )
                for n in range(RUNS)
            ]
            + [
                ImportRun(
                    object_type="contacts.contact",
                    file_name="not-yours.csv",
                    created_by=cls.stranger,
                    created_at=start,
                )
            ]
        )

    def files(self, html: str) -> list[str]:
        return re.findall(r"run-\d{3}\.csv", html)

    def next_url(self, html: str) -> str | None:
        found = re.search(r'href="([^"]*)" rel="next"', html)
        return found.group(1).replace("&amp;", "&") if found else None

    def test_pages_reach_every_run_newest_first_with_bounded_queries(self) -> None:
        self.client.force_login(self.user)
        seen: list[str] = []
        url: str | None = "/data/imports/"
        pages = 0
        while url:
            with assert_max_queries(8):
                response = self.client.get(url if url.startswith("/") else "/data/imports/" + url)
            assert response.status_code == 200
            html = response.content.decode()
            seen += self.files(html)
            url = self.next_url(html)
            pages += 1
        assert pages == 3
        assert seen == [f"run-{n:03d}.csv" for n in reversed(range(RUNS))]
        assert "not-yours.csv" not in "".join(seen)

    def test_filters_by_object_type_and_status_and_sorts_oldest_first(self) -> None:
        self.client.force_login(self.user)
        response = self.client.get(
            "/data/imports/",
            {"object_type": "contacts.account", "status": "done", "sort": "created"},
        )
        files = self.files(response.content.decode())
        expected = [f"run-{n:03d}.csv" for n in range(RUNS) if n % 3 == 0 and n % 2 == 0]
        assert files == expected
        assert "20 imports" in response.content.decode()

    def test_an_invalid_filter_says_so_instead_of_listing(self) -> None:
        self.client.force_login(self.user)
        response = self.client.get("/data/imports/", {"status": "exploded"})
        assert response.status_code == 422
        assert "Some filters are not valid" in response.content.decode()

    def test_csv_download_follows_the_filters(self) -> None:
        self.client.force_login(self.user)
        response = self.client.get("/data/imports/", {"status": "failed", "format": "csv"})
        lines = response.content.decode().strip().splitlines()
        assert len(lines) == 1 + RUNS // 2

    def test_api_filters_sorts_and_pages_with_bounded_queries(self) -> None:
        self.client.force_login(self.user)
        names: list[str] = []
        params: dict[str, Any] = {"object_type": "contacts.contact", "sort": "created", "limit": 30}
        while True:
            with assert_max_queries(6):
                response = self.client.get("/api/v1/data/imports", params)
            assert response.status_code == 200, response.content
            body = response.json()
            names += [item["file_name"] for item in body["items"]]
            if not body["next_cursor"]:
                break
            params["cursor"] = body["next_cursor"]
        assert names == [f"run-{n:03d}.csv" for n in range(RUNS) if n % 3 != 0]
        assert body["items"][0]["created_by_id"] == self.user.pk

    def test_api_refuses_unknown_filters_and_sorts(self) -> None:
        self.client.force_login(self.user)
        unknown = self.client.get("/api/v1/data/imports", {"kind": "x"})
        assert unknown.status_code == 422
        assert "kind" in unknown.json()["errors"]
        bad_sort = self.client.get("/api/v1/data/imports", {"sort": "size"})
        assert bad_sort.status_code == 422
        assert "sort" in bad_sort.json()["errors"]
