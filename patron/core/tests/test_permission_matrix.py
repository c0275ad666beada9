"""The permission matrix (issue 8): every UI page and every API operation, walked from the URL
resolver and the Ninja API, is asked for the records of one user (``owner``) by a peer in
another branch of the role hierarchy, by a user whose role has no object permissions, by an
inactive user and by an anonymous client. None of them may get the records' marker text.

API operations are asked with the peer's and the no-access user's bearer tokens (every scope)
as well as with their sessions.

The walk is data-driven: a URL added later is covered without editing this file, and the test
fails when a URL names an id that ``ID_SOURCES`` cannot fill (add the record to ``_build_world``
and its route context to ``ID_SOURCES``), unless the URL is in the short ``TOKEN_ROUTES``
allow-list (its id is a secret that is itself the credential).
"""

from __future__ import annotations

import datetime
import inspect
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.http import HttpResponseBase, StreamingHttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from ninja import NinjaAPI

from patron.core.choices import OrgWideAccess
from patron.core.models import BusinessRecord, Notification, SavedView
from patron.core.pickers import get_picker
from patron.core.testing import grant, set_org_default
from patron.users.services import token_create, valid_scopes
from patron.users.tests.factories import UserFactory, make_role

pytestmark = [pytest.mark.django_db, pytest.mark.sweep]

MARKER = "Qzyxwvkj"
# Pages echo what was searched for, so filters name a part of the marker, never all of it.
QUERY = MARKER[:5]
ALL_ACTIONS = ("create", "read", "update", "delete", "export", "import")
ID_KWARG = re.compile(r"<(?:(\w+):)?(\w+)>")
API_PREFIX = "api/v1/"

# Routes whose kwarg is a secret token (the token is the credential, so there is no record id
# to substitute) or that are public by design; anonymous clients may reach them.
TOKEN_ROUTES = {
    "calendar/feed/<str:token>.ics": "secret iCalendar feed token",
    "capture/<str:key>/": "published capture form key (public form)",
    "capture/<str:key>/embed.js": "published capture form key (public script)",
    "capture/confirm/<str:token>/": "double opt-in token sent by email",
    "q/<str:token>/": "customer's quote link; only its digest is stored",
    "api/v1/capture/{key}": "published capture form key (public, CORS)",
    "api/v1/automation/hooks/{token}": "inbound webhook secret token",
}
# Pages anyone may open without signing in (no record in them).
PUBLIC_ROUTES = {"login/", "login/verify/", "logout/", "healthz", "readyz", ""}


@dataclass(frozen=True)
class Route:
    """One UI URL pattern or one API operation (``method`` is None for UI patterns)."""

    route: str
    method: str | None = None

    @property
    def is_api(self) -> bool:
        return self.method is not None

    @property
    def kwargs(self) -> list[str]:
        if self.is_api:
            return re.findall(r"{(?:\w+:)?(\w+)}", self.route)
        return [m.group(2) for m in ID_KWARG.finditer(self.route)]

    def __str__(self) -> str:
        return f"{self.method} {self.route}" if self.method else self.route


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def ui_routes() -> list[Route]:
    routes = {r for r in _walk(get_resolver().url_patterns) if not r.startswith(API_PREFIX)}
    return [Route(r) for r in sorted(routes)]


def _ninja_api() -> NinjaAPI:
    """The API mounted at /api/v1/, reached through its OpenAPI view (apps and their tests
    may not import the wiring in config)."""
    view = inspect.unwrap(resolve("/" + API_PREFIX + "openapi.json").func)
    api = view.keywords["api"]
    assert isinstance(api, NinjaAPI)
    return api


def api_routes() -> list[Route]:
    found: set[Route] = set()
    for prefix, router in _ninja_api()._routers:
        for path, path_view in router.path_operations.items():
            full = (API_PREFIX + prefix.strip("/") + "/" + path.lstrip("/")).replace("//", "/")
            for operation in path_view.operations:
                for method in operation.methods:
                    found.add(Route(full.rstrip("/") if path else full, method))
    return sorted(found, key=str)


def _context(route: Route, upto: int) -> str:
    """The route up to the ``upto``-th kwarg, every kwarg written ``*``: its lookup key."""
    text = route.route
    pattern = re.compile(r"{(?:\w+:)?\w+}") if route.is_api else ID_KWARG
    matches = list(pattern.finditer(text))
    cut = text[: matches[upto].end()]
    return pattern.sub("*", cut).removeprefix(API_PREFIX)


