"""Saved import mappings belong to whoever saved them: every importer of the object type
uses them, only the owner or an administrator changes or deletes them (pages and API)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from patron.core.api.testing import assert_problem
from patron.core.exceptions import PermissionDenied
from patron.core.testing import assert_max_queries, grant
from patron.data_exchange import import_views
from patron.data_exchange.import_services import import_mapping_save, import_upload
from patron.data_exchange.models import ImportMapping, ImportRun
from patron.users.models import User
from patron.users.services import role_create

COLUMNS = {"Surname": "last_name", "Mail": "email"}


class MappingOwnershipTests(TestCase):
    owner: Any
    other: Any
    admin: Any
    mapping: ImportMapping

    @classmethod
    def setUpTestData(cls) -> None:
        role = role_create(name="Importer")
        grant(role, "contacts.contact", "create", "read", "update", "import")
        cls.owner = User.objects.create_user(
            "ann@example.com", "pw", role=role, full_name="Ann Lee"
        )
        cls.other = User.objects.create_user(
            "bob@example.com", "pw", role=role, full_name="Bob Ray"
        )
        cls.admin = User.objects.create_user("root@example.com", "pw", is_superuser=True)
        cls.mapping = import_mapping_save(
            user=cls.owner, object_type="contacts.contact", name="People", columns=COLUMNS
        )

    def api(self, user: Any, method: str, path: str, body: Any = None) -> Any:
        self.client.force_login(user)
        call = getattr(self.client, method)
        if body is None:
            return call(path)
        return call(path, body, content_type="application/json")

    def body(self, name: str = "People") -> dict[str, Any]:
        return {"name": name, "object_type": "contacts.contact", "columns": COLUMNS}

    # --- services ---

    def test_saving_under_another_users_name_is_refused_and_keeps_theirs(self) -> None:
        with pytest.raises(PermissionDenied) as ctx:
            import_mapping_save(
                user=self.other,
                object_type="contacts.contact",
                name="People",
                columns={"Name": "last_name"},
            )
        assert "belongs to Ann Lee" in ctx.value.detail
        self.mapping.refresh_from_db()
        assert self.mapping.columns == COLUMNS

    def test_owner_and_administrator_replace_it_by_name(self) -> None:
        for user in (self.owner, self.admin):
            saved = import_mapping_save(
                user=user,
                object_type="contacts.contact",
                name="People",
                columns={"Name": "last_name"},
            )
            assert saved.pk == self.mapping.pk
        self.mapping.refresh_from_db()
        assert (self.mapping.columns, self.mapping.created_by_id) == (
            {"Name": "last_name"},
            self.owner.pk,
        )

    # --- API ---

    def test_api_others_may_read_but_not_change_or_delete(self) -> None:
        url = f"/api/v1/data/import-mappings/{self.mapping.pk}"
        listed = self.api(self.other, "get", "/api/v1/data/import-mappings").json()
        assert [(m["name"], m["owner"], m["editable"]) for m in listed] == [
            ("People", self.owner.pk, False)
        ]
        assert self.api(self.other, "get", url).status_code == 200
        changed = self.api(self.other, "put", url, self.body("Mine now"))
        assert changed.status_code == 403
        assert changed["Content-Type"].startswith("application/problem+json")
        assert "belongs to Ann Lee" in changed.json()["detail"]
        deleted = self.api(self.other, "delete", url)
        assert deleted.status_code == 403
        assert "only its owner or an administrator" in deleted.json()["detail"]
        replaced = self.api(self.other, "post", "/api/v1/data/import-mappings", self.body())
        assert replaced.status_code == 403
        self.mapping.refresh_from_db()
        assert (self.mapping.name, self.mapping.columns) == ("People", COLUMNS)

    def test_api_owner_and_administrator_change_and_delete(self) -> None:
        url = f"/api/v1/data/import-mappings/{self.mapping.pk}"
        renamed = self.api(self.owner, "put", url, self.body("People v2"))
        assert renamed.status_code == 200
        assert renamed.json()["editable"] is True
        assert self.api(self.admin, "put", url, self.body("People v3")).status_code == 200
        assert self.api(self.admin, "delete", url).status_code == 204
        assert not ImportMapping.objects.filter(pk=self.mapping.pk).exists()

    def test_api_save_as_on_an_import_cannot_replace_someone_elses_mapping(self) -> None:
        run = import_upload(
            user=self.other,
            object_type="contacts.contact",
            upload=SimpleUploadedFile("a.csv", b"Surname\nLee\n"),
            file_name="a.csv",
        )
        response = self.api(
            self.other,
            "put",
            f"/api/v1/data/imports/{run.pk}/mapping",
            {"columns": {"Surname": "last_name"}, "save_as": "People"},
        )
        assert response.status_code == 403
        assert "belongs to Ann Lee" in response.json()["detail"]
        self.mapping.refresh_from_db()
        assert self.mapping.columns == COLUMNS
        run.refresh_from_db()
        assert run.status == "uploaded"

    # --- pages ---

    def test_page_shows_rename_and_delete_only_for_mappings_one_may_change(self) -> None:
        import_mapping_save(
            user=self.other, object_type="contacts.contact", name="Bob's", columns=COLUMNS
        )
        self.client.force_login(self.other)
        # Eight: one of them counts the mappings (capped) for the list's footer.
        with assert_max_queries(8):
            page = self.client.get("/data/imports/mappings/")
        html = page.content.decode()
        assert page.status_code == 200
        assert "Ann Lee" in html
        assert f'aria-label="Delete {self.mapping.name}"' not in html
        assert 'aria-label="Delete Bob&#x27;s"' in html
        self.client.force_login(self.admin)
        html = self.client.get("/data/imports/mappings/").content.decode()
        assert f'aria-label="Delete {self.mapping.name}"' in html

    def test_page_refuses_others_rename_and_delete_with_a_reason(self) -> None:
        self.client.force_login(self.other)
        pk = self.mapping.pk
        renamed = self.client.post(f"/data/imports/mappings/{pk}/rename/", {"name": "Mine"})
        assert renamed.status_code == 403
        assert "belongs to Ann Lee" in renamed.content.decode()
        deleted = self.client.post(f"/data/imports/mappings/{pk}/delete/")
        assert deleted.status_code == 403
        self.mapping.refresh_from_db()
        assert self.mapping.name == "People"

    def test_owner_renames_and_deletes_on_the_page(self) -> None:
        import_mapping_save(
            user=self.owner, object_type="contacts.contact", name="Taken", columns=COLUMNS
        )
        self.client.force_login(self.owner)
        pk = self.mapping.pk
        taken = self.client.post(f"/data/imports/mappings/{pk}/rename/", {"name": "Taken"})
        assert taken.status_code == 422
        assert "choose another name" in taken.content.decode()
        assert f'id="rename-{pk}" name="name" value="Taken"' in taken.content.decode()
        renamed = self.client.post(f"/data/imports/mappings/{pk}/rename/", {"name": "Staff"})
        assert renamed.status_code == 302
        self.mapping.refresh_from_db()
        assert self.mapping.name == "Staff"
        assert self.client.post(f"/data/imports/mappings/{pk}/delete/").status_code == 302
        assert not ImportMapping.objects.filter(pk=pk).exists()

    def test_import_page_keeps_the_entered_mapping_when_save_as_is_someone_elses(self) -> None:
        run = import_upload(
            user=self.other,
            object_type="contacts.contact",
            upload=SimpleUploadedFile("b.csv", b"Surname,Mail\nLee,lee@example.com\n"),
            file_name="b.csv",
        )
        self.client.force_login(self.other)
        page = self.client.get(f"/data/imports/{run.pk}/")
        assert "People (Ann Lee)" in page.content.decode()
        response = self.client.post(
            f"/data/imports/{run.pk}/",
            {
                "action": "preview",
                "col-0": "last_name",
                "col-1": "email",
                "mode": "create",
                "save_as": "People",
            },
        )
        assert response.status_code == 422
        html = response.content.decode()
        assert "belongs to Ann Lee" in html
        assert 'value="People"' in html
        self.mapping.refresh_from_db()
        assert self.mapping.columns == COLUMNS
        assert ImportRun.objects.get(pk=run.pk).status == "uploaded"


def _names(html: str) -> list[str]:
    cells = re.findall(r'<th scope="row" class="break-all">([^<]*)</th>', html)
    return [unescape(cell) for cell in cells]


def _href(html: str, rel: str) -> str:
    found = re.findall(rf'href="([^"]+)" rel="{rel}"', html)
    return unescape(found[0]) if found else ""


def _importer() -> Any:
    """A user whose role may read and import contacts and leads."""
    role = role_create(name="Importer")
    grant(role, "contacts.contact", "read", "import")
    grant(role, "leads.lead", "read", "import")
    return User.objects.create_user("ann@example.com", "pw", role=role, full_name="Ann Lee")


class MappingListTests(TestCase):
    """The saved-mappings page: keyset pages, a filter by object type, sorted by name."""

    user: Any
    names: list[str]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = _importer()
        count = import_views.PAGE_SIZE + 5
        cls.names = [f"Contacts {i:02d}" for i in range(count)]
        ImportMapping.objects.bulk_create(
            [
                ImportMapping(object_type="contacts.contact", name=name, created_by=cls.user)
                for name in reversed(cls.names)
            ]
            + [ImportMapping(object_type="leads.lead", name="Leads", created_by=cls.user)]
            # An object type the user may not import is never listed.
            + [ImportMapping(object_type="orders.product", name="Products")]
        )

    def setUp(self) -> None:
        self.client.force_login(self.user)
        # The first request after logging in also saves the session; count from the second.
        self.client.get("/data/imports/mappings/?object_type=leads.lead")

    def test_mappings_page_pages_by_keyset_sorted_by_name_with_constant_queries(self) -> None:
        url = "/data/imports/mappings/?object_type=contacts.contact"
        with self.assertNumQueries(5):
            first = self.client.get(url).content.decode()
        assert _names(first) == self.names[: import_views.PAGE_SIZE]
        assert "More than" not in first
        assert f"{len(self.names)} mappings" in first
        next_url = _href(first, "next")
        assert "object_type=contacts.contact" in next_url
        assert "cursor=" in next_url
        with self.assertNumQueries(5):
            second = self.client.get("/data/imports/mappings/" + next_url).content.decode()
        assert _names(second) == self.names[import_views.PAGE_SIZE :]
        assert _href(second, "next") == ""
        back = self.client.get("/data/imports/mappings/" + _href(second, "prev")).content.decode()
        assert _names(back) == self.names[: import_views.PAGE_SIZE]

    def test_mappings_page_filters_by_object_type_and_sorts_by_name_descending(self) -> None:
        leads = self.client.get("/data/imports/mappings/?object_type=leads.lead").content.decode()
        assert _names(leads) == ["Leads"]
        products = self.client.get("/data/imports/mappings/?object_type=orders.product")
        assert _names(products.content.decode()) == []
        assert "No mappings match" in products.content.decode()
        newest = self.client.get("/data/imports/mappings/?sort=-name").content.decode()
        assert _names(newest)[:2] == ["Leads", self.names[-1]]
        assert "Products" not in newest

    def test_refused_rename_shows_the_same_page_and_success_returns_to_it(self) -> None:
        first = self.client.get("/data/imports/mappings/").content.decode()
        query = _href(first, "next").lstrip("?")
        mapping = ImportMapping.objects.get(name=self.names[-1])
        rename = f"/data/imports/mappings/{mapping.pk}/rename/?{query}"
        taken = self.client.post(rename, {"name": self.names[0]})
        assert taken.status_code == 422
        assert f'id="rename-{mapping.pk}" name="name" value="{self.names[0]}"' in (
            taken.content.decode()
        )
        renamed = self.client.post(rename, {"name": "Contacts zz"})
        assert renamed.status_code == 302
        assert renamed["Location"] == f"/data/imports/mappings/?{query}"


def _next_link(response: Any) -> str:
    """The URL of the response's ``Link: <URL>; rel="next"`` header, or "" without one."""
    found = re.fullmatch(r'<([^>]+)>; rel="next"', response.get("Link", ""))
    return found.group(1) if found else ""


