"""Hostile values in every filter, sort and search parameter (issue 8).

Data-driven: every API list operation (GET operations of the OpenAPI document that take
query parameters, related lists under a parent record included) and every record list page
(RecordPages, with its FilterSet) gets SQL injection attempts, LIKE wildcards, NUL bytes,
huge and non-finite numbers, long and right-to-left text, JSON-ish and prototype-pollution
strings, lookups across relations (``owner__password``), sorts on secret columns, repeated
parameters and forged cursors.

Every answer must be a 200, or a 4xx problem naming the parameter; a rep must never see a
record private to someone else; the tables must still be there afterwards. Runs on SQLite and
on PostgreSQL (where NUL bytes used to crash psycopg).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from patron.automation.models import WebhookAllowedHost
from patron.automation.webhook_services import webhook_subscription_create
from patron.contacts.models import Account, Contact
from patron.contacts.services import account_create, contact_create
from patron.core.api.problems import PROBLEM_CONTENT_TYPE
from patron.core.api.testing import assert_problem
from patron.core.choices import OrgWideAccess
from patron.core.models import BusinessRecord
from patron.core.quality import quality_checks
from patron.core.record_pages import RecordPages
from patron.core.testing import grant, set_org_default
from patron.data_exchange.import_services import import_upload
from patron.leads.services import lead_create
from patron.pipeline import playbooks
from patron.pipeline.analytics import REPORTS
from patron.pipeline.tests.conftest import make_pipeline
from patron.territories.choices import ModelState
from patron.territories.models import Territory, TerritoryModel
from patron.users.services import token_create, valid_scopes
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

MARKER = "Zanzibar-Hidden-7731"
ALL_ACTIONS = ("create", "read", "update", "delete", "export", "import")

# Sent to each parameter on its own: values that break types, encodings and databases. The
# first parameter of each kind (filter class and lookup, or custom filter method; API schema
# and name) gets them all; the rest of that kind, handled by the same code, a rotating pair.
PER_PARAMETER = (
    "' OR 1=1 --",
    "a\x00b",
    "x" * 10_000,
    "99999999999999999999",
    "1e309",
    "NaN",
)
ROTATING = 2
# The list page sweep runs in parts so that pytest-xdist can spread it over its workers (the
# API one builds the OpenAPI document, which costs more than its requests, so it runs whole).
PARTS = 4
# Sent to all of an operation's parameters at once: text any string filter must take.
ALL_PARAMETERS = (
    '"; DROP TABLE contacts_contact; --',
    "%",
    "_",
    "\\",
    "\u202eevil\u202c \U0001f600",
    "[]",
    "__proto__",
    "-Infinity",
    "-1",
    '{"$ne":1}',
    "\x00",
)
# Names that are not filters but try to reach other columns or lookups.
FORGED_NAMES = ("name__password", "owner__password", "__proto__", "password", "id__gt")
FORGED_SORTS = ("-password", "owner__password", "owner__email", "?", "name,-id")
FORGED_CURSORS = ("garbage", "eyJzIjoibmFtZSJ9:1abc:def", "..", "\x00")


@pytest.fixture
def people():
    """A rep who may do everything with every record type that is private by default, and
    a peer's records the rep must never see."""
    role = make_role("Abuse Rep")
    for model in apps.get_models():
        if issubclass(model, BusinessRecord):
            grant(role, model._meta.label_lower, *ALL_ACTIONS)
            set_org_default(model._meta.label_lower, OrgWideAccess.PRIVATE)
    rep = UserFactory(role=role, email="abuse-rep@example.com")
    peer = UserFactory(role=role, email="abuse-peer@example.com")
    admin = UserFactory(is_superuser=True, email="abuse-admin@example.com")
    mine = account_create(user=rep, name="Rep Account")
    contact_create(user=rep, first_name="Rita", last_name="Own", account=mine)
    hidden = account_create(user=peer, name=f"{MARKER} Account")
    contact_create(user=peer, first_name=MARKER, last_name="Peer", account=hidden)
    lead_create(user=peer, data={"last_name": MARKER, "company": MARKER})
    return {"rep": rep, "admin": admin}