# Where each id in a route comes from: the route (without "api/v1/") up to the kwarg, earlier
# kwargs written "*", maps to a key of the world built below. A list value means one request per
# element; the list-valued kwargs of one route are zipped (object type with its record id).
ID_SOURCES: dict[str, str] = {
    # contacts
    "accounts/*": "account",
    "accounts/*/competitors/*": "account_competitor",
    "accounts/*/relations/*": "relation",
    "accounts/*/team/*": "account_team_member",
    "accounts/*/shares/*": "account_share",
    "contacts/*": "contact",
    "contacts/*/competitor-products/*": "competitor_products",
    "contacts/*/literature-requests/*": "literature_requests",
    "contacts/*/subscriptions/*": "subscriptions",
    "contacts/*/training-attendances/*": "training_attendances",
    "contacts/*/consents/*": "consents",
    "contacts/*/consent-check/*": "consent_purpose",
    "contacts/*/shares/*": "contact_share",
    "contacts/vcard/import/*": "vcard_job",
    "competitors/*": "competitor",
    "competitors/*/shares/*": "competitor_share",
    # saved views of any list
    "accounts/views/*": "saved_view",
    "activities/views/*": "saved_view",
    "competitors/views/*": "saved_view",
    "contacts/views/*": "saved_view",
    "contacts/competitor-products/views/*": "saved_view",
    "contacts/consents/views/*": "saved_view",
    "contacts/literature-requests/views/*": "saved_view",
    "contacts/subscriptions/views/*": "saved_view",
    "contacts/training-attendances/views/*": "saved_view",
    "leads/views/*": "saved_view",
    "leads/at-risk/views/*": "saved_view",
    "opportunities/views/*": "saved_view",
    "products/views/*": "saved_view",
    "quotes/views/*": "saved_view",
    # activities and calendars
    "activities/*": "activity",
    "activities/*/links/*": "activity_link",
    "calendar/reminders/*": "activity",
    # core
    "ui/jobs/*": "export_job",
    "exports/*": "export_job",
    "ui/pick/*": "pick_types",
    "ui/share/*": "record_types",
    "ui/share/*:share_pk": "account_share",
    "ui/share/*/*": "record_ids",
    "ui/timeline/*": "record_types",
    "ui/timeline/*/*": "record_ids",
    "timeline/*": "record_types",
    "timeline/*/*": "record_ids",
    "notifications/*": "notification",
    "settings/tokens/*": "api_token",
    "users/me/tokens/*": "api_token",
    # administration (configuration, not owned records: any existing row will do)
    "admin-area/users/*": "owner",
    "admin-area/teams/*": "team",
    "admin-area/roles/*": "owner_role",
    "admin-area/custom-fields/*": "custom_field",
    "admin-area/capture-forms/*": "capture_form",
    "capture-forms/*": "capture_form",
    "admin-area/lead-scoring/rules/*": "scoring_rule",
    "lead-scoring/rules/*": "scoring_rule",
    "admin-area/playbooks/*": "playbook",
    "admin-area/playbooks/*/versions/*": "playbook_version_number",
    "playbooks/*": "playbook",
    "admin-area/sales/pipelines/*": "pipeline",
    "admin-area/sales/stages/*": "stage",
    "admin-area/sales/loss-reasons/*": "loss_reason",
    "admin-area/sales/exchange-rates/*": "exchange_rate",
    "pipelines/*": "pipeline",
    "pipelines/*/stages/*": "stage",
    "loss-reasons/*": "loss_reason",
    "exchange-rates/*": "exchange_rate",
    # leads
    "leads/*": "lead",
    "leads/*/shares/*": "lead_share",
    # pipeline
    "opportunities/*": "opportunity",
    "opportunities/*/competitors/*": "opportunity_competitor",
    "opportunities/*/contacts/*": "opportunity_contact",
    "opportunities/*/team/*": "opportunity_team_member",
    "opportunities/*/line-items/*": "line_item",
    "opportunities/*/splits/*": "split_type",
    "opportunities/*/shares/*": "opportunity_share",
    "opportunities/board/*": "pipeline",
    "opportunities/board/*/stages/*": "stage",
    "analytics/sales/*": "sales_reports",
    # orders
    "products/*": "product",
    "products/*/shares/*": "product_share",
    "price-books/*": "price_book",
    "price-books/*/prices/*": "price_book_entry",
    "price-books/*/entries/*": "price_book_entry",
    "quotes/*": "quote",
    "quotes/*/lines/*": "quote_line",
    "quotes/*/tco/*": "tco_item",
    "quotes/*/tco/items/*": "tco_item",
    # routing
    "routing/pools/*": "pool",
    "routing/members/*": "pool_member",
    "routing/members/*/skills/*": "member_skill",
    "routing/skills/*": "member_skill",
    "routing/queues/*": "queue",
    "routing/rules/*": "assignment_rule",
    "routing/items/*": "lead_type",
    "routing/items/*/*": "lead",
    # territories
    "territories/*": "territory",
    "territories/*/members/*": "territory_member",
    "territories/*/quotas/*": "territory_quota",
    "territories/models/*": "territory_model",
    "territory-models/*": "territory_model",
    "territory-models/*/assignments/*": "account_type",
    "territory-models/*/assignments/*/*": "account",
    "territory-quotas/*": "territory_quota",
    "territory-rules/*": "territory_rule",
    "territory-runs/*": "territory_job",
    # automation
    "automation/workflows/*": "workflow",
    "automation/workflows/*/run/*": "opportunity",
    "automation/runs/*": "workflow_run",
    "automation/runs/*/steps/*": "step_run",
    "automation/webhooks/*": "webhook",
    "automation/webhooks/allowed-hosts/*": "allowed_host",
    "automation/webhooks/deliveries/*": "webhook_delivery",
    "webhooks/subscriptions/*": "webhook",
    "webhooks/allowed-hosts/*": "allowed_host",
    "webhooks/deliveries/*": "webhook_delivery",
    "approvals/processes/*": "approval_process",
    "approvals/requests/*": "approval_request",
    "approvals/tasks/*": "approval_task",
    "approvals/records/*": "account_type",
    "approvals/records/*/*": "account",
    # data management
    "data/imports/*": "import_run",
    "data/imports/jobs/*": "import_job",
    "data/import-mappings/*": "import_mapping",
    "data/imports/mappings/*": "import_mapping",
    "data/privacy/*": "privacy_request",
    "data/privacy/jobs/*": "privacy_job",
    "data/privacy-requests/*": "privacy_request",
    "data/duplicates/*": "duplicate_group",
    "data/duplicates/groups/*": "duplicate_group",
    "data/duplicates/rules/*": "duplicate_rule",
    "data/quality/*": "quality_keys",
}


