"""Competitors: the services (validation, access, change log), the account links, the
selectors' query counts, the pages, the account card, export, search and the API."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conftest import ALL_ACTIONS
from patron.contacts.competitor_selectors import (
    account_competitor_list,
    competitor_account_list,
)
from patron.contacts.competitor_services import (
    account_competitor_add,
    account_competitor_remove,
    account_competitor_update,
    competitor_create,
    competitor_delete,
    competitor_restore,
    competitor_update,
)
from patron.contacts.models import AccountCompetitor, Competitor
from patron.contacts.services import account_create, account_team_add
from patron.contacts.tests.test_api import JSON, bearer
from patron.core.api.testing import assert_problem
from patron.core.choices import OrgWideAccess, Via
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.exports import export_csv_run
from patron.core.models import ChangeLogEntry, Job, ObjectPermission
from patron.core.search import search
from patron.core.testing import (
    Endpoint,
    assert_max_queries,
    check_visibility_matrix,
    grant,
    set_org_default,
)

pytestmark = pytest.mark.django_db

MARKER = "Vortexa"
QUERY = MARKER[:5]


@pytest.fixture(autouse=True)
def competitor_rights(sales_roles):
    for role in sales_roles.values():
        grant(role, "contacts.competitor", *ALL_ACTIONS)
    set_org_default("contacts.competitor", OrgWideAccess.PRIVATE)


@pytest.fixture
def account(rep):
    return account_create(user=rep, name="Acme Corporation")


@pytest.fixture
def rival(rep):
    return competitor_create(
        user=rep,
        name=f"{MARKER} Systems",
        website="vortexa.example",
        strengths="Cheap licences",
        weaknesses="Slow support",
        products="Vortexa CRM\nVortexa Mail",
    )


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _api(user):
    client = Client()
    client.defaults.update({"HTTP_AUTHORIZATION": bearer(user)["Authorization"]})
    return client


# --- services ---------------------------------------------------------------------------------


def test_a_competitor_needs_a_name_and_a_web_address_that_is_one(rep):
    with pytest.raises(ValidationFailed) as error:
        competitor_create(user=rep, name="  ", website="not a url")
    assert set(error.value.errors) == {"name", "website"}
    assert "https://example.com" in error.value.errors["website"][0]
    assert not Competitor.objects.exists()


def test_a_website_without_scheme_gets_https_and_products_read_one_per_line(rival):
    assert rival.website == "https://vortexa.example"
    assert rival.product_list() == ["Vortexa CRM", "Vortexa Mail"]


def test_competitor_changes_are_logged_and_it_can_be_restored_from_the_bin(rep, rival):
    competitor_update(user=rep, competitor=rival, weaknesses="No mobile app")
    actions = list(
        ChangeLogEntry.objects.filter(object_id=rival.pk, content_type__model="competitor")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update"]
    competitor_delete(user=rep, competitor=rival)
    assert not Competitor.objects.visible_to(rep).filter(pk=rival.pk).exists()
    competitor_restore(user=rep, competitor=Competitor.all_objects.get(pk=rival.pk))
    assert Competitor.objects.visible_to(rep).filter(pk=rival.pk).exists()


def test_only_who_may_edit_a_competitor_changes_or_deletes_it(rival, other_rep):
    with pytest.raises(PermissionDenied):
        competitor_update(user=other_rep, competitor=rival, name="Hijacked")
    with pytest.raises(PermissionDenied):
        competitor_delete(user=other_rep, competitor=rival)
    assert Competitor.objects.get(pk=rival.pk).name == f"{MARKER} Systems"


def test_add_competitor_to_account_needs_edit_access(rep, other_rep, account, rival):
    set_org_default("contacts.competitor", OrgWideAccess.PUBLIC_READ)
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    with pytest.raises(PermissionDenied):
        account_competitor_add(user=other_rep, account=account, competitor_id=rival.pk)
    assert not AccountCompetitor.objects.exists()


def test_a_competitor_the_user_cannot_see_is_refused_naming_the_field(rep, other_rep, account):
    hidden = competitor_create(user=other_rep, name="Hidden Rival")
    with pytest.raises(ValidationFailed) as error:
        account_competitor_add(user=rep, account=account, competitor_id=hidden.pk)
    assert "competitor" in error.value.errors
    with pytest.raises(ValidationFailed):
        account_competitor_add(user=rep, account=account, competitor_id="abc")


def test_the_same_competitor_twice_at_one_account_is_a_clear_error(rep, account, rival):
    account_competitor_add(user=rep, account=account, competitor_id=rival.pk)
    with pytest.raises(ValidationFailed) as error:
        account_competitor_add(user=rep, account=account, competitor_id=rival.pk)
    assert "already listed at Acme Corporation" in error.value.errors["competitor"][0]


def test_bad_link_input_names_the_field(rep, account, rival):
    with pytest.raises(ValidationFailed) as error:
        account_competitor_add(
            user=rep, account=account, competitor_id=rival.pk, status="friend", contract_end="x"
        )
    assert set(error.value.errors) == {"status", "contract_end"}
    assert not AccountCompetitor.objects.exists()


def test_link_changes_are_written_to_the_account_change_log(rep, account, rival):
    link = account_competitor_add(
        user=rep, account=account, competitor_id=rival.pk, products_sold="Mail servers"
    )
    account_competitor_update(
        user=rep, link=link, status="displaced", contract_end=datetime.date(2027, 3, 31)
    )
    account_competitor_remove(user=rep, link=link)
    entries = ChangeLogEntry.objects.filter(
        content_type__model="account", object_id=account.pk, changes__has_key="competitor"
    ).order_by("id")
    pairs = [entry.changes["competitor"] for entry in entries]
    assert pairs[0] == [None, f"{rival} (Incumbent (sells there now)): Mail servers"]
    assert pairs[1][1] == f"{rival} (Displaced by us): Mail servers, contract ends 2027-03-31"
    assert pairs[2][1] is None
    assert not AccountCompetitor.objects.exists()


# --- selectors ----------------------------------------------------------------------------------


def test_competitor_account_list_shows_only_visible_accounts_in_fixed_queries(
    rep, other_rep, rival
):
    set_org_default("contacts.competitor", OrgWideAccess.PUBLIC_READ)
    mine = account_create(user=rep, name="Mine")
    account_competitor_add(user=rep, account=mine, competitor_id=rival.pk)
    theirs = account_create(user=other_rep, name="Theirs")
    account_competitor_add(user=other_rep, account=theirs, competitor_id=rival.pk)
    with CaptureQueriesContext(connection) as few:
        assert [
            link.account.name for link in competitor_account_list(user=rep, competitor=rival)
        ] == ["Mine"]
    for i in range(5):
        more = account_create(user=rep, name=f"More {i}")
        account_competitor_add(user=rep, account=more, competitor_id=rival.pk)
    with assert_max_queries(len(few.captured_queries)):
        links = competitor_account_list(user=rep, competitor=rival)
        assert len([link.account.name for link in links]) == 6


def test_account_competitor_list_hides_competitors_the_user_cannot_see(
    rep, other_rep, account, rival
):
    account_team_add(
        user=rep, account=account, member_user=other_rep, team_role="support", access="edit"
    )
    account_competitor_add(user=rep, account=account, competitor_id=rival.pk)
    theirs = competitor_create(user=other_rep, name="Theirs Inc")
    account_competitor_add(user=other_rep, account=account, competitor_id=theirs.pk)
    with assert_max_queries(2):
        names = [
            link.competitor.name for link in account_competitor_list(user=rep, account=account)
        ]
    assert names == [rival.name]


# --- pages ----------------------------------------------------------------------------------


def test_create_a_competitor_from_the_form_and_see_it_on_its_page(rep, account):
    client = _client(rep)
    response = client.post(
        "/competitors/new/",
        {
            "name": "Initech",
            "website": "initech.example",
            "strengths": "Brand",
            "weaknesses": "Price",
            "products": "TPS\nReports",
        },
    )
    assert response.status_code == 302, response.content
    competitor = Competitor.objects.get(name="Initech")
    account_competitor_add(user=rep, account=account, competitor_id=competitor.pk)
    page = client.get(f"/competitors/{competitor.pk}/").content.decode()
    for text in ("Brand", "Price", "<li>TPS</li>", "Acme Corporation", "https://initech.example"):
        assert text in page


def test_the_form_shows_what_is_wrong_and_saves_nothing(rep):
    response = _client(rep).post("/competitors/new/", {"name": "", "website": "::"})
    assert response.status_code == 422
    assert response.context["form"].errors.keys() >= {"name", "website"}
    assert not Competitor.objects.exists()


def test_competitor_list_queries_do_not_grow_with_rows(rep, rival):
    client = _client(rep)
    with CaptureQueriesContext(connection) as few:
        client.get("/competitors/")
    for i in range(15):
        competitor_create(user=rep, name=f"Rival {i:02d}")
    with assert_max_queries(len(few.captured_queries)):
        response = client.get("/competitors/")
    assert len(response.context["page"].rows) == 16


def test_account_page_card_lets_editors_add_edit_and_remove(rep, account, rival):
    client = _client(rep)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert 'id="competitors-title"' in page
    assert f'<option value="{rival.pk}">{rival}</option>' in page
    response = client.post(
        f"/accounts/{account.pk}/competitors/add/",
        {"competitor": rival.pk, "status": "evaluating", "products_sold": "CRM seats"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#competitors-title")
    link = AccountCompetitor.objects.get()
    assert (link.status, link.products_sold) == ("evaluating", "CRM seats")
    client.post(
        f"/accounts/{account.pk}/competitors/{link.pk}/edit/",
        {"status": "incumbent", "products_sold": "Everything", "contract_end": "2027-01-31"},
    )
    link.refresh_from_db()
    assert link.contract_end == datetime.date(2027, 1, 31)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Everything" in page
    assert "Remove" in page
    client.post(f"/accounts/{account.pk}/competitors/{link.pk}/remove/")
    assert not AccountCompetitor.objects.exists()


def test_account_card_reports_bad_input_and_keeps_the_rest(rep, account, rival):
    client = _client(rep)
    account_competitor_add(user=rep, account=account, competitor_id=rival.pk)
    response = client.post(
        f"/accounts/{account.pk}/competitors/add/",
        {"competitor": rival.pk, "status": "incumbent"},
        follow=True,
    )
    assert "already listed" in response.content.decode()
    response = client.post(
        f"/accounts/{account.pk}/competitors/add/",
        {"competitor": rival.pk, "status": "boss", "contract_end": "soon"},
        follow=True,
    )
    assert "Nothing was saved" in response.content.decode()
    assert AccountCompetitor.objects.count() == 1


def test_account_card_offers_no_forms_to_readers(rep, other_rep, account, rival):
    set_org_default("contacts.competitor", OrgWideAccess.PUBLIC_READ)
    account_competitor_add(user=rep, account=account, competitor_id=rival.pk)
    account_team_add(user=rep, account=account, member_user=other_rep, team_role="support")
    client = _client(other_rep)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert rival.name in page
    assert "Add competitor" not in page
    assert "/competitors/add/" not in page
    link = AccountCompetitor.objects.get()
    response = client.post(f"/accounts/{account.pk}/competitors/{link.pk}/remove/")
    assert response.status_code == 403
    assert AccountCompetitor.objects.exists()


def test_export_and_search_find_the_competitor(rep, rival):
    client = _client(rep)
    client.post("/competitors/export/")
    job = Job.objects.filter(created_by=rep).latest("id")
    export_csv_run(job_id=job.pk)
    download = client.get(f"/ui/jobs/{job.pk}/download/")
    body = b"".join(download.streaming_content).decode()
    assert MARKER in body
    assert "Cheap licences" in body
    hits = search(rep, "Vortexa Mail")
    assert any(hit.title == rival.name for hit in hits)


# --- API ------------------------------------------------------------------------------------


def test_api_creates_changes_and_deletes_a_competitor(rep):
    api = _api(rep)
    response = api.post(
        "/api/v1/competitors", {"name": "Globex", "website": "globex.example"}, content_type=JSON
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["website"] == "https://globex.example"
    competitor_id = body["id"]
    response = api.patch(
        f"/api/v1/competitors/{competitor_id}",
        {"strengths": "Everywhere"},
        content_type=JSON,
        headers={"If-Match": f'"{competitor_id}-1"'},
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    stale = api.patch(
        f"/api/v1/competitors/{competitor_id}",
        {"strengths": "Nowhere"},
        content_type=JSON,
        headers={"If-Match": f'"{competitor_id}-1"'},
    )
    assert stale.status_code == 412
    assert api.delete(f"/api/v1/competitors/{competitor_id}").status_code == 204
    entry = ChangeLogEntry.objects.get(object_id=competitor_id, action="create")
    assert entry.via == Via.API


def test_api_bad_competitor_input_is_a_problem_naming_the_fields(rep):
    response = _api(rep).post(
        "/api/v1/competitors", {"name": "", "website": "ftp://x"}, content_type=JSON
    )
    assert_problem(response, 422, "name", "website")


def test_api_lists_adds_changes_and_removes_competitors_at_an_account(rep, account, rival):
    api = _api(rep)
    url = f"/api/v1/accounts/{account.pk}/competitors"
    response = api.post(
        url,
        {"competitor": rival.pk, "products_sold": "Mail", "contract_end": "2027-06-30"},
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    link = response.json()
    assert link["competitor_name"] == rival.name
    assert link["status"] == "incumbent"
    assert_problem(api.post(url, {"competitor": rival.pk}, content_type=JSON), 422, "competitor")
    response = api.patch(
        f"{url}/{link['id']}", {"status": "displaced", "contract_end": None}, content_type=JSON
    )
    assert response.status_code == 200
    assert response.json()["contract_end"] is None
    assert [row["status"] for row in api.get(url).json()] == ["displaced"]
    accounts = api.get(f"/api/v1/competitors/{rival.pk}/accounts").json()
    assert [row["account_name"] for row in accounts] == ["Acme Corporation"]
    assert_problem(api.patch(f"{url}/{link['id']}", {"status": "x"}, content_type=JSON), 422)
    assert api.delete(f"{url}/{link['id']}").status_code == 204
    assert api.get(url).json() == []


def test_api_refuses_a_link_to_a_competitor_the_user_cannot_see(rep, other_rep, account):
    hidden = competitor_create(user=other_rep, name="Hidden Rival")
    response = _api(rep).post(
        f"/api/v1/accounts/{account.pk}/competitors", {"competitor": hidden.pk}, content_type=JSON
    )
    assert_problem(response, 422, "competitor")


# --- visibility -----------------------------------------------------------------------------


def _endpoints(rival: Competitor) -> list[Endpoint]:
    return [
        Endpoint("competitor list page", "/competitors/", "list"),
        Endpoint("competitor list page, filtered", f"/competitors/?q={QUERY}", "list"),
        Endpoint("competitor detail page", f"/competitors/{rival.pk}/", "detail"),
        Endpoint("competitor edit page", f"/competitors/{rival.pk}/edit/", "detail"),
        Endpoint("search page", f"/search/?q={QUERY}", "search"),
        Endpoint("API competitor list", "/api/v1/competitors", "list"),
        Endpoint("API competitor", f"/api/v1/competitors/{rival.pk}", "detail"),
        Endpoint("API competitor shares", f"/api/v1/competitors/{rival.pk}/shares", "detail"),
        Endpoint("API competitor accounts", f"/api/v1/competitors/{rival.pk}/accounts", "detail"),
    ]


def test_owner_sees_the_competitor_everywhere_and_a_peer_nowhere(rep, other_rep, rival):
    check_visibility_matrix(_endpoints(rival), marker=MARKER, allowed=rep, denied=other_rep)


def test_account_links_show_only_to_who_may_see_the_account(rep, other_rep, account, rival):
    set_org_default("contacts.competitor", OrgWideAccess.PUBLIC_READ)
    account_competitor_add(user=rep, account=account, competitor_id=rival.pk)
    endpoints = [
        Endpoint("account page card", f"/accounts/{account.pk}/", "detail"),
        Endpoint("API account competitors", f"/api/v1/accounts/{account.pk}/competitors", "detail"),
        Endpoint("competitor page accounts", f"/competitors/{rival.pk}/", "list"),
        Endpoint("API competitor accounts", f"/api/v1/competitors/{rival.pk}/accounts", "list"),
    ]
    check_visibility_matrix(endpoints, marker="Acme Corporation", allowed=rep, denied=other_rep)


def test_the_account_card_queries_do_not_grow_with_competitors(rep, account):
    client = _client(rep)
    first = competitor_create(user=rep, name="First Rival")
    account_competitor_add(user=rep, account=account, competitor_id=first.pk)
    client.get(f"/accounts/{account.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/accounts/{account.pk}/")
    for i in range(6):
        more = competitor_create(user=rep, name=f"Rival {i}")
        account_competitor_add(user=rep, account=account, competitor_id=more.pk)
    competitor_create(user=rep, name="Not listed yet")
    with assert_max_queries(len(few.captured_queries)):
        page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert page.count('/edit/" class="stack-sm"') == 7
    assert '">Not listed yet</option>' in page


def test_competitors_are_in_the_sales_navigation_for_roles_that_may_read_them(rep, other_rep):
    assert 'href="/competitors/"' in _client(rep).get("/").content.decode()
    ObjectPermission.objects.filter(object_type="contacts.competitor").update(can_read=False)
    other = _client(other_rep)
    assert 'href="/competitors/"' not in other.get("/").content.decode()
    assert other.get("/competitors/").status_code == 403
