"""Privacy request pages (administrators): the list (filters, sort, CSV), the new request form
with its review-and-confirm step, the request with its progress and download, and the
"Privacy" card on contact and lead pages. Thin views over privacy_services."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from patron.core.choices import JobStatus
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.exports import safe_cell
from patron.core.forms import add_service_errors
from patron.core.record_pages import DetailPanel, list_query, register_detail_panel
from patron.core.views import (
    handles_domain_errors,
    is_htmx,
    keyset_page,
    principal,
    render_error,
)
from patron.data_exchange.choices import PrivacyRequestKind, PrivacyRequestStatus
from patron.data_exchange.models import PrivacyRequest
from patron.data_exchange.privacy_filters import DEFAULT_SORT, PRIVACY_SORTS, PrivacyRequestFilter
from patron.data_exchange.privacy_forms import PrivacyRequestForm
from patron.data_exchange.privacy_selectors import (
    can_handle_privacy,
    privacy_request_get,
    privacy_requests,
    require_privacy_handler,
)
from patron.data_exchange.privacy_services import (
    privacy_archive_opened,
    privacy_preview,
    privacy_request_create,
)

PAGE_SIZE = 50
CSV_COLUMNS = (
    "id",
    "created_at",
    "kind",
    "status",
    "subject_email",
    "contact_id",
    "lead_id",
    "requested_by",
    "performed_by",
    "completed_at",
    "reason",
)

WHAT_HAPPENS = {
    PrivacyRequestKind.EXPORT: [
        "A zip archive of JSON files (with a README.txt index) is built in the background: "
        "the contacts, leads and person accounts found, their activities and logged emails, "
        "consents and their history, the change log and web form submissions.",
        "Only administrators can download it; each download is written to the security log.",
        "Nothing is changed.",
    ],
    PrivacyRequestKind.ERASE: [
        "Names become “Erased person #id”; every other personal field is cleared (title, "
        "department, language, birthdate, social profiles, descriptions, text custom fields); "
        "email addresses, phone numbers and addresses are deleted.",
        "Activities only about this person lose their subject, description, location, "
        "addresses and numbers; shared activities lose this person's address and number.",
        "Personal values in the change log are redacted; web form submissions are redacted.",
        "Granted consents are withdrawn; the answers stay as an anonymous record.",
        "Records are kept, so counts, opportunity amounts and account revenue do not change.",
        "This cannot be undone.",
    ],
    PrivacyRequestKind.ANONYMISE: [
        "Names become “Anonymous person #id”; email addresses, phone numbers, street "
        "addresses, birthdate, social profiles, descriptions and text custom fields go.",
        "Kept for statistics: job title, department, language, time zone, company, industry "
        "and country.",
        "Activities only about this person are scrubbed and the change log redacted, as for "
        "an erasure; consents keep their answers without evidence.",
        "Records are kept, so counts, opportunity amounts and account revenue do not change.",
        "This cannot be undone.",
    ],
}

FOUND_LABELS = {
    "contacts": "Contacts",
    "leads": "Leads",
    "person_accounts": "Person accounts",
    "activities": "Activities (incl. logged emails)",
    "consents": "Consent answers (current)",
    "consent_changes": "Consent history entries",
    "change_log_entries": "Change log entries",
    "capture_submissions": "Web form submissions",
}


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _sort(request: HttpRequest) -> str:
    sort = request.GET.get("sort", DEFAULT_SORT)
    return sort if sort in PRIVACY_SORTS else DEFAULT_SORT


def _require(request: HttpRequest) -> Any:
    user = principal(request)
    require_privacy_handler(user)
    return user


@login_required
@handles_domain_errors
def privacy_list(request: HttpRequest) -> HttpResponse:
    user = _require(request)
    base = privacy_requests(user)
    filterset = PrivacyRequestFilter(request.GET, queryset=base)
    rows = filterset.qs if filterset.is_valid() else base.none()
    sort = _sort(request)
    if request.GET.get("format") == "csv" and not filterset.errors:
        return _csv(rows.order_by(*PRIVACY_SORTS[sort]))
    page = keyset_page(rows, PRIVACY_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    query = list_query(request.GET)
    return render(
        request,
        "data_exchange/privacy_list.html",
        {
            "filterset": filterset,
            "page": page,
            "sort": sort,
            "query": query,
            "csv_query": (request.GET.copy().urlencode() + "&" if query else "") + "format=csv",
        },
        status=422 if filterset.errors else 200,
    )


def _csv(rows: Any) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows.iterator(chunk_size=500):
        writer.writerow(
            [
                row.pk,
                row.created_at.isoformat(),
                row.kind,
                row.status,
                safe_cell(row.subject_email),
                row.contact_id or "",
                row.lead_id or "",
                safe_cell(str(row.requested_by or "")),
                safe_cell(str(row.performed_by or "")),
                row.completed_at.isoformat() if row.completed_at else "",
                safe_cell(row.reason),
            ]
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="privacy-requests.csv"'
    return response


def _initial(request: HttpRequest) -> dict[str, Any]:
    initial: dict[str, Any] = {"kind": request.GET.get("kind") or PrivacyRequestKind.EXPORT}
    for name in ("email", "contact", "lead"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    return initial


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def privacy_new(request: HttpRequest) -> HttpResponse:
    """Step 1: the form. Step 2 (POST without ``confirm``): what was found and what will
    happen. Step 3 (POST with ``confirm``): the request is recorded and its job started."""
    user = _require(request)
    if request.method == "GET":
        form = PrivacyRequestForm(initial=_initial(request))
        return render(request, "data_exchange/privacy_new.html", {"form": form})
    form = PrivacyRequestForm(request.POST)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        data = form.cleaned_data
        lookup = {
            "email": data["email"] or "",
            "contact_id": data["contact"],
            "lead_id": data["lead"],
        }
        try:
            if request.POST.get("confirm") == "yes":
                row = privacy_request_create(
                    user=user,
                    kind=data["kind"],
                    reason=data["reason"],
                    confirmed=True,
                    ip_address=_ip(request),
                    **lookup,
                )
                return redirect("data_exchange:privacy_detail", pk=row.pk)
            subject, counts = privacy_preview(user=user, **lookup)
            context.update(
                {
                    "review": True,
                    "subject": subject,
                    "found": [(FOUND_LABELS.get(k, k), v) for k, v in counts.items()],
                    "what_happens": WHAT_HAPPENS[PrivacyRequestKind(data["kind"])],
                    "kind_label": PrivacyRequestKind(data["kind"]).label,
                    "destructive": data["kind"] != PrivacyRequestKind.EXPORT,
                }
            )
            return render(request, "data_exchange/privacy_new.html", context)
        except ValidationFailed as error:
            renames = {"contact_id": "contact", "lead_id": "lead"}
            error.errors = {renames.get(k, k): v for k, v in error.errors.items()}
            add_service_errors(form, error)
    return render(request, "data_exchange/privacy_new.html", context, status=422)


def _detail_context(row: PrivacyRequest) -> dict[str, Any]:
    job = row.job
    finished = row.status in (PrivacyRequestStatus.DONE, PrivacyRequestStatus.FAILED) or (
        job is not None and job.status in (JobStatus.DONE, JobStatus.FAILED)
    )
    summary = row.summary or {}
    outcome_key = next((k for k in ("exported", "erased", "anonymised") if k in summary), "")
    return {
        "row": row,
        "job": job,
        "finished": finished,
        "found": [(FOUND_LABELS.get(k, k), v) for k, v in summary.get("found", {}).items()],
        "outcome_label": outcome_key.capitalize(),
        "outcome": [
            (k.replace("_", " ").capitalize(), v) for k, v in summary.get(outcome_key, {}).items()
        ],
    }


@login_required
@handles_domain_errors
def privacy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _require(request)
    row = privacy_request_get(user=user, pk=pk)
    context = _detail_context(row)
    if is_htmx(request):
        return render(request, "data_exchange/partials/privacy_progress.html", context)
    return render(request, "data_exchange/privacy_detail.html", context)


@login_required
def privacy_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    try:
        user = _require(request)
        row = privacy_request_get(user=user, pk=pk)
        privacy_archive_opened(user=user, request=row, ip=_ip(request))
    except RecordNotFound as error:
        return render_error(request, 404, error.detail)
    except PermissionDenied as error:
        return render_error(request, 403, error.detail)
    return FileResponse(
        row.archive.open("rb"),
        as_attachment=True,
        filename=f"privacy-request-{row.pk}.zip",
        content_type="application/zip",
    )


@login_required
@handles_domain_errors
def privacy_job(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the job list sends a privacy job: its request's page."""
    user = _require(request)
    row = privacy_requests(user).filter(job_id=pk).first()
    if row is None:
        return redirect("ui:job_detail", pk=pk)
    return redirect("data_exchange:privacy_detail", pk=row.pk)


# ---------- the Privacy card on contact and lead pages ----------


def _privacy_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    user = principal(request)
    if not can_handle_privacy(user):
        return None
    key = "contact" if record.object_type() == "contacts.contact" else "lead"
    recent = list(
        PrivacyRequest.objects.filter(**{f"{key}_id": record.pk}).order_by("-created_at", "-id")[:5]
    )
    base = reverse("data_exchange:privacy_new") + f"?{key}={record.pk}"
    return {
        "record": record,
        "recent": recent,
        "actions": [
            ("Export their data", f"{base}&kind={PrivacyRequestKind.EXPORT}"),
            ("Anonymise…", f"{base}&kind={PrivacyRequestKind.ANONYMISE}"),
            ("Erase…", f"{base}&kind={PrivacyRequestKind.ERASE}"),
        ],
    }


def register_privacy_panel() -> None:
    register_detail_panel(
        DetailPanel(
            key="data_exchange.privacy",
            template="data_exchange/partials/privacy_card.html",
            context=_privacy_card,
            object_types=frozenset({"contacts.contact", "leads.lead"}),
            order=200,
            column="side",
        )
    )
