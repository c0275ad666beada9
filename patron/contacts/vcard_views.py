"""vCard pages: download one contact or the current list, and upload a .vcf to import."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from patron.contacts.models import Contact
from patron.contacts.selectors import contact_get
from patron.contacts.vcard import VCardError
from patron.contacts.vcard_services import (
    BACKGROUND_MIN_BYTES,
    BACKGROUND_MIN_CARDS,
    MAX_EXPORT_CONTACTS,
    MAX_UPLOAD_BYTES,
    VCARD_IMPORT_KIND,
    contact_list_export,
    contact_vcard,
    contacts_import_vcard,
    vcard_import_in_background,
    vcard_import_job_get,
    vcard_import_start,
    vcard_stream,
)
from patron.core.choices import Action, JobStatus, Via
from patron.core.exceptions import PermissionDenied
from patron.core.jobs import JobKind, register_job_kind
from patron.core.record_pages import list_query
from patron.core.views import handles_domain_errors, is_htmx, render_error
from patron.users.models import User

VCARD_CONTENT_TYPE = "text/vcard; charset=utf-8"


def vcard_filename(name: str) -> str:
    return f"{slugify(name, allow_unicode=True) or 'contact'}.vcf"


class VCardUploadForm(forms.Form):
    file = forms.FileField(
        label="vCard file (.vcf)",
        help_text="One or many cards, vCard 4.0, 3.0 or 2.1; at most 5 MB.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".vcf,.vcard,text/vcard", "aria-describedby": "file-help"}
        ),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1_048_576:.1f} MB; the limit is "
                f"{MAX_UPLOAD_BYTES // 1_048_576} MB. Split it into smaller files."
            )
        return upload


@login_required
@handles_domain_errors
def contact_vcard_download(request: HttpRequest, pk: int) -> HttpResponse:
    user = cast(User, request.user)
    contact = contact_get(user=user, pk=pk)
    if not user.access_profile().may(Contact.object_type(), Action.EXPORT):
        raise PermissionDenied("Your role may not export contacts.")
    response = HttpResponse(contact_vcard(contact, user=user), content_type=VCARD_CONTENT_TYPE)
    response["Content-Disposition"] = (
        content_disposition_header(True, vcard_filename(contact.full_name)) or ""
    )
    return response


@login_required
def contact_list_vcard(request: HttpRequest) -> HttpResponseBase:
    user = cast(User, request.user)
    try:
        export = contact_list_export(user=user, query=list_query(request.GET))
    except PermissionDenied as exc:
        return render_error(request, 403, exc.detail)
    if export.too_many:
        return render_error(
            request,
            400,
            f"This list has more than {MAX_EXPORT_CONTACTS:,} contacts, the most one vCard "
            "file holds. Narrow it with filters and export again.",
        )
    response = StreamingHttpResponse(
        vcard_stream(export.rows, user=user), content_type=VCARD_CONTENT_TYPE
    )
    response["Content-Disposition"] = content_disposition_header(True, "contacts.vcf") or ""
    return response


@login_required
@handles_domain_errors
def contact_vcard_import(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    if not user.access_profile().may(Contact.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create contacts.")
    form = VCardUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    context: dict[str, object] = {
        "form": form,
        "report": None,
        "file_error": "",
        "background_cards": BACKGROUND_MIN_CARDS,
        "background_megabytes": BACKGROUND_MIN_BYTES // 1_048_576,
    }
    if request.method != "POST":
        return render(request, "contacts/vcard_import.html", context)
    if not form.is_valid():
        return render(request, "contacts/vcard_import.html", context, status=422)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        if vcard_import_in_background(data):
            job = vcard_import_start(user=user, data=data, filename=str(upload.name or ""))
            messages.info(
                request,
                "This is a large file, so it is imported in the background; the report "
                "appears below when it is done. You can leave this page meanwhile.",
            )
            return redirect("vcard:import_job", pk=job.pk)
        report = contacts_import_vcard(user=user, data=data, via=Via.IMPORT)
    except VCardError as exc:
        context["file_error"] = f"Nothing was imported: {exc}"
        return render(request, "contacts/vcard_import.html", context, status=422)
    context["report"] = report
    return render(request, "contacts/vcard_import.html", context)


@login_required
@handles_domain_errors
def contact_vcard_import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress of a background import, then its card-by-card report."""
    job = vcard_import_job_get(user=cast(User, request.user), pk=pk)
    finished = job.status in (JobStatus.DONE, JobStatus.FAILED)
    context = {"job": job, "finished": finished, "report": job.result}
    if is_htmx(request):
        return render(request, "contacts/partials/vcard_import_job.html", context)
    return render(request, "contacts/vcard_import_job.html", context)


def register_vcard_job() -> None:
    """Name vCard import jobs and link them to their report page (from AppConfig.ready)."""
    register_job_kind(
        JobKind(kind=VCARD_IMPORT_KIND, label="vCard import", url_name="vcard:import_job")
    )