def _build_world() -> dict[str, Any]:
    """Users in two branches of the role hierarchy and one record of every kind owned by
    ``owner``, each named with the marker."""
    from patron.activities.services import activity_create
    from patron.contacts.competitor_services import account_competitor_add, competitor_create
    from patron.contacts.related_lists import RELATED_LISTS
    from patron.contacts.services import (
        account_create,
        account_team_add,
        contact_create,
        relation_add,
    )

    world: dict[str, Any] = {}
    types = sorted(
        model.object_type()
        for model in apps.get_models()
        if issubclass(model, BusinessRecord) and not model._meta.abstract
    )
    vp = make_role("Matrix VP")
    east_manager = make_role("Matrix Manager East", parent=vp)
    east = make_role("Matrix Rep East", parent=east_manager)
    west = make_role("Matrix Rep West", parent=make_role("Matrix Manager West", parent=vp))
    nothing = make_role("Matrix No Access")
    for role in (vp, east_manager, east, west):
        for object_type in types:
            grant(role, object_type, *ALL_ACTIONS)
    for object_type in types:
        set_org_default(object_type, OrgWideAccess.PRIVATE)

    owner = UserFactory(role=east, email="owner@matrix.example", full_name="Olga Owner")
    colleague = UserFactory(role=east, email="colleague@matrix.example", full_name="Cal Colleague")
    world["users"] = {
        "owner": owner,
        "peer": UserFactory(role=west, email="peer@matrix.example", full_name="Pete Peer"),
        "no_access": UserFactory(role=nothing, email="none@matrix.example", full_name="Nia None"),
        "inactive": UserFactory(
            role=east, email="gone@matrix.example", full_name="Ines Inactive", is_active=False
        ),
        "manager": UserFactory(
            role=east_manager, email="boss@matrix.example", full_name="Max Manager"
        ),
    }
    admin = UserFactory(is_superuser=True, is_staff=True, email="root@matrix.example")
    world["owner"] = owner.pk
    world["owner_role"] = east.pk

    account = account_create(user=owner, name=f"{MARKER} Account")
    second = account_create(user=owner, name=f"{MARKER} Second Account")
    contact = contact_create(
        user=owner,
        first_name=MARKER,
        last_name="Contact",
        email=f"{MARKER.lower()}@matrix.example",
        account=account,
    )
    competitor = competitor_create(user=owner, name=f"{MARKER} Competitor")
    world.update(account=account.pk, contact=contact.pk, competitor=competitor.pk)
    world["account_competitor"] = account_competitor_add(
        user=owner, account=account, competitor_id=competitor.pk
    ).pk
    world["account_team_member"] = account_team_add(
        user=owner, account=account, member_user=colleague, team_role="account_manager"
    ).pk
    elsewhere = contact_create(user=owner, first_name=MARKER, last_name="Elsewhere", account=second)
    world["relation"] = relation_add(user=owner, account=account, contact_id=elsewhere.pk).pk
    for spec in RELATED_LISTS:
        world[spec.key] = _related_row(owner, spec, contact).pk
    world["consent_purpose"] = "newsletter"
    activity = activity_create(
        user=owner,
        kind="task",
        subject=f"{MARKER} Task",
        links=[{"object_type": "contacts.account", "id": account.pk}],
    )
    world["activity"] = activity.pk
    world["activity_link"] = activity.links.get().pk
    _build_sales(world, owner, admin, account, contact, competitor)
    _build_platform(world, owner, admin, contact)
    records = [
        (account.object_type(), account.pk),
        (contact.object_type(), contact.pk),
        (competitor.object_type(), competitor.pk),
        ("activities.activity", activity.pk),
        ("leads.lead", world["lead"]),
        ("pipeline.opportunity", world["opportunity"]),
        ("orders.product", world["product"]),
        ("orders.quote", world["quote"]),
    ]
    missing = set(types) - {object_type for object_type, _ in records}
    assert not missing, f"the matrix owns no record of {sorted(missing)}: add one"
    world["record_types"] = [object_type for object_type, _ in records]
    world["record_ids"] = [pk for _, pk in records]
    world["pick_types"] = [t for t, _ in records if get_picker(t) is not None]
    world["account_type"] = account.object_type()
    world["lead_type"] = "leads.lead"
    for key, object_type in (
        ("account", "contacts.account"),
        ("contact", "contacts.contact"),
        ("competitor", "contacts.competitor"),
        ("lead", "leads.lead"),
        ("opportunity", "pipeline.opportunity"),
        ("product", "orders.product"),
    ):
        world[f"{key}_share"] = _share(owner, object_type, world[key], colleague)
    world["saved_view"] = SavedView.objects.create(
        user=owner, object_type="contacts.account", name=f"{MARKER} view"
    ).pk
    world["notification"] = Notification.objects.create(
        user=owner, kind="info", title=f"{MARKER} notice"
    ).pk
    return world


