"""Pages of the lead policy: the leads-at-risk list (with saved views and CSV) and the lead
settings (administrators). ``register_lead_policy`` wires the never-lost policy and scoring
into the rest of Patron from ``LeadsConfig.ready``."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Iterator
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.exports import record_export, safe_cell
from patron.core.filters import FilterContext
from patron.core.models import SavedView
from patron.core.record_pages import SavedViewForm, list_query
from patron.core.saved_views import saved_view_delete, saved_view_save
from patron.core.views import handles_domain_errors, keyset_page
from patron.leads.models import Lead, LeadSettings
from patron.leads.policy_filters import AT_RISK_DEFAULT_SORT, AT_RISK_SORTS, AtRiskFilter
from patron.leads.policy_services import (
    RiskReason,
    RiskWindow,
    at_risk_candidates,
    lead_settings,
    lead_settings_update,
    risk_reasons,
)
from patron.users.admin_views import admin_required
from patron.users.models import User

PAGE_SIZES = (25, 50, 100)
CSV_CHUNK = 1000
# Saved views of this list are filed apart from the lead list's own.
SAVED_VIEW_TYPE = "leads.lead_at_risk"
LEAD_TYPE = "leads.lead"


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _require(user: User, action: str) -> None:
    if not user.access_profile().may(LEAD_TYPE, action):
        verb = "export" if action == Action.EXPORT else "see"
        raise PermissionDenied(f"Your role may not {verb} leads.")


def at_risk_filterset(
    user: Any,
    params: QueryDict | dict[str, Any],
    *,
    action: str = Action.READ,
    policy: LeadSettings | None = None,
) -> AtRiskFilter:
    return AtRiskFilter(
        params,
        queryset=at_risk_candidates(user=user, action=action),
        request=FilterContext(user=user),
        policy=policy,
    )


def _polish(form: forms.Form) -> None:
    """Filter controls that say "Any" rather than dashes or a preselected "Yes"."""
    for form_field in form.fields.values():
        if isinstance(form_field, forms.ModelChoiceField):
            form_field.empty_label = "Any"
        elif isinstance(form_field, forms.ChoiceField):
            choices = list(cast(Any, form_field.choices))
            if not any(value == "" for value, _label in choices):
                form_field.choices = [("", "Any"), *choices]


def _sort(params: QueryDict) -> str:
    sort = params.get("sort", "")
    return sort if sort in AT_RISK_SORTS else AT_RISK_DEFAULT_SORT


def due_text(lead: Lead, now: datetime.datetime) -> str:
    """The first-response deadline relative to now: "overdue by 1 h 5 min", "in 12 min"."""
    due = lead.first_response_due_at
    if lead.first_responded_at is not None:
        return "Responded"
    if due is None:
        return "No deadline yet"
    minutes = int(abs((due - now).total_seconds()) // 60)
    span = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"Overdue by {span}" if due <= now else f"Due in {span}"


def describe_rows(rows: list[Lead], window: RiskWindow) -> list[dict[str, Any]]:
    return [
        {
            "lead": lead,
            "reasons": [(key, RiskReason.LABELS[key]) for key in risk_reasons(lead, window)],
            "due": due_text(lead, window.now),
            "holder": str(lead.queue) if lead.queue_id else str(lead.owner),
        }
        for lead in rows
    ]


def _saved_views(user: User) -> QuerySet[SavedView]:
    return SavedView.objects.filter(
        Q(user=user) | Q(shared=True), object_type=SAVED_VIEW_TYPE
    ).order_by("name", "id")


@login_required
@handles_domain_errors
def at_risk_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    _require(user, Action.READ)
    saved_views = list(_saved_views(user))
    view_id = request.GET.get("view", "")
    if view_id.isdigit() and set(request.GET) == {"view"}:
        saved = next((v for v in saved_views if str(v.pk) == view_id), None)
        if saved is not None:
            query = "&".join(part for part in (saved.query, f"view={saved.pk}") if part)
            return redirect(f"{reverse('lead_policy:at_risk')}?{query}")
    policy = lead_settings()
    filterset = at_risk_filterset(user, request.GET, policy=policy)
    _polish(filterset.form)
    status = 200
    if filterset.is_valid():
        rows = filterset.qs
    else:
        rows, status = Lead.objects.none(), 422
    sort = _sort(request.GET)
    size_text = request.GET.get("size", "")
    size = int(size_text) if size_text.isdigit() and int(size_text) in PAGE_SIZES else 25
    page = keyset_page(rows, AT_RISK_SORTS[sort], request.GET.get("cursor", ""), size)
    window = filterset.window()
    profile = user.access_profile()
    primary = ("reason", "mine", "owner", "queue")
    context = {
        "filterset": filterset,
        "primary_filters": [filterset.form[name] for name in primary],
        "more_filters": [filterset.form[n] for n in filterset.form.fields if n not in primary],
        "page": page,
        "rows": describe_rows(page.rows, window),
        "sort": sort,
        "size": size,
        "page_sizes": PAGE_SIZES,
        "query": list_query(request.GET),
        "can_export": profile.may(LEAD_TYPE, Action.EXPORT),
        "saved_views": saved_views,
        "active_view": view_id,
        "active_view_name": next((v.name for v in saved_views if str(v.pk) == view_id), ""),
        "views_list_url": reverse("lead_policy:at_risk"),
        "views_save_url": reverse("lead_policy:at_risk_save_view"),
        "views_delete_name": "lead_policy:at_risk_delete_view",
        "policy": policy,
        "window": window,
    }
    return render(request, "leads/policy_at_risk.html", context, status=status)


class _Echo:
    """A file-like object that hands back what is written (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


CSV_HEADER = (
    "lead_id",
    "name",
    "company",
    "email",
    "owner",
    "queue",
    "reasons",
    "created_at",
    "routed_at",
    "first_response_due_at",
    "deadline_breaches",
    "score",
)


def at_risk_csv_lines(rows: Any, window: RiskWindow) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for lead in rows.iterator(chunk_size=CSV_CHUNK):
        values = [
            lead.pk,
            f"{lead.first_name} {lead.last_name}".strip(),
            lead.company,
            lead.email,
            lead.owner.email,
            str(lead.queue) if lead.queue_id else "",
            "; ".join(risk_reasons(lead, window)),
            lead.created_at,
            lead.routed_at,
            lead.first_response_due_at,
            lead.deadline_breaches,
            lead.score,
        ]
        yield writer.writerow([safe_cell(value) for value in values])


def _at_risk_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as CSV, streamed as it is read (leads the user may export; the
    security log records who took which list)."""
    user = _user(request)
    _require(user, Action.EXPORT)
    filterset = at_risk_filterset(user, request.GET, action=Action.EXPORT)
    if not filterset.is_valid():
        errors = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in filterset.errors.items())
        return HttpResponse(f"The filters are not valid: {errors}", status=422)
    sort = _sort(request.GET)
    record_export(
        user,
        object_type=SAVED_VIEW_TYPE,
        query=list_query(request.GET),
        file_format="csv",
        streamed=True,
    )
    rows = filterset.qs.order_by(*AT_RISK_SORTS[sort])
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        at_risk_csv_lines(rows, filterset.window()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="leads-at-risk-{stamp}.csv"'
    return response


# The CSV streams; the error pages wrap it all the same.
at_risk_export = login_required(
    handles_domain_errors(cast(Callable[..., HttpResponse], _at_risk_export))
)


@login_required
@require_POST
def at_risk_save_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    query = list_query(QueryDict(request.POST.get("query", "")))
    back = f"{reverse('lead_policy:at_risk')}?{query}"
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the view a name (at most 100 characters).")
        return redirect(back)
    try:
        saved = saved_view_save(
            user=user,
            object_type=SAVED_VIEW_TYPE,
            name=form.cleaned_data["name"],
            query=query,
            columns=[],
            shared=request.POST.get("shared") == "on",
        )
    except ValidationFailed as error:
        messages.error(request, " ".join(m for ms in error.errors.values() for m in ms))
        return redirect(back)
    messages.success(request, f"Saved the view “{saved.name}”.")
    return redirect(f"{reverse('lead_policy:at_risk')}?view={saved.pk}")


@login_required
@require_POST
def at_risk_delete_view(request: HttpRequest, view_pk: int) -> HttpResponse:
    if saved_view_delete(user=_user(request), object_type=SAVED_VIEW_TYPE, pk=view_pk):
        messages.success(request, "The saved view was deleted.")
    else:
        messages.error(request, "You can only delete your own saved views.")
    return redirect("lead_policy:at_risk")


# --- lead settings (administrators) -----------------------------------------------------------


class LeadSettingsForm(forms.Form):
    assign_within_minutes = forms.IntegerField(
        label="Assign every new lead within (minutes)",
        help_text="A lead without an owner or queue from routing after this long is at risk; "
        "the scheduler routes it at the latest then.",
    )
    first_response_minutes = forms.IntegerField(
        label="First response due within (minutes)",
        help_text="Counted from assignment. A missed deadline alerts the owner and their "
        "manager and reassigns the lead.",
    )
    hot_score = forms.IntegerField(
        label="Hot lead score", help_text="A score at or above this is hot."
    )
    model_refit_days = forms.IntegerField(
        label="Learn the score model again every (days)",
    )
    extra_public_domains = forms.CharField(
        label="Extra public email domains",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line. Leads from these domains are never matched to an account "
        "by their email domain (like gmail.com).",
    )


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    policy = lead_settings()
    initial = {
        "assign_within_minutes": policy.assign_within_minutes,
        "first_response_minutes": policy.first_response_minutes,
        "hot_score": policy.hot_score,
        "model_refit_days": policy.model_refit_days,
        "extra_public_domains": "\n".join(policy.extra_public_domains or []),
    }
    form = LeadSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                lead_settings_update(user=_user(request), **form.cleaned_data)
            except ValidationFailed as error:
                for name, problems in error.errors.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
            else:
                messages.success(request, "Saved the lead settings.")
                return redirect("lead_policy:settings")
        status = 422
    return render(request, "leads/policy_settings.html", {"form": form}, status=status)


# --- wiring -----------------------------------------------------------------------------------


def register_lead_policy() -> None:
    """Routing, territories, the never-lost policy, first responses and scoring (ready())."""
    from patron.leads import never_lost, response, scoring
    from patron.leads.routing import register_lead_routing
    from patron.leads.scoring_views import register_scoring_ui
    from patron.leads.territory import register_lead_territories

    register_lead_routing()
    register_lead_territories()
    never_lost.connect()
    response.connect()
    scoring.connect()
    register_scoring_ui()
    register_nav_item(
        NavItem(
            area="Sales",
            label="Leads at risk",
            url_name="lead_policy:at_risk",
            object_type=LEAD_TYPE,
            order=6,
        )
    )
    register_nav_item(
        NavItem(
            area="Admin",
            label="Lead settings",
            url_name="lead_policy:settings",
            admin_only=True,
            order=41,
        )
    )
