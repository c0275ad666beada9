"""Core pages: layout and navigation, components, job progress, keyset paging."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.test import RequestFactory

from patron.core import context_processors
from patron.core.choices import JobStatus
from patron.core.context_processors import NavItem, nav_areas, register_nav_item
from patron.core.jobs import job_finish
from patron.core.models import Job
from patron.core.testing import assert_max_queries
from patron.core.views import decode_cursor, keyset_page

pytestmark = pytest.mark.django_db


def test_base_layout_has_landmarks_skip_link_search_and_user_menu(client, rep):
    client.force_login(rep)
    html = client.get("/").content.decode()
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert '<nav id="sidebar" class="sidebar" aria-label="Main">' in html
    assert 'role="search"' in html
    assert 'hx-get="/search/"' in html
    assert 'action="/logout/"' in html
    assert 'href="/settings/"' in html
    assert "csrfmiddlewaretoken" in html
    assert "/static/django_htmx/htmx" in html


def test_base_renders_for_anonymous_visitors_without_navigation():
    request = RequestFactory().get("/login/")
    request.user = AnonymousUser()
    html = render_to_string("core/base.html", {}, request=request)
    assert 'id="main"' in html
    assert "sidebar" not in html
    assert 'role="search"' not in html


def test_navigation_shows_only_items_the_role_may_read(rep):
    register_nav_item(
        NavItem(area="Service", label="Widgets", url_name="ui:components", object_type="x.widget")
    )
    register_nav_item(NavItem(area="Marketing", label="Unwired", url_name="nowhere:list"))
    try:
        labels = [link.label for _area, links in nav_areas(rep, "/") for link in links]
        assert "Widgets" not in labels
        assert "Unwired" not in labels
        assert "Recycle bin" in labels
    finally:
        context_processors._items.pop("ui:components", None)
        context_processors._items.pop("nowhere:list", None)
        register_nav_item(
            NavItem(area="Workspace", label="UI components", url_name="ui:components", order=200)
        )


def test_only_the_most_specific_navigation_link_is_current(admin_user):
    current = [
        link.label
        for _area, links in nav_areas(admin_user, "/opportunities/board/")
        for link in links
        if link.current
    ]
    assert current == ["Pipeline board"]


def test_admin_area_link_only_for_administrators(rep, admin_user):
    def areas(user):
        return [area for area, _links in nav_areas(user, "/")]

    assert "Admin" not in areas(rep)
    assert "Admin" in areas(admin_user)


def test_components_page_shows_each_component(client, rep):
    client.force_login(rep)
    html = client.get("/ui/components/").content.decode()
    for heading in (
        "Buttons",
        "Forms",
        "Table",
        "Badges",
        "Card",
        "Tabs",
        "Empty state",
        "Progress",
        "Alerts",
    ):
        assert f">{heading}</h2>" in html
    assert 'role="progressbar"' in html
    assert 'aria-valuenow="42"' in html


def test_job_page_is_private_to_its_creator(client, rep, other_rep):
    job = Job.objects.create(kind="core.export_csv", created_by=rep)
    client.force_login(other_rep)
    assert client.get(f"/ui/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/ui/jobs/{job.pk}/download/").status_code == 404


def test_job_progress_partial_polls_until_done_then_offers_download(client, rep):
    job = Job.objects.create(
        kind="core.export_csv",
        created_by=rep,
        status=JobStatus.RUNNING,
        progress_done=5,
        progress_total=10,
    )
    client.force_login(rep)
    page = client.get(f"/ui/jobs/{job.pk}/").content.decode()
    assert "<html" in page
    assert 'aria-valuenow="50"' in page
    partial = client.get(f"/ui/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial
    assert 'hx-trigger="every 1s"' in partial
    job.result_file.save("export.csv", ContentFile(b"id,name\n1,Acme\n"), save=False)
    job_finish(job, result={"filename": "export.csv", "rows": 1})
    partial = client.get(f"/ui/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in partial
    assert "Download export.csv" in partial
    download = client.get(f"/ui/jobs/{job.pk}/download/")
    assert download["Content-Disposition"].startswith('attachment; filename="export.csv"')
    assert b"".join(download.streaming_content) == b"id,name\n1,Acme\n"


def test_download_of_unfinished_job_is_404(client, rep):
    job = Job.objects.create(kind="core.export_csv", created_by=rep)
    client.force_login(rep)
    assert client.get(f"/ui/jobs/{job.pk}/download/").status_code == 404


def test_keyset_page_walks_forward_and_back_without_gaps():
    user_model = get_user_model()
    for i in range(7):
        user_model.objects.create_user(email=f"u{i}@example.com", full_name=f"User {i % 3}")
    queryset = user_model.objects.all()
    order = ("full_name", "id")
    seen = []
    cursor = ""
    while True:
        with assert_max_queries(2):
            page = keyset_page(queryset, order, cursor, 3)
        seen += [u.pk for u in page.rows]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == list(queryset.order_by(*order).values_list("pk", flat=True))
    assert page.count == 7
    assert not page.count_capped
    back = keyset_page(queryset, order, page.prev_cursor or "", 3)
    assert [u.pk for u in back.rows] == seen[3:6]


def test_malformed_cursors_are_rejected_not_raised():
    assert decode_cursor("!!!", 2) is None
    assert decode_cursor("eyJkIjoibiIsInYiOlsxXX0", 2) is None