def _related_row(owner: Any, spec: Any, contact: Any) -> Any:
    from patron.contacts.related_list_services import related_row_create

    values = {
        "competitor_products": {"product": f"{MARKER} Gadget"},
        "literature_requests": {"item": f"{MARKER} Brochure", "channel": "email"},
        "subscriptions": {"name": f"{MARKER} Digest", "kind": "list", "status": "subscribed"},
        "training_attendances": {
            "course": f"{MARKER} Course",
            "result": "passed",
            "attended_on": "2026-05-01",
        },
        "consents": {
            "purpose": "newsletter",
            "status": "granted",
            "source": "email",
            "evidence": MARKER,
        },
    }[spec.key]
    return related_row_create(user=owner, spec=spec, contact=contact, **values)


def _share(owner: Any, object_type: str, pk: int, colleague: Any) -> int:
    from patron.core.models import RecordShare

    app_label, model = object_type.split(".")
    share = RecordShare.objects.create(
        content_type=ContentType.objects.get_by_natural_key(app_label, model),
        object_id=pk,
        user=colleague,
        created_by=owner,
    )
    return share.pk


def _build_sales(
    world: dict[str, Any], owner: Any, admin: Any, account: Any, contact: Any, competitor: Any
) -> None:
    from patron.leads.services import lead_create
    from patron.orders.models import PriceBook, PriceBookEntry
    from patron.orders.quote_services import quote_create, quote_line_add, tco_item_add
    from patron.orders.services import line_item_add, product_create
    from patron.pipeline.analytics import REPORTS
    from patron.pipeline.models import LossReason, Playbook, PlaybookVersion
    from patron.pipeline.related_services import (
        opportunity_competitor_add,
        opportunity_contact_add,
        opportunity_team_add,
    )
    from patron.pipeline.services import opportunity_create
    from patron.pipeline.tests.conftest import make_pipeline

    pipeline = make_pipeline()
    world["pipeline"] = pipeline.pk
    world["stage"] = pipeline.stages.order_by("position")[0].pk
    world["loss_reason"] = LossReason.objects.create(name="Matrix price").pk
    playbook = Playbook.objects.create(pipeline=pipeline, name="Matrix playbook")
    playbook.active_version = PlaybookVersion.objects.create(playbook=playbook, number=1)
    playbook.save()
    world["playbook"] = playbook.pk
    world["playbook_version_number"] = 1
    world["lead"] = lead_create(
        user=owner, data={"last_name": f"{MARKER} Lead", "company": f"{MARKER} Lead Co"}
    ).pk
    opportunity = opportunity_create(
        user=owner,
        name=f"{MARKER} Deal",
        account=account,
        close_date=datetime.date(2027, 3, 31),
        amount=Decimal("1000"),
    )
    world["opportunity"] = opportunity.pk
    world["opportunity_contact"] = opportunity_contact_add(
        user=owner, opportunity=opportunity, contact_id=contact.pk, role="decision_maker"
    ).pk
    world["opportunity_competitor"] = opportunity_competitor_add(
        user=owner, opportunity=opportunity, competitor_id=competitor.pk, notes=MARKER
    ).pk
    world["opportunity_team_member"] = opportunity_team_add(
        user=owner,
        opportunity=opportunity,
        member_user=world["users"]["manager"],
        role="sales_engineer",
    ).pk
    world["split_type"] = "revenue"
    world["sales_reports"] = list(REPORTS)
    product = product_create(user=owner, sku="MATRIX-1", name=f"{MARKER} Product")
    world["product"] = product.pk
    book = PriceBook.objects.create(name="Matrix book", currency="USD", is_standard=True)
    world["price_book"] = book.pk
    world["price_book_entry"] = PriceBookEntry.objects.create(
        price_book=book, product=product, list_price=Decimal("10")
    ).pk
    world["line_item"] = line_item_add(
        user=owner, opportunity=opportunity, product=product, quantity=1, unit_price="10"
    ).pk
    quote = quote_create(user=owner, name=f"{MARKER} Quote", opportunity=opportunity)
    world["quote"] = quote.pk
    world["quote_line"] = quote_line_add(
        user=owner, quote=quote, product=product, quantity=1, unit_price="10"
    ).pk
    quote.refresh_from_db()
    world["tco_item"] = tco_item_add(
        user=owner,
        quote=quote,
        description=f"{MARKER} upkeep",
        category="maintenance",
        amount="5",
        recurrence="yearly",
    ).pk