def _api_client(user: Any) -> Client:
    _, secret = token_create(user=user, name="abuse", scopes=sorted(valid_scopes()))
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {secret}")


def _ui_client(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _api_lists(
    client: Client, parents: dict[str, str]
) -> Iterator[tuple[str, list[tuple[str, str]], set[str]]]:
    """(path, query parameters as (name, kind), required names) of each GET operation with
    query parameters; a path template is filled in from ``parents``, which must name it."""
    document = client.get("/api/v1/openapi.json").json()
    unplanned = []
    for template, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        if not query:
            continue
        path = parents.get(template, template)
        if "{" in path:
            unplanned.append(template)
            continue
        parameters = [(p["name"], _schema_kind(p["name"], p["schema"])) for p in query]
        yield path, parameters, {p["name"] for p in query if p["required"]}
    assert not unplanned, f"Give the sweep a parent for these related lists: {unplanned}"


def _schema_kind(name: str, schema: dict[str, Any]) -> str:
    shape = {key: value for key, value in schema.items() if key not in ("title", "description")}
    return f"api {name} {json.dumps(shape, sort_keys=True)}"


def _patterns(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for item in resolver.url_patterns:
        route = prefix + str(item.pattern)
        if isinstance(item, URLResolver):
            yield from _patterns(item, route)
        else:
            yield route, item


def _ui_lists() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(path, parameters as (name, kind)) of each record list page."""
    for route, pattern in _patterns(get_resolver()):
        listing = inspect.unwrap(pattern.callback)
        pages = getattr(listing, "__self__", None)
        if isinstance(pages, RecordPages) and listing.__name__ == "listing" and "<" not in route:
            filters = pages.ui.filterset.base_filters.items()
            parameters = [(name, _filter_kind(item)) for name, item in filters]
            parameters += [(name, f"page {name}") for name in ("sort", "cursor", "view")]
            yield "/" + route.lstrip("^").rstrip("$"), parameters


def _filter_kind(item: Any) -> str:
    """Filters of one class and lookup share their code; a custom method is its own."""
    method = item.method
    if callable(method):
        method = method.__qualname__
    return f"ui {type(item).__qualname__} {item.lookup_expr} {method or ''}"


def _url(path: str, params: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(params)}"


def _per_parameter_values(lists: list[list[tuple[str, str]]]) -> list[list[tuple[str, ...]]]:
    """The hostile values for each parameter of each list, planned over the whole sweep so
    that every kind gets every value whichever part of the sweep a list falls in."""
    seen: set[str] = set()
    turn = 0
    plan: list[list[tuple[str, ...]]] = []
    for parameters in lists:
        values: list[tuple[str, ...]] = []
        for _, kind in parameters:
            if kind not in seen:
                seen.add(kind)
                values.append(PER_PARAMETER)
                continue
            values.append(
                tuple(PER_PARAMETER[(turn + i) % len(PER_PARAMETER)] for i in range(ROTATING))
            )
            turn += ROTATING
        plan.append(values)
    return plan


class Sweep:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.requests = 0
        self.required: set[str] = set()

    def check(
        self, client: Client, path: str, params: list[tuple[str, str]], *, api: bool, hide: bool
    ) -> None:
        self.requests += 1
        response = client.get(_url(path, params))
        status = response.status_code
        where = f"{path} {[(k, v[:40]) for k, v in params]}"
        body = response.getvalue() if response.streaming else response.content
        if status >= 500:
            self.failures.append(f"{where}: {status}")
            return
        if hide and MARKER.encode() in body:
            self.failures.append(f"{where}: shows a record the user may not see")
        if api and status >= 400:
            self._named(where, response, {name for name, _ in params})

    def _named(self, where: str, response: Any, names: set[str]) -> None:
        if not response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE):
            self.failures.append(f"{where}: {response.status_code} is not a problem document")
            return
        if response.status_code in (401, 403, 404):
            return
        named = set(json.loads(response.content).get("errors", {}))
        # A field path names a parameter by its first part (``sort``, ``cursor``, ``limit``).
        fields = {re.split(r"[.\[]", field)[0] for field in named}
        # A required parameter left out is named instead of the one sent.
        if not fields & names and not (fields and fields <= self.required - names):
            self.failures.append(
                f"{where}: {response.status_code} names {sorted(named)}, not the parameter"
            )


def _sweep_one_list(
    sweep: Sweep,
    client: Client,
    path: str,
    names: list[str],
    per_parameter: list[tuple[str, ...]],
    *,
    api: bool,
    hide: bool,
) -> None:
    for name, values in zip(names, per_parameter, strict=True):
        for value in values:
            sweep.check(client, path, [(name, value)], api=api, hide=hide)
    for value in ALL_PARAMETERS:
        sweep.check(client, path, [(name, value) for name in names], api=api, hide=hide)
    for forged in FORGED_NAMES:
        sweep.check(client, path, [(forged, "x")], api=api, hide=hide)
    if "sort" in names:
        for sort in FORGED_SORTS:
            sweep.check(client, path, [("sort", sort)], api=api, hide=hide)
        sweep.check(client, path, [("sort", "-name"), ("sort", "name")], api=api, hide=hide)
    if "cursor" in names:
        for cursor in FORGED_CURSORS:
            sweep.check(client, path, [("cursor", cursor)], api=api, hide=hide)
    sweep.check(client, path, [(names[0], "a"), (names[0], "\x00")], api=api, hide=hide)


def _tables_intact(before: int) -> None:
    assert "contacts_contact" in connection.introspection.table_names()
    assert Contact.all_objects.count() == before


@pytest.fixture
def parents(people):
    """Each related list's path with a parent the sweeping user may read, so that the
    hostile values reach the list's filters rather than stopping at a 404."""
    admin = people["admin"]
    account = Account.objects.get(name="Rep Account")
    contact = Contact.objects.get(last_name="Own")
    playbook = playbooks.playbook_create(
        user=admin, pipeline=make_pipeline(), name="Sweep", definition={"stages": {}}
    )
    model = TerritoryModel.objects.create(name="Sweep model", state=ModelState.ACTIVE)
    territory = Territory.objects.create(model=model, name="Sweep territory", path="1.")
    planning = TerritoryModel.objects.create(name="Sweep plan")
    # Webhook targets must resolve to a host the administrator allowed (no DNS here).
    WebhookAllowedHost.objects.create(host="127.0.0.1", note="Sweep")
    subscription, _ = webhook_subscription_create(
        user=admin,
        data={"name": "Sweep", "target_url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
    )
    run = import_upload(
        user=people["rep"],
        object_type="contacts.contact",
        upload=SimpleUploadedFile("sweep.csv", b"First name,Last name\nAda,Lovelace\n"),
    )
    quality_key = quality_checks()[0].key
    return {
        "/api/v1/accounts/{record_id}/purchase-history": (
            f"/api/v1/accounts/{account.pk}/purchase-history"
        ),
        "/api/v1/analytics/sales/{report}": f"/api/v1/analytics/sales/{next(iter(REPORTS))}",
        **{
            f"/api/v1/contacts/{{contact_id}}/{related}": (
                f"/api/v1/contacts/{contact.pk}/{related}"
            )
            for related in (
                "competitor-products",
                "consent-history",
                "literature-requests",
                "subscriptions",
                "training-attendances",
            )
        },
        "/api/v1/data/imports/{run_id}/preview": f"/api/v1/data/imports/{run.pk}/preview",
        "/api/v1/data/quality/{key}": f"/api/v1/data/quality/{quality_key}",
        "/api/v1/playbooks/{playbook_id}/export": f"/api/v1/playbooks/{playbook.pk}/export",
        "/api/v1/territories/{territory_id}/assignments": (
            f"/api/v1/territories/{territory.pk}/assignments"
        ),
        "/api/v1/territory-models/{model_id}/compare": (
            f"/api/v1/territory-models/{planning.pk}/compare"
        ),
        "/api/v1/territory-models/{model_id}/compare.csv": (
            f"/api/v1/territory-models/{planning.pk}/compare.csv"
        ),
        "/api/v1/timeline/{object_type}/{record_id}": (
            f"/api/v1/timeline/contacts.account/{account.pk}"
        ),
        "/api/v1/webhooks/subscriptions/{subscription_id}/deliveries": (
            f"/api/v1/webhooks/subscriptions/{subscription.pk}/deliveries"
        ),
        "/api/v1/webhooks/subscriptions/{subscription_id}/deliveries.csv": (
            f"/api/v1/webhooks/subscriptions/{subscription.pk}/deliveries.csv"
        ),
    }


@pytest.mark.sweep
def test_hostile_values_in_api_list_parameters_give_200_or_a_problem_naming_them(
    people, parents
):
    rep, admin = _api_client(people["rep"]), _api_client(people["admin"])
    before = Contact.all_objects.count()
    sweep = Sweep()
    lists = list(_api_lists(rep, parents))
    assert len(lists) > 45
    plan = _per_parameter_values([parameters for _, parameters, _ in lists])
    for (path, parameters, required), per_parameter in zip(lists, plan, strict=True):
        sweep.required = required
        # Admin-only lists are swept as an administrator, who may see every record.
        as_rep = rep.get(path).status_code != 403
        client = rep if as_rep else admin
        if not required:
            # A sweep of a missing parent would only ever meet its 404.
            assert client.get(path).status_code == 200, path
        names = [name for name, _ in parameters]
        _sweep_one_list(sweep, client, path, names, per_parameter, api=True, hide=as_rep)
    assert not sweep.failures, f"{len(sweep.failures)} of {sweep.requests}:\n" + "\n".join(
        sweep.failures
    )
    _tables_intact(before)


@pytest.mark.sweep
@pytest.mark.parametrize("part", range(PARTS))
def test_hostile_values_in_list_page_filters_never_fail_or_leak(people, part):
    rep, admin = _ui_client(people["rep"]), _ui_client(people["admin"])
    before = Contact.all_objects.count()
    sweep = Sweep()
    pages = list(_ui_lists())
    assert len(pages) > 5
    plan = _per_parameter_values([parameters for _, parameters in pages])
    for (path, parameters), per_parameter in list(zip(pages, plan, strict=True))[part::PARTS]:
        as_rep = rep.get(path).status_code != 403
        client = rep if as_rep else admin
        names = [name for name, _ in parameters]
        _sweep_one_list(sweep, client, path, names, per_parameter, api=False, hide=as_rep)
    assert not sweep.failures, f"{len(sweep.failures)} of {sweep.requests}:\n" + "\n".join(
        sweep.failures
    )
    _tables_intact(before)


def test_the_sweep_plan_sends_every_hostile_value_to_every_kind_and_one_to_every_parameter():
    lists = [[("a", "text"), ("b", "text"), ("c", "number")], [("d", "text"), ("e", "number")]]
    plan = _per_parameter_values(lists)
    sent: dict[str, set[str]] = {}
    for parameters, per_parameter in zip(lists, plan, strict=True):
        for (_, kind), values in zip(parameters, per_parameter, strict=True):
            assert values
            sent.setdefault(kind, set()).update(values)
    assert sent == {"text": set(PER_PARAMETER), "number": set(PER_PARAMETER)}
    assert sum(len(values) for per_parameter in plan for values in per_parameter) < 5 * len(
        PER_PARAMETER
    )


def test_a_number_filter_beyond_64_bits_is_a_form_error_on_a_list_page(people):
    # Found by the sweep above: /accounts/?parent=<21 digits> was a 500 (OverflowError).
    response = _ui_client(people["rep"]).get("/accounts/?parent=99999999999999999999")
    assert response.status_code == 200
    assert b"Use a number between" in response.content
    assert b"Rep Account" in response.content


def test_a_nul_byte_in_any_api_query_parameter_is_a_problem_naming_it(people):
    # Found by the sweep on PostgreSQL: /api/v1/data/imports?status=a%00b was a 500 (psycopg).
    response = _api_client(people["admin"]).get("/api/v1/data/imports?status=a%00b")
    assert_problem(response, 422, "status")
