"""Lead pages: the shared record pages (core.record_pages) plus the lead's own actions
(status path, disqualify, archive and restore, convert)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from patron.core.choices import Action, Via
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.record_pages import Column, ObjectUI, RecordPages, record_detail_url
from patron.core.views import handles_domain_errors
from patron.core.visibility import can_access_cached
from patron.leads import selectors, services
from patron.leads.choices import LeadStatus
from patron.leads.conversion import lead_convert, matching_account
from patron.leads.filters import LEAD_SORTS, LeadFilter
from patron.leads.forms import ConvertForm, DisqualifyForm, LeadBulkEditForm, LeadForm
from patron.leads.models import Lead
from patron.users.models import User


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guarded by login_required
    return user


def lead_create_fields(*, user: Any, via: str = Via.UI, **fields: Any) -> Lead:
    return services.lead_create(user=user, data=fields, via=via)


def lead_update_fields(
    *, user: Any, lead: Lead, expected_version: int | None = None, via: str = Via.UI, **fields: Any
) -> Lead:
    return services.lead_update(
        user=user, lead=lead, data=fields, expected_version=expected_version, via=via
    )


def lead_archive_record(*, user: Any, lead: Lead, via: str = Via.UI) -> Lead:
    return services.lead_archive(user=user, lead=lead, via=via)


def _detail_related(user: User, record: Any, *, can_edit: bool) -> dict[str, Any]:
    assert isinstance(record, Lead)
    converted = record.converted_at is not None
    opportunity_url = ""
    if record.converted_opportunity_id:
        opportunity_url = (
            record_detail_url("pipeline.opportunity", record.converted_opportunity_id) or ""
        )
    path = []
    reached = True
    for status in services.STATUS_PATH:
        current = record.status == status
        path.append({"value": status, "label": status.label, "current": current, "done": reached})
        if current:
            reached = False
    if record.status == LeadStatus.DISQUALIFIED:
        path = [dict(step, done=False) for step in path]
    return {
        "status_path": path,
        "converted": converted,
        "archived": record.archived_at is not None,
        "can_change": can_edit and not converted,
        "converted_account_visible": bool(
            record.converted_account and can_access_cached(user, record.converted_account, "read")
        ),
        "converted_contact_visible": bool(
            record.converted_contact and can_access_cached(user, record.converted_contact, "read")
        ),
        "opportunity_url": opportunity_url,
        "disqualify_form": DisqualifyForm(auto_id="dq_%s"),
        "statuses": [s for s in LeadStatus if s != LeadStatus.DISQUALIFIED],
    }


LEADS = ObjectUI(
    key="lead",
    model=Lead,
    label="Lead",
    label_plural="Leads",
    filterset=LeadFilter,
    sorts=LEAD_SORTS,
    default_sort="-created",
    selector=selectors.lead_list,
    getter=selectors.lead_get,
    create=lead_create_fields,
    update=lead_update_fields,
    delete=lead_archive_record,
    form_class=LeadForm,
    columns=(
        Column("name", "Name", sort="name", cell="leads/cells/lead_name.html"),
        Column("company", "Company", sort="company", css="hide-sm"),
        Column("email", "Email", css="hide-sm"),
        Column("status", "Status", cell="leads/cells/lead_status.html"),
        Column("score", "Score", sort="score", css="num"),
        Column("owner", "Owner", css="hide-sm", cell="leads/cells/lead_owner.html"),
        Column("created_at", "Created", sort="created", css="hide-sm"),
    ),
    list_fields=(
        "id",
        "first_name",
        "last_name",
        "company",
        "email",
        "status",
        "score",
        "created_at",
        "converted_at",
        "archived_at",
        "owner",
        "owner__full_name",
        "owner__email",
        "queue",
        "queue__name",
    ),
    detail_sections=(
        (
            "Person",
            ("salutation", "title", "email", "phone", "mobile", "language", "email_opt_out"),
        ),
        (
            "Company",
            ("company", "website", "domain", "industry", "employee_count", "annual_revenue"),
        ),
        ("Address", ("street", "city", "region", "postal_code", "country")),
        (
            "Qualification",
            (
                "status",
                "disqualification_reason",
                "disqualification_note",
                "source",
                "source_detail",
                "campaign",
                "external_id",
                "score",
                "owner",
                "queue",
                "team",
                "opt_in_state",
            ),
        ),
    ),
    bulk_form_class=LeadBulkEditForm,
    record_arg="lead",
    namespace="leads",
    related=_detail_related,
    primary_filters=("q", "status", "mine"),
)

lead_pages = RecordPages(LEADS)


def _back(lead: Lead) -> HttpResponse:
    return redirect("leads:lead_detail", pk=lead.pk)


def _flash(request: HttpRequest, error: ValidationFailed) -> None:
    details = [m for ms in error.errors.values() for m in ms]
    messages.error(request, " ".join([error.detail, *details]) if details else error.detail)


@login_required
@require_POST
@handles_domain_errors
def lead_status(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    lead = selectors.lead_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        lead = services.lead_set_status(user=user, lead=lead, status=request.POST.get("status", ""))
    except ValidationFailed as exc:
        _flash(request, exc)
    else:
        messages.success(request, f"Status set to {lead.get_status_display()}.")
    return _back(lead)


@login_required
@handles_domain_errors
def lead_disqualify(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    lead = selectors.lead_get(user=user, pk=pk, action=Action.UPDATE)
    form = DisqualifyForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.lead_disqualify(
                    user=user,
                    lead=lead,
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                )
            except ValidationFailed as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{lead} was disqualified.")
                return _back(lead)
        status = 422
    return render(
        request, "leads/lead_disqualify.html", {"record": lead, "form": form}, status=status
    )


@login_required
@require_POST
@handles_domain_errors
def lead_archive(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    lead = selectors.lead_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        services.lead_archive(user=user, lead=lead)
    except ValidationFailed as exc:
        _flash(request, exc)
    else:
        messages.success(request, f"{lead} was archived; find it with the Archived filter.")
    return _back(lead)


@login_required
@require_POST
@handles_domain_errors
def lead_restore(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    lead = selectors.lead_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        services.lead_restore(user=user, lead=lead)
    except ValidationFailed as exc:
        _flash(request, exc)
    else:
        messages.success(request, f"{lead} is back in the lead lists.")
    return _back(lead)


def conversion_arguments(form: ConvertForm) -> dict[str, Any]:
    """``lead_convert`` keyword arguments from the valid conversion form."""
    data = form.cleaned_data
    mode = data.get("account_mode") or "match"
    options = form.step_options()
    return {
        "account": data.get("account") if mode == "existing" else None,
        "create_account": mode == "company",
        "person_account": mode == "person",
        "contact": data.get("contact"),
        "opportunity": options.pop("opportunity", None),
        "step_options": options,
    }


@login_required
@handles_domain_errors
def lead_convert_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    lead = selectors.lead_get(user=user, pk=pk, action=Action.UPDATE)
    if lead.converted_at is not None:
        messages.info(request, f"{lead} was already converted; here is what it became.")
        return _back(lead)
    form = ConvertForm(
        request.POST if request.method == "POST" else None,
        user=user,
        initial={
            "opportunity_name": f"{lead.company or lead} opportunity",
            "account_mode": "match",
        },
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = lead_convert(user=user, lead=lead, **conversion_arguments(form))
            except ValidationFailed as exc:
                # Steps name their fields "<step>.<field>"; the form calls them "<step>_<field>".
                add_service_errors(
                    form,
                    ValidationFailed(
                        exc.detail,
                        errors={k.replace(".", "_"): v for k, v in exc.errors.items()},
                    ),
                )
            else:
                made = "account" if result.account_created else "existing account"
                messages.success(
                    request,
                    f"{lead} was converted: {made} {result.account}, contact {result.contact}"
                    + (f", opportunity {result.opportunity}" if result.opportunity else "")
                    + ".",
                )
                return _back(result.lead)
        status = 422
    context = {
        "record": lead,
        "form": form,
        "suggested_accounts": selectors.account_suggestions(user=user, lead=lead),
        "matching_account": matching_account(user=user, lead=lead),
        "suggested_contacts": selectors.contact_suggestions(user=user, lead=lead),
    }
    return render(request, "leads/lead_convert.html", context, status=status)


def register_ui() -> None:
    """Put leads in the navigation (from AppConfig.ready).

    Leads are archived, never deleted, so they are not offered in the recycle bin.
    """
    register_nav_item(
        NavItem(
            area="Sales",
            label="Leads",
            url_name="leads:lead_list",
            object_type=Lead.object_type(),
            create_url_name="leads:lead_create",
            order=5,
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Lead capture forms",
            url_name="leads:capture_form_list",
            admin_only=True,
            order=40,
        )
    )