def _build_platform(world: dict[str, Any], owner: Any, admin: Any, contact: Any) -> None:
    from patron.contacts.vcard_services import VCARD_IMPORT_KIND
    from patron.core.models import CustomFieldDefinition, ExchangeRate, Job
    from patron.core.quality import quality_checks
    from patron.data_exchange.import_services import IMPORT_KIND, import_upload
    from patron.data_exchange.models import (
        DuplicateGroup,
        DuplicateGroupMember,
        DuplicateRule,
        ImportMapping,
    )
    from patron.data_exchange.privacy_services import PRIVACY_JOB_KIND, privacy_request_create
    from patron.leads.models import CaptureForm, ScoringRule
    from patron.routing.models import AssignmentRule, MemberSkill, Pool, PoolMember, RoutingQueue
    from patron.territories.models import (
        Territory,
        TerritoryMember,
        TerritoryModel,
        TerritoryQuota,
        TerritoryRule,
    )
    from patron.territories.services import ASSIGN_JOB_KIND
    from patron.users.models import Team

    world["team"] = Team.objects.create(name="Matrix team").pk
    world["custom_field"] = CustomFieldDefinition.objects.create(
        object_type="contacts.account", key="matrix", label="Matrix", field_type="text"
    ).pk
    world["exchange_rate"] = ExchangeRate.objects.create(
        currency="EUR", rate=Decimal("1.1"), valid_from=datetime.date(2026, 1, 1)
    ).pk
    world["capture_form"] = CaptureForm.objects.create(
        name="Matrix form", key="matrix-key", default_owner=owner
    ).pk
    world["scoring_rule"] = ScoringRule.objects.create(name="Matrix rule", kind="fit", points=5).pk
    world["api_token"] = token_create(user=owner, name=f"{MARKER} token", scopes=["contacts:read"])[
        0
    ].pk

    pool = Pool.objects.create(name="Matrix pool", object_type="leads.lead")
    member = PoolMember.objects.create(pool=pool, user=owner)
    world["pool"] = pool.pk
    world["pool_member"] = member.pk
    world["member_skill"] = MemberSkill.objects.create(
        member=member, kind="language", value="en"
    ).pk
    world["queue"] = RoutingQueue.objects.create(name="Matrix queue").pk
    world["assignment_rule"] = AssignmentRule.objects.create(
        object_type="leads.lead", name="Matrix routing rule", pool=pool
    ).pk

    model = TerritoryModel.objects.create(name="Matrix territories")
    territory = Territory.objects.create(model=model, name="Matrix East")
    world["territory_model"] = model.pk
    world["territory"] = territory.pk
    world["territory_member"] = TerritoryMember.objects.create(territory=territory, user=owner).pk
    world["territory_rule"] = TerritoryRule.objects.create(
        territory=territory, field="country", operator="in"
    ).pk
    world["territory_quota"] = TerritoryQuota.objects.create(
        territory=territory,
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 3, 31),
        amount=Decimal("100"),
        currency="USD",
    ).pk
    world["territory_job"] = Job.objects.create(kind=ASSIGN_JOB_KIND, created_by=owner).pk
    world["vcard_job"] = Job.objects.create(kind=VCARD_IMPORT_KIND, created_by=owner).pk

    run = import_upload(
        user=owner,
        object_type="contacts.contact",
        upload=SimpleUploadedFile("matrix.csv", f"first_name\n{MARKER}\n".encode()),
        file_name=f"{MARKER}.csv",
    )
    world["import_run"] = run.pk
    world["import_job"] = Job.objects.create(
        kind=IMPORT_KIND, created_by=owner, params={"run_id": run.pk}
    ).pk
    world["import_mapping"] = ImportMapping.objects.create(
        # Saved mappings are used by everyone who imports that type (only the owner changes
        # them): no marker.
        name="Matrix mapping",
        object_type="contacts.contact",
        created_by=owner,
    ).pk
    world["duplicate_rule"] = DuplicateRule.objects.create(
        object_type="contacts.contact", name="Matrix duplicates"
    ).pk
    group = DuplicateGroup.objects.create(object_type="contacts.contact")
    DuplicateGroupMember.objects.create(group=group, object_id=contact.pk)
    world["duplicate_group"] = group.pk
    world["quality_keys"] = [check.key for check in quality_checks()]
    privacy = privacy_request_create(
        user=admin, kind="export", contact_id=contact.pk, reason=f"{MARKER} request"
    )
    world["privacy_request"] = privacy.pk
    world["privacy_job"] = (
        privacy.job_id or Job.objects.create(kind=PRIVACY_JOB_KIND, created_by=admin).pk
    )
    _build_automation(world, owner, admin)


