"""Account and contact pages through Django's test client: lists, detail, forms, bulk
actions, export, recycle bin, HTMX partials and permission refusals."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, account_delete, account_update, contact_create
from patron.core.choices import JobStatus, SecurityEventKind, ShareAccess
from patron.core.exports import export_csv_run, safe_cell
from patron.core.models import (
    CustomFieldDefinition,
    FieldPermission,
    Job,
    RecordShare,
    SavedView,
    SecurityEvent,
)
from patron.core.tasks import export_csv
from patron.core.testing import assert_max_queries
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


# A list page runs a fixed number of queries (session, user, access profile, custom fields,
# capped count, page, saved views, filter choices), whatever the number of rows.
LIST_QUERIES = 20


def _get_list(client, url: str, **extra):
    with assert_max_queries(LIST_QUERIES):
        return client.get(url, **extra)


def _names(response) -> list[str]:
    return [str(r) for r in response.context["page"].rows]


# ---------- list ----------


def test_account_list_shows_visible_rows_with_queries_not_growing(rep_client, rep, other_rep):
    for i in range(3):
        account_create(user=rep, name=f"Mine {i}")
    account_create(user=other_rep, name="Not mine")
    with CaptureQueriesContext(connection) as few:
        response = _get_list(rep_client, "/accounts/")
    assert response.status_code == 200
    assert _names(response) == ["Mine 0", "Mine 1", "Mine 2"]
    for i in range(3, 23):
        account_create(user=rep, name=f"Mine {i:02d}")
    with assert_max_queries(len(few.captured_queries)):
        response = _get_list(rep_client, "/accounts/")
    assert len(response.context["page"].rows) == 23


def test_contact_list_queries_do_not_grow_with_rows(rep_client, rep):
    account = account_create(user=rep, name="Acme")
    contact_create(user=rep, last_name="Lee", account=account, email="lee@acme.com")
    with CaptureQueriesContext(connection) as few:
        rep_client.get("/contacts/")
    for i in range(15):
        contact_create(user=rep, last_name=f"Person {i}", account=account)
    with assert_max_queries(len(few.captured_queries)):
        response = _get_list(rep_client, "/contacts/")
    assert response.status_code == 200
    assert "Acme" in response.content.decode()


def test_account_list_filters_by_tier_text_and_custom_field(rep_client, rep):
    CustomFieldDefinition.objects.create(
        object_type="contacts.account", key="region", label="Region", field_type="text"
    )
    account_create(user=rep, name="Acme", tier="strategic", custom={"region": "EMEA"})
    account_create(user=rep, name="Globex", tier="key", custom={"region": "APAC"})
    account_create(user=rep, name="Acme Retail", tier="key")
    with assert_max_queries(25):
        assert _names(_get_list(rep_client, "/accounts/?tier=strategic")) == ["Acme"]
    assert _names(_get_list(rep_client, "/accounts/?q=acme")) == ["Acme", "Acme Retail"]
    assert _names(_get_list(rep_client, "/accounts/?cf_region=APAC")) == ["Globex"]
    html = _get_list(rep_client, "/accounts/?col=region").content.decode()
    assert '<th scope="col" class="">Region</th>' in html
    assert "EMEA" in html


def test_account_list_sorts_by_clicked_column(rep_client, rep):
    for name in ("Beta", "Alpha", "Gamma"):
        account_create(user=rep, name=name)
    response = _get_list(rep_client, "/accounts/?sort=-name")
    assert _names(response) == ["Gamma", "Beta", "Alpha"]
    html = response.content.decode()
    assert 'aria-sort="descending"' in html
    assert "?sort=name" in html


def test_sort_by_revenue_pages_through_nulls(rep_client, rep, sales_roles, monkeypatch):
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="edit",
    )
    for i, revenue in enumerate([None, "10", None, "30", "20"]):
        account_create(user=rep, name=f"A{i}", annual_revenue=revenue)
    assert _names(_get_list(rep_client, "/accounts/?sort=revenue")) == [
        "A1",
        "A4",
        "A3",
        "A0",
        "A2",
    ]
    assert _names(_get_list(rep_client, "/accounts/?sort=-revenue")) == [
        "A3",
        "A4",
        "A1",
        "A2",
        "A0",
    ]
    monkeypatch.setattr("patron.core.record_pages.PAGE_SIZES", (2, 50))
    seen, url = [], "/accounts/?sort=revenue&size=2"
    while url:
        page = _get_list(rep_client, url).context["page"]
        seen += [str(r) for r in page.rows]
        url = (
            f"/accounts/?sort=revenue&size=2&cursor={page.next_cursor}" if page.next_cursor else ""
        )
    assert seen == ["A1", "A4", "A3", "A0", "A2"]
    back = _get_list(rep_client, f"/accounts/?sort=revenue&size=2&cursor={page.prev_cursor}")
    assert _names(back) == ["A3", "A0"]


def test_keyset_paging_next_and_previous(rep_client, rep):
    for i in range(30):
        account_create(user=rep, name=f"Account {i:02d}")
    first = _get_list(rep_client, "/accounts/")
    page = first.context["page"]
    assert len(page.rows) == 25
    assert page.prev_cursor is None
    assert page.next_cursor
    with assert_max_queries(25):
        second = _get_list(rep_client, f"/accounts/?cursor={page.next_cursor}")
    assert _names(second) == [f"Account {i}" for i in range(25, 30)]
    assert second.context["page"].next_cursor is None
    back = _get_list(rep_client, f"/accounts/?cursor={second.context['page'].prev_cursor}")
    assert _names(back) == [f"Account {i:02d}" for i in range(25)]


def test_count_is_capped_instead_of_exact(rep_client, rep, monkeypatch):
    monkeypatch.setattr("patron.core.views.COUNT_CAP", 3)
    for i in range(5):
        account_create(user=rep, name=f"A{i}")
    response = _get_list(rep_client, "/accounts/")
    assert "more than 3" in response.content.decode()


def test_broken_cursor_and_bad_filter_show_first_page_not_500(rep_client, rep):
    account_create(user=rep, name="Acme")
    assert _names(_get_list(rep_client, "/accounts/?cursor=%%%not-base64")) == ["Acme"]
    response = _get_list(rep_client, "/accounts/?min_employees=lots&owner=999999")
    assert response.status_code == 200
    assert response.context["filterset"].errors


def test_htmx_list_request_returns_results_partial(rep_client, rep):
    account_create(user=rep, name="Acme")
    response = _get_list(rep_client, "/accounts/?q=ac", HTTP_HX_TARGET="list-results", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="list-results"' in html
    assert "Acme" in html
    assert 'id="export-query" name="query" value="q=ac" hx-swap-oob="true"' in html
    assert "Accounts matching your filters: 1." in html


def test_list_refused_when_role_may_not_read(client):
    client.force_login(UserFactory(role=make_role("No access")))
    response = _get_list(client, "/accounts/")
    assert response.status_code == 403
    assert "may not see accounts" in response.content.decode()


# ---------- saved views ----------


def test_save_pick_and_delete_a_saved_view(rep_client, rep, other_rep):
    account_create(user=rep, name="Acme", tier="strategic")
    account_create(user=rep, name="Globex", tier="key")
    response = rep_client.post(
        "/accounts/views/", {"name": "Strategic", "query": "tier=strategic&sort=-name&cursor=x"}
    )
    saved = SavedView.objects.get(user=rep, name="Strategic")
    assert saved.query == "tier=strategic&sort=-name"
    assert response.url == f"/accounts/?view={saved.pk}"
    picked = rep_client.get(f"/accounts/?view={saved.pk}", follow=True)
    assert _names(picked) == ["Acme"]
    assert "Saved view: <strong>Strategic</strong>" in picked.content.decode()
    theirs = SavedView.objects.create(
        user=other_rep, object_type="contacts.account", name="Team view", shared=True
    )
    assert "Team view" in _get_list(rep_client, "/accounts/").content.decode()
    rep_client.post(f"/accounts/views/{theirs.pk}/delete/")
    assert SavedView.objects.filter(pk=theirs.pk).exists()
    rep_client.post(f"/accounts/views/{saved.pk}/delete/")
    assert not SavedView.objects.filter(pk=saved.pk).exists()


# ---------- detail ----------


def test_account_detail_shows_related_records_change_log_and_reasons(rep_client, rep):
    parent = account_create(user=rep, name="Holding")
    account = account_create(user=rep, name="Acme", parent=parent, industry="Retail")
    account_create(user=rep, name="Acme Labs", parent=account)
    contact_create(user=rep, last_name="Lee", first_name="Ana", account=account)
    account_update(user=rep, account=account, industry="Software")
    html = rep_client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Holding" in html
    assert "Acme Labs" in html
    assert "Ana Lee" in html
    assert "Why can I see this?" in html
    assert "You own this record." in html
    assert '<span class="change-old">Retail</span> → <span>Software</span>' in html
    assert "via User interface" in html


def test_private_record_of_someone_else_is_404(client, rep, other_rep):
    account = account_create(user=other_rep, name="Secret")
    client.force_login(rep)
    for url in (f"/accounts/{account.pk}/", f"/accounts/{account.pk}/edit/"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Secret" not in response.content.decode()


def test_read_only_share_can_view_but_not_edit(client, rep, other_rep):
    account = account_create(user=other_rep, name="Shared")
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Account),
        object_id=account.pk,
        user=rep,
        access=ShareAccess.READ,
    )
    client.force_login(rep)
    detail = client.get(f"/accounts/{account.pk}/")
    assert detail.status_code == 200
    assert f"/accounts/{account.pk}/edit/" not in detail.content.decode()
    assert client.get(f"/accounts/{account.pk}/edit/").status_code == 403


def test_sensitive_field_hidden_on_detail_and_change_log(client, rep, sales_roles):
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="hidden",
    )
    account = account_create(
        user=UserFactory(is_superuser=True), name="Acme", annual_revenue="987654.00", owner=rep
    )
    client.force_login(rep)
    html = client.get(f"/accounts/{account.pk}/").content.decode()
    # The amount as any locale writes it; "987" alone also matched a timestamp's microseconds.
    for shown in ("987654", "987,654", "987.654", "987 654", "987\u00a0654"):
        assert shown not in html
    assert "Annual revenue" not in _get_list(client, "/accounts/").content.decode()


def test_read_only_field_shown_as_text_and_not_submitted(client, rep, sales_roles):
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="read_only",
    )
    admin = UserFactory(is_superuser=True)
    account = account_create(user=admin, name="Acme", annual_revenue="500.00", owner=rep)
    client.force_login(rep)
    form_html = client.get(f"/accounts/{account.pk}/edit/").content.decode()
    assert 'name="annual_revenue"' not in form_html
    assert "500.00" in form_html
    response = client.post(
        f"/accounts/{account.pk}/edit/",
        {
            "kind": "company",
            "name": "Acme 2",
            "owner": rep.pk,
            "annual_revenue": "1",
            "version": account.version,
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Acme 2"
    assert str(account.annual_revenue) == "500.00"


# ---------- create / edit ----------


def test_create_account_through_the_form(rep_client, rep):
    response = rep_client.post(
        "/accounts/new/",
        {"kind": "company", "name": "Acme", "website": "https://www.acme.com", "tier": "key"},
    )
    account = Account.objects.get(name="Acme")
    assert response.status_code == 302
    assert response.url == f"/accounts/{account.pk}/"
    assert account.owner == rep
    assert account.domain == "acme.com"


def test_invalid_input_is_shown_on_the_field(rep_client):
    response = rep_client.post(
        "/accounts/new/", {"kind": "company", "name": "Acme", "email": "nope"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'aria-describedby="id_email_error"' in html
    assert 'aria-invalid="true"' in html
    assert "Enter a valid email address." in html
    assert 'value="Acme"' in html
    assert not Account.objects.exists()


def test_service_errors_on_custom_fields_land_on_the_field(rep_client):
    CustomFieldDefinition.objects.create(
        object_type="contacts.account", key="budget", label="Budget", field_type="money"
    )
    response = rep_client.post(
        "/accounts/new/", {"kind": "company", "name": "Acme", "custom__budget": "lots"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_custom__budget_error"' in html
    assert "Budget must be an amount" in html
    assert not Account.objects.exists()


def test_custom_field_values_saved_and_shown(rep_client):
    CustomFieldDefinition.objects.create(
        object_type="contacts.account", key="renewal", label="Renewal date", field_type="date"
    )
    rep_client.post(
        "/accounts/new/", {"kind": "company", "name": "Acme", "custom__renewal": "2027-03-01"}
    )
    account = Account.objects.get(name="Acme")
    assert account.custom == {"renewal": "2027-03-01"}
    assert "Renewal date" in rep_client.get(f"/accounts/{account.pk}/").content.decode()


def test_inline_validation_returns_the_form_partial_with_that_fields_error(rep_client):
    response = rep_client.post(
        "/contacts/new/", {"_validate": "email", "email": "bad@", "last_name": ""}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="record-form"' in html
    assert 'id="id_email_error"' in html
    assert 'id="id_last_name_error"' not in html
    assert not Contact.objects.exists()


def test_stale_edit_shows_conflict_and_keeps_input(rep_client, rep, other_rep):
    account = account_create(user=rep, name="Acme")
    form = {"kind": "company", "name": "Acme Mine", "owner": rep.pk, "version": account.version}
    account_update(user=rep, account=account, name="Acme Theirs")
    response = rep_client.post(f"/accounts/{account.pk}/edit/", form)
    assert response.status_code == 409
    html = response.content.decode()
    assert "changed by someone else" in html
    assert 'value="Acme Mine"' in html
    assert Account.objects.get(pk=account.pk).name == "Acme Theirs"
    overwrite = rep_client.post(f"/accounts/{account.pk}/edit/", {**form, "overwrite_version": 2})
    assert overwrite.status_code == 302
    assert Account.objects.get(pk=account.pk).name == "Acme Mine"


def test_contact_create_warns_about_duplicates_then_allows_continuing(rep_client, rep):
    contact_create(user=rep, last_name="Lee", email="ana@acme.com", phone="+14155550100")
    data = {"last_name": "Lee-Two", "email": "ANA@acme.com"}
    warned = rep_client.post("/contacts/new/", data)
    assert warned.status_code == 200
    assert "Possible duplicate" in warned.content.decode()
    assert Contact.objects.count() == 1
    by_phone = rep_client.post("/contacts/new/", {"last_name": "X", "phone": "(415) 555-0100"})
    assert "Possible duplicate" in by_phone.content.decode()
    created = rep_client.post("/contacts/new/", {**data, "confirm_duplicate": "1"})
    assert created.status_code == 302
    assert Contact.objects.count() == 2


def test_duplicates_the_user_cannot_see_are_counted_not_named(client, rep, other_rep):
    contact_create(user=other_rep, last_name="Hidden", email="x@acme.com")
    client.force_login(rep)
    html = client.post("/contacts/new/", {"last_name": "Lee", "email": "x@acme.com"}).content
    assert b"1 contact you cannot see" in html
    assert b"Hidden" not in html


def test_create_refused_without_create_permission(client, sales_roles):
    role = make_role("Reader")
    from patron.core.testing import grant

    grant(role, "contacts.account", "read")
    client.force_login(UserFactory(role=role))
    assert client.get("/accounts/new/").status_code == 403
    assert client.post("/accounts/new/", {"kind": "company", "name": "X"}).status_code == 403


# ---------- bulk actions, delete, recycle bin ----------


def test_bulk_edit_updates_rows_and_reports_refusals(rep_client, rep, other_rep):
    mine = [account_create(user=rep, name=f"Mine {i}") for i in range(2)]
    theirs = account_create(user=other_rep, name="Theirs")
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Account),
        object_id=theirs.pk,
        user=rep,
        access=ShareAccess.READ,
    )
    response = rep_client.post(
        "/accounts/bulk/",
        {
            "action": "edit",
            "tier": "key",
            "industry": "Retail",
            "ids": [a.pk for a in mine] + [theirs.pk],
            "next": "/accounts/?sort=name",
        },
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 accounts updated." in html
    assert "1 not updated: Theirs: You may not update" in html
    assert set(Account.objects.filter(tier="key").values_list("name", flat=True)) == {
        "Mine 0",
        "Mine 1",
    }


def test_bulk_delete_moves_rows_to_recycle_bin(rep_client, rep):
    accounts = [account_create(user=rep, name=f"A{i}") for i in range(3)]
    rep_client.post("/accounts/bulk/", {"action": "delete", "ids": [a.pk for a in accounts[:2]]})
    assert Account.objects.count() == 1
    assert Account.all_objects.deleted().count() == 2


def test_bulk_owner_change_on_contacts(rep_client, rep, other_rep):
    contact = contact_create(user=rep, last_name="Lee")
    rep_client.post(
        "/contacts/bulk/", {"action": "edit", "owner": other_rep.pk, "ids": [contact.pk]}
    )
    assert Contact.objects.get(pk=contact.pk).owner == other_rep


def test_delete_then_restore_from_recycle_bin(rep_client, rep, client, other_rep):
    account = account_create(user=rep, name="Acme")
    assert rep_client.get(f"/accounts/{account.pk}/delete/").status_code == 200
    rep_client.post(f"/accounts/{account.pk}/delete/")
    assert not Account.objects.filter(pk=account.pk).exists()
    with assert_max_queries(15):
        html = rep_client.get("/ui/recycle-bin/").content.decode()
    assert "Acme" in html
    restored = rep_client.post(
        "/ui/recycle-bin/restore/", {"object_type": "contacts.account", "pk": account.pk}
    )
    assert restored.status_code == 302
    assert restored.url == f"/accounts/{account.pk}/"
    assert Account.objects.filter(pk=account.pk).exists()


def test_recycle_bin_hides_and_refuses_records_of_others(client, rep, other_rep):
    account = account_create(user=other_rep, name="Theirs")
    account_delete(user=other_rep, account=account)
    client.force_login(rep)
    assert "Theirs" not in client.get("/ui/recycle-bin/").content.decode()
    response = client.post(
        "/ui/recycle-bin/restore/", {"object_type": "contacts.account", "pk": account.pk}
    )
    assert response.status_code == 404
    assert Account.all_objects.get(pk=account.pk).deleted_at is not None


# ---------- CSV export ----------


def _start_export(client, url: str, query: str = "") -> Job:
    response = client.post(url, {"query": query})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == f"/ui/jobs/{job.pk}/"
    return job


def test_export_job_writes_filtered_csv_safely_and_logs_it(
    rep_client, rep, other_rep, django_capture_on_commit_callbacks
):
    account_create(user=rep, name='=HYPERLINK("http://evil")', tier="key")
    account_create(user=rep, name="Plain", tier="key", industry="-Retail")
    account_create(user=rep, name="Other tier", tier="small")
    account_create(user=other_rep, name="Invisible", tier="key")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = _start_export(rep_client, "/accounts/export/", "tier=key&sort=-name&cursor=abc")
    assert len(callbacks) == 1
    assert job.params == {"object": "contacts.account", "query": "tier=key&sort=-name"}
    export_csv.apply(args=(job.pk,))
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert job.result["rows"] == 2
    rows = list(csv.DictReader(io.StringIO(job.result_file.open().read().decode())))
    assert [r["name"] for r in rows] == ["Plain", '\'=HYPERLINK("http://evil")']
    assert rows[0]["industry"] == "'-Retail"
    assert rows[0]["owner"] == rep.email
    event = SecurityEvent.objects.get(kind=SecurityEventKind.EXPORT)
    assert event.user == rep
    assert event.detail["rows"] == 2
    export_csv_run(job_id=job.pk)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).count() == 1
    download = rep_client.get(f"/ui/jobs/{job.pk}/download/")
    assert download.status_code == 200
    assert b"Plain" in b"".join(download.streaming_content)


def test_export_leaves_out_hidden_sensitive_fields(client, rep, sales_roles):
    FieldPermission.objects.create(
        role=sales_roles["rep"],
        object_type="contacts.account",
        field="annual_revenue",
        access="hidden",
    )
    account_create(user=rep, name="Acme")
    client.force_login(rep)
    job = _start_export(client, "/accounts/export/")
    export_csv_run(job_id=job.pk)
    job.refresh_from_db()
    header = job.result_file.open().read().decode().splitlines()[0]
    assert "annual_revenue" not in header
    assert "name" in header


def test_export_refused_without_export_permission(client):
    role = make_role("Viewer")
    from patron.core.testing import grant

    grant(role, "contacts.contact", "read")
    client.force_login(UserFactory(role=role))
    assert client.post("/contacts/export/").status_code == 403
    assert not Job.objects.exists()


def test_export_job_fails_cleanly_when_permission_revoked(client, rep, sales_roles):
    contact_create(user=rep, last_name="Lee")
    client.force_login(rep)
    job = _start_export(client, "/contacts/export/")
    perm = sales_roles["rep"].permissions.get(object_type="contacts.contact")
    perm.can_export = False
    perm.save()
    export_csv_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "may not export contacts" in job.error
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).exists()


def test_job_page_polls_until_done(rep_client, rep):
    job = _start_export(rep_client, "/contacts/export/")
    running = rep_client.get(f"/ui/jobs/{job.pk}/", **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in running
    assert "<html" not in running
    export_csv_run(job_id=job.pk)
    done = rep_client.get(f"/ui/jobs/{job.pk}/", **HTMX).content.decode()
    assert "every 1s" not in done
    assert f"/ui/jobs/{job.pk}/download/" in done


def test_export_task_is_registered_under_its_shared_name():
    assert export_csv.name == "core.export_csv"


def test_safe_cell_neutralises_formulas():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("+44 20") == "'+44 20"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("Acme") == "Acme"
    assert safe_cell(-5) == "-5"


def test_contact_detail_links_its_account_and_lists_channels(rep_client, rep):
    account = account_create(user=rep, name="Acme")
    contact = contact_create(
        user=rep,
        first_name="Ana",
        last_name="Lee",
        account=account,
        email="ana@acme.com",
        phone="+44 20 7946 0958",
    )
    # A fixed budget: the record and its channels, access explanation, sharing, change log,
    # the relations card, one query per related-list card, the timeline's sources (converted
    # leads' history among them) and the cards other apps add (approvals, territories,
    # consent). One request first warms the per-process caches (content types, the workflow
    # and approval indexes), so the budget measures every later view of the page whatever
    # tests ran before.
    rep_client.get(f"/contacts/{contact.pk}/")
    with assert_max_queries(35):
        response = rep_client.get(f"/contacts/{contact.pk}/")
    html = response.content.decode()
    assert f'href="/accounts/{account.pk}/"' in html
    assert "+44 20 7946 0958" in html
    assert "mailto:ana@acme.com" in html


def test_htmx_request_for_a_missing_record_gets_an_error_partial(rep_client):
    response = rep_client.get("/contacts/999999/", **HTMX)
    assert response.status_code == 404
    assert "<html" not in response.content.decode()


def test_new_contact_form_prefills_the_account_from_the_link(rep_client, rep):
    account = account_create(user=rep, name="Acme")
    html = rep_client.get(f"/contacts/new/?account={account.pk}").content.decode()
    assert f'<option value="{account.pk}" selected>Acme</option>' in html


def test_signed_out_visitors_are_sent_to_log_in(client):
    for url in ("/accounts/", "/contacts/new/", "/ui/recycle-bin/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/login/?next=")


def test_editing_keeps_a_linked_account_the_editor_cannot_see(client, rep, other_rep):
    hidden_account = account_create(user=other_rep, name="Their account")
    contact = contact_create(user=other_rep, last_name="Lee", account=hidden_account)
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Contact),
        object_id=contact.pk,
        user=rep,
        access=ShareAccess.EDIT,
    )
    client.force_login(rep)
    response = client.post(
        f"/contacts/{contact.pk}/edit/",
        {
            "last_name": "Lee-Smith",
            "account": hidden_account.pk,
            "owner": other_rep.pk,
            "version": contact.version,
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.last_name == "Lee-Smith"
    assert contact.account_id == hidden_account.pk


def test_person_account_takes_its_name_from_first_and_last_name(rep_client):
    response = rep_client.post(
        "/accounts/new/", {"kind": "person", "first_name": "Ana", "last_name": "Lee"}
    )
    assert response.status_code == 302
    assert Account.objects.get().name == "Ana Lee"


def test_inline_validation_of_email_hints_at_a_duplicate(rep_client, rep):
    contact_create(user=rep, first_name="Ana", last_name="Lee", email="ana@acme.com")
    response = rep_client.post(
        "/contacts/new/", {"_validate": "email", "email": "Ana@Acme.com"}, **HTMX
    )
    html = response.content.decode()
    assert "Possible duplicate: this email already belongs to Ana Lee." in html
    assert 'aria-describedby="id_email_help"' in html


def test_hidden_fields_neither_sort_nor_filter_the_list(rep_client, rep):
    CustomFieldDefinition.objects.create(
        object_type="contacts.account",
        key="margin",
        label="Margin",
        field_type="text",
        sensitive=True,
    )
    admin = UserFactory(is_superuser=True)
    account_create(user=admin, name="Beta", owner=rep, annual_revenue="1", custom={"margin": "x"})
    account_create(user=admin, name="Alpha", owner=rep, annual_revenue="2")
    assert _names(_get_list(rep_client, "/accounts/?sort=-revenue")) == ["Alpha", "Beta"]
    assert _names(_get_list(rep_client, "/accounts/?cf_margin=x")) == ["Alpha", "Beta"]


def test_page_size_can_be_chosen(rep_client, rep):
    for i in range(30):
        account_create(user=rep, name=f"A{i:02d}")
    assert len(_get_list(rep_client, "/accounts/?size=50").context["page"].rows) == 30
    assert len(_get_list(rep_client, "/accounts/?size=7").context["page"].rows) == 25
