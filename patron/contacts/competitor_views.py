"""Competitor pages (the shared record pages, core.record_pages), the Competitors card on
account pages, and the POST forms behind it that return to the account with the outcome."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from patron.contacts import competitor_selectors as selectors
from patron.contacts import competitor_services as services
from patron.contacts.choices import CompetitorStatus
from patron.contacts.competitor_filters import COMPETITOR_SORTS, CompetitorFilter
from patron.contacts.competitor_forms import (
    AccountCompetitorAddForm,
    AccountCompetitorForm,
    CompetitorForm,
)
from patron.contacts.models import Account, Competitor
from patron.contacts.selectors import account_get
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.exports import ExportSpec, owner_email, register_export, team_name
from patron.core.record_pages import (
    Column,
    DetailPanel,
    ObjectUI,
    RecordPages,
    register_detail_panel,
)
from patron.core.views import Recyclable, handles_domain_errors, register_recyclable
from patron.core.visibility import can_access_cached
from patron.users.models import User

# The add form lists this many competitors by name.
PICKER_LIMIT = 200
CARD_ANCHOR = "competitors-title"


def _detail_related(user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
    return {"competitor_accounts": selectors.competitor_account_list(user=user, competitor=record)}


COMPETITORS = ObjectUI(
    key="competitor",
    model=Competitor,
    label="Competitor",
    label_plural="Competitors",
    filterset=CompetitorFilter,
    sorts=COMPETITOR_SORTS,
    default_sort="name",
    selector=selectors.competitor_list,
    getter=selectors.competitor_get,
    create=services.competitor_create,
    update=services.competitor_update,
    delete=services.competitor_delete,
    form_class=CompetitorForm,
    columns=(
        Column("name", "Name", sort="name"),
        Column("website", "Website", css="hide-sm"),
        Column("owner", "Owner", css="hide-sm"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "name",
        "website",
        "created_at",
        "owner",
        "owner__full_name",
        "owner__email",
    ),
    detail_sections=(("Overview", ("website", "owner", "team")),),
    record_arg="competitor",
    namespace="contacts",
    related=_detail_related,
    primary_filters=("q", "owner"),
)

competitor_pages = RecordPages(COMPETITORS)

COMPETITOR_EXPORT = ExportSpec(
    model=Competitor,
    plural="competitors",
    filterset=CompetitorFilter,
    sorts=COMPETITOR_SORTS,
    related=("owner", "team"),
    columns=(
        ("id", "id"),
        ("name", "name"),
        ("website", "website"),
        ("strengths", "strengths"),
        ("weaknesses", "weaknesses"),
        ("products", "products"),
        ("description", "description"),
        ("owner", owner_email),
        ("team", team_name),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ),
)


# --- the Competitors card on account pages --------------------------------------------------


def _account_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    user = cast(User, request.user)
    profile = user.access_profile()
    if not isinstance(record, Account) or not profile.may(Competitor.object_type(), Action.READ):
        return None
    links = selectors.account_competitor_list(user=user, account=record)
    may_edit = can_access_cached(user, record, Action.UPDATE)
    choices: list[Competitor] = []
    if may_edit:
        taken = {link.competitor_id for link in links}
        rows = (
            Competitor.objects.visible_to(user)
            .exclude(pk__in=taken)
            .only("id", "name")
            .order_by("name", "id")[:PICKER_LIMIT]
        )
        choices = list(rows)
    return {
        "links": links,
        "may_edit": may_edit,
        "choices": choices,
        "statuses": CompetitorStatus.choices,
        "may_create": profile.may(Competitor.object_type(), Action.CREATE),
    }


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _back(pk: int) -> HttpResponse:
    return redirect(f"/accounts/{pk}/#{CARD_ANCHOR}")


def _report(request: HttpRequest, errors: Mapping[str, Any], detail: str) -> None:
    details = "; ".join(
        f"{field.replace('_', ' ')}: {' '.join(str(m) for m in msgs)}"
        for field, msgs in errors.items()
    )
    messages.error(request, f"Nothing was saved. {details or detail}")


def _link_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = account_get(user=user, pk=pk)
    form = AccountCompetitorAddForm(request.POST)
    if not form.is_valid():
        _report(request, form.errors, "")
        return _back(pk)
    try:
        link = services.account_competitor_add(
            user=user,
            account=account,
            competitor_id=form.cleaned_data["competitor"],
            **form.service_fields(),
        )
    except ValidationFailed as error:
        _report(request, error.errors, error.detail)
    else:
        messages.success(request, f"{link.competitor} is now listed at {account}.")
    return _back(pk)


def _link_update(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user = _user(request)
    account = account_get(user=user, pk=pk)
    link = selectors.account_competitor_get(account=account, pk=link_pk)
    form = AccountCompetitorForm(request.POST)
    if not form.is_valid():
        _report(request, form.errors, "")
        return _back(pk)
    try:
        services.account_competitor_update(user=user, link=link, **form.service_fields())
    except ValidationFailed as error:
        _report(request, error.errors, error.detail)
    else:
        messages.success(request, f"Saved what {link.competitor} sells at {account}.")
    return _back(pk)


def _link_remove(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user = _user(request)
    account = account_get(user=user, pk=pk)
    link = selectors.account_competitor_get(account=account, pk=link_pk)
    services.account_competitor_remove(user=user, link=link)
    messages.success(request, f"{link.competitor} is no longer listed at {account}.")
    return _back(pk)


def _post_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(handles_domain_errors(view)))


account_competitor_add = _post_view(_link_add)
account_competitor_update = _post_view(_link_update)
account_competitor_remove = _post_view(_link_remove)


def register_competitor_ui() -> None:
    """Navigation, recycle bin, CSV export and the account card (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Competitors",
            url_name="contacts:competitor_list",
            object_type=Competitor.object_type(),
            create_url_name="contacts:competitor_create",
            order=40,
        )
    )
    register_recyclable(
        Recyclable(
            model=Competitor,
            label="Competitor",
            detail_url_name="contacts:competitor_detail",
            restore=lambda user, record: services.competitor_restore(user=user, competitor=record),
        )
    )
    register_export(COMPETITOR_EXPORT)
    register_detail_panel(
        DetailPanel(
            key="contacts.account_competitors",
            template="contacts/partials/account_competitors.html",
            context=_account_card,
            object_types=frozenset({Account.object_type()}),
            order=50,
        )
    )