def _build_automation(world: dict[str, Any], owner: Any, admin: Any) -> None:
    from patron.automation import approval_services, services, webhook_services
    from patron.automation.models import (
        StepRun,
        WebhookDelivery,
        WebhookSubscription,
        WorkflowRun,
    )
    from patron.contacts.models import Account

    workflow = services.workflow_create(
        user=admin,
        data={
            "name": "Matrix workflow",
            "object_type": "pipeline.opportunity",
            "trigger": {"type": "manual"},
            "conditions": {},
            "steps": [
                {
                    "id": "s1",
                    "type": "create_task",
                    "config": {"subject": "Follow up", "assignee": "owner"},
                },
            ],
        },
    )
    world["workflow"] = workflow.pk
    run = WorkflowRun.objects.create(
        workflow=workflow,
        version=workflow.versions.get(),
        trigger_type="manual",
        idempotency_key="matrix",
        started_by=owner,
    )
    world["workflow_run"] = run.pk
    world["step_run"] = StepRun.objects.create(
        run=run, step_id="s1", step_type="create_task", status="failed"
    ).pk
    # Created directly: the service resolves the host (SSRF check), which needs a network.
    webhook = WebhookSubscription.objects.create(
        name="Matrix hook", target_url="https://hooks.example.com/matrix", secret="matrix"
    )
    world["webhook"] = webhook.pk
    world["webhook_delivery"] = WebhookDelivery.objects.create(
        subscription=webhook, event_type="contacts.account.created", event_id=uuid.uuid4()
    ).pk
    world["allowed_host"] = webhook_services.webhook_allowed_host_create(
        user=admin, host="hooks.example.com"
    ).pk
    process = approval_services.approval_process_create(
        user=admin,
        name="Matrix approvals",
        object_type="contacts.account",
        steps=[{"name": "Manager", "approver_kind": "manager"}],
    )
    world["approval_process"] = process.pk
    request = approval_services.approval_submit(
        user=owner, record=Account.objects.get(pk=world["account"]), comment=MARKER
    )
    world["approval_request"] = request.pk
    world["approval_task"] = request.tasks.get().pk