class MappingApiPagingTests(TestCase):
    """The saved-mappings API list: still a plain list, paged by ``limit`` and ``cursor``
    with the next page in a Link header."""

    user: Any
    names: list[str]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = _importer()
        contacts = [f"Contacts {i}" for i in range(4)]
        ImportMapping.objects.bulk_create(
            [ImportMapping(object_type="leads.lead", name="Leads", created_by=cls.user)]
            + [
                ImportMapping(object_type="contacts.contact", name=name, created_by=cls.user)
                for name in reversed(contacts)
            ]
            # An object type the user may not import is never listed.
            + [ImportMapping(object_type="orders.product", name="Products")]
        )
        # By object type, then name, as the list has always been.
        cls.names = [*contacts, "Leads"]

    def setUp(self) -> None:
        self.client.force_login(self.user)
        # The first request after logging in also saves the session; count from the second.
        self.client.get("/api/v1/data/import-mappings?object_type=leads.lead")

    def test_pages_of_two_walk_every_mapping_once_in_order_with_a_next_link(self) -> None:
        url = "/api/v1/data/import-mappings?limit=2"
        pages: list[list[str]] = []
        links: list[str] = []
        while url:
            with self.assertNumQueries(4):
                response = self.client.get(url)
            assert response.status_code == 200
            pages.append([mapping["name"] for mapping in response.json()])
            url = _next_link(response)
            links.append(url)
        assert pages == [self.names[0:2], self.names[2:4], self.names[4:]]
        base = "http://testserver/api/v1/data/import-mappings?"
        assert all(link.startswith(base) for link in links[:-1])
        assert links[-1] == ""

    def test_next_link_keeps_the_object_type_filter(self) -> None:
        url = "/api/v1/data/import-mappings?object_type=contacts.contact&limit=3"
        first = self.client.get(url)
        second = self.client.get(_next_link(first))
        assert "object_type=contacts.contact" in _next_link(first)
        assert [m["name"] for m in first.json() + second.json()] == self.names[:4]
        assert _next_link(second) == ""

    def test_without_limit_every_mapping_comes_in_one_list_without_a_link(self) -> None:
        response = self.client.get("/api/v1/data/import-mappings")
        assert [mapping["name"] for mapping in response.json()] == self.names
        assert "Link" not in response
        exactly = self.client.get(f"/api/v1/data/import-mappings?limit={len(self.names)}")
        assert [mapping["name"] for mapping in exactly.json()] == self.names
        assert "Link" not in exactly

    def test_altered_cursor_is_refused_with_400_naming_the_cursor(self) -> None:
        link = _next_link(self.client.get("/api/v1/data/import-mappings?limit=2"))
        cursor = link.split("cursor=", 1)[1]
        for bad in (cursor[:-2] + "xx", "not-a-cursor"):
            response = self.client.get(f"/api/v1/data/import-mappings?limit=2&cursor={bad}")
            problem = assert_problem(response, 400, "cursor")
            assert "The cursor is not valid" in problem["detail"]

    def test_limit_outside_1_to_500_is_refused_with_422_naming_it(self) -> None:
        for limit in ("0", "501", "many"):
            response = self.client.get(f"/api/v1/data/import-mappings?limit={limit}")
            assert_problem(response, 422, "limit")