def _export(client: Client, owner: Any) -> int:
    """A finished CSV export of the owner's accounts (the file holds the marker)."""
    from patron.core.exports import export_csv_run
    from patron.core.models import Job

    client.post("/accounts/export/")
    job = Job.objects.filter(created_by=owner).latest("id")
    export_csv_run(job_id=job.pk)
    return job.pk


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Built once for the module inside a transaction rolled back at its end; each test runs
    in its own savepoint, so a write that gets through is undone before the next test."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = _build_world()
        built["clients"] = {}
        for name, user in built["users"].items():
            # A server error is an answer to check (and report), not an exception.
            client = Client(raise_request_exception=False)
            client.force_login(user)
            built["clients"][name] = client
        built["clients"]["anonymous"] = Client(raise_request_exception=False)
        for name in ("peer", "no_access"):
            # The API also answers bearer tokens, which skip the session's middleware; a
            # token with every scope must not reach further than its user's session.
            _, secret = token_create(
                user=built["users"][name], name=f"matrix {name}", scopes=sorted(valid_scopes())
            )
            built["clients"][f"{name}_token"] = Client(
                raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {secret}"
            )
        built["export_job"] = _export(built["clients"]["owner"], built["users"]["owner"])
        yield built
        transaction.set_rollback(True)


def urls_for(route: Route, world: dict[str, Any]) -> list[str]:
    """Every URL to request for ``route``; raises LookupError naming an id it cannot fill."""
    if str(route.route) in TOKEN_ROUTES:
        return []
    values: list[Any] = []
    for index in range(len(route.kwargs)):
        context = _context(route, index)
        named = f"{context}:{route.kwargs[index]}"
        key = ID_SOURCES.get(named) or ID_SOURCES.get(context)
        if key is None:
            raise LookupError(f"no record for {context!r}: add it to ID_SOURCES")
        values.append(world[key])
    lists = [v for v in values if isinstance(v, list)]
    variants = len(lists[0]) if lists else 1
    pattern = re.compile(r"{(?:\w+:)?\w+}") if route.is_api else ID_KWARG
    urls = []
    for variant in range(variants):
        filled = [str(v[variant] if isinstance(v, list) else v) for v in values]
        parts = pattern.split(route.route)
        # split() leaves the kwargs' own groups between the literal parts; keep the literals.
        literals = parts[:: (pattern.groups + 1)]
        urls.append(
            "/" + "".join(lit + val for lit, val in zip(literals, [*filled, ""], strict=True))
        )
    return urls


def _body(response: HttpResponseBase) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)  # type: ignore[arg-type]
    return bytes(getattr(response, "content", b""))


def _filters(world: dict[str, Any]) -> str:
    """A query naming the owner's records in the parameters lists filter on."""
    return (
        f"?q={QUERY}&search={QUERY}&account={world['account']}&contact={world['contact']}"
        f"&opportunity={world['opportunity']}&owner={world['owner']}&name=account"
    )


def _request(client: Client, method: str, url: str) -> HttpResponseBase:
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, b"{}", content_type="application/json")


def _login_url() -> str:
    return str(resolve_url(settings.LOGIN_URL))


def _problem(who: str, method: str, url: str, response: HttpResponseBase, *, write: bool) -> str:
    """What is wrong with ``who``'s answer, or "" when nothing of the owner's leaked."""
    status = response.status_code
    if status >= 500:
        return f"{who} {method} {url}: server error {status}"
    if MARKER.encode() in _body(response):
        return f"{who} {method} {url}: {status} shows the owner's record"
    if write and status in (201, 204):
        return f"{who} {method} {url}: {status}, the change went through"
    return ""


UI_ROUTES = ui_routes()
API_ROUTES = api_routes()


def test_the_token_holders_are_signed_in_as_their_users(world):
    """Else every token request would be a 401, and the token rows of the walk test nothing."""
    for name in ("peer", "no_access"):
        me = world["clients"][f"{name}_token"].get("/api/v1/users/me")
        assert me.status_code == 200
        assert me.json()["email"] == world["users"][name].email


def test_every_id_in_every_route_can_be_given_a_record(world):
    unfilled = []
    for route in UI_ROUTES + API_ROUTES:
        try:
            urls_for(route, world)
        except LookupError as error:
            unfilled.append(f"{route}: {error}")
    assert not unfilled, "\n".join(unfilled)


# Rows a refused request may add: the security log records refusals, idempotency keys any write.
FINGERPRINT_IGNORES = {"core.securityevent", "core.idempotencyrecord"}
DENIED = ("peer", "no_access", "inactive", "anonymous")
# API operations are also asked with these users' bearer tokens.
TOKEN_HOLDERS = ("peer_token", "no_access_token")
ENDS_WITH_ID = re.compile(r"(<int:\w+>/?|{int:\w+})$")


def _fingerprint() -> dict[str, int]:
    """Row counts of every Patron table and, for business records, their summed versions and
    deletions, in one query: a refused write must leave all of them as they were."""
    names: list[str] = []
    parts: list[str] = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if not model.__module__.startswith("patron.") or label in FINGERPRINT_IGNORES:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        names.append(label)
        parts.append(f"(SELECT COUNT(*) FROM {table})")
        if issubclass(model, BusinessRecord):
            names.append(f"{label} versions and deletions")
            parts.append(f"(SELECT COALESCE(SUM(version), 0) + COUNT(deleted_at) FROM {table})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        row = cursor.fetchone()
    return dict(zip(names, row, strict=True))


def _check(route: Route, world: dict[str, Any]) -> None:
    clients = world["clients"]
    method = route.method or "GET"
    # A page that names a record is also sent a POST: a write IDOR hides behind a form.
    ui_record_page = bool(route.kwargs) and not route.is_api
    write_method = method if method != "GET" else ("POST" if ui_record_page else None)
    admin_only = route.route.startswith("admin-area/")
    failures: list[str] = []
    for url in urls_for(route, world):
        if method == "GET":
            if route.kwargs:
                # The owner reaches their record, so the ids substituted are real ones.
                mine = clients["owner"].get(url)
                if mine.status_code == 404 or mine.status_code >= 500:
                    failures.append(f"owner GET {url}: {mine.status_code} for their own record")
            for who in DENIED + (TOKEN_HOLDERS if route.is_api else ()):
                # Lists, searches, reports and related lists are also asked with filters
                # naming the owner's records; a single record's page has none to ask.
                filtered = who.startswith("peer") and not ENDS_WITH_ID.search(route.route)
                queries = ["", _filters(world)] if filtered else [""]
                for query in queries:
                    response = clients[who].get(url + query)
                    failures.append(_problem(who, "GET", url + query, response, write=False))
                    failures.append(_refusal(route, who, "GET", url, response, admin_only))
        if write_method is None:
            continue
        # Without an id the write acts on the user's own things (their feed, their views).
        before = _fingerprint() if route.kwargs else None
        # An inactive user's session signs no one in, as the GETs above showed; skipping
        # their writes keeps the walk fast.
        for who in ("peer", "no_access", "anonymous") + (TOKEN_HOLDERS if route.is_api else ()):
            response = _request(clients[who], write_method, url)
            failures.append(_problem(who, write_method, url, response, write=bool(route.kwargs)))
            failures.append(_refusal(route, who, write_method, url, response, admin_only))
        if before is not None:
            after = _fingerprint()
            changed = sorted(name for name, count in after.items() if before[name] != count)
            if changed:
                failures.append(f"{write_method} {url} by a refused user changed {changed}")
    failures = [failure for failure in failures if failure]
    assert not failures, "\n".join(failures)


def _refusal(
    route: Route, who: str, method: str, url: str, response: HttpResponseBase, admin_only: bool
) -> str:
    """The expected refusal: 403 on admin pages, 401 or the login page when signed out."""
    status = response.status_code
    if who in ("peer", "no_access", *TOKEN_HOLDERS):
        if admin_only and status != 403:
            return f"{who} {method} {url}: {status} on an admin page, not 403"
        return ""
    if route.is_api:
        return "" if status == 401 else f"{who} {method} {url}: {status}, not 401"
    if route.route in PUBLIC_ROUTES:
        return ""
    location = response.get("Location", "") or ""
    if status == 405 or (status == 302 and location.startswith(_login_url())):
        return ""
    return f"{who} {method} {url}: {status}, not a login redirect"


@pytest.mark.parametrize("route", UI_ROUTES, ids=str)
def test_a_page_shows_nothing_of_a_record_the_user_may_not_see(route, world):
    _check(route, world)


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_an_api_operation_shows_nothing_of_a_record_the_user_may_not_see(route, world):
    _check(route, world)
