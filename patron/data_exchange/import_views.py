"""Data → Import pages: upload, map (suggestions, saved mappings, presets, defaults), preview,
start, progress, results, the error file and revert; the import history list."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from patron.core.exceptions import PatronError, PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.exports import safe_cell
from patron.core.importing import import_spec, import_specs
from patron.core.models import Job
from patron.core.record_pages import list_query
from patron.core.views import (
    handles_domain_errors,
    is_htmx,
    keyset_page,
    principal,
    render_error,
)
from patron.data_exchange.choices import ImportMode, ImportStatus
from patron.data_exchange.import_filters import (
    DEFAULT_SORT,
    IMPORT_SORTS,
    ImportRunFilter,
    object_type_choices,
)
from patron.data_exchange.import_mapping_filters import (
    DEFAULT_MAPPING_SORT,
    MAPPING_SORTS,
    ImportMappingFilter,
)
from patron.data_exchange.import_reading import max_upload_bytes
from patron.data_exchange.import_selectors import importable_mappings
from patron.data_exchange.import_services import (
    apply_preset,
    import_configure,
    import_errors_csv,
    import_mapping_delete,
    import_mapping_may_change,
    import_mapping_save,
    import_preview,
    import_revert_start,
    import_run_get,
    import_runs_visible,
    import_start,
    import_upload,
    mapping_columns_for,
    require_import,
)
from patron.data_exchange.models import ImportMapping, ImportRun

PAGE_SIZE = 50
CSV_COLUMNS = (
    "Id",
    "File",
    "Object",
    "Status",
    "Mode",
    "Rows",
    "Created",
    "Updated",
    "Skipped",
    "Failed",
    "Started by",
    "Uploaded at",
)


def _importable(user: Any) -> list[tuple[str, str]]:
    return [
        (s.object_type, str(s.label_plural).capitalize())
        for s in import_specs()
        if s.may_import(user)
    ]


class UploadForm(forms.Form):
    object_type = forms.ChoiceField(label="What do you import?")
    file = forms.FileField(
        label="File (CSV or Excel .xlsx)",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.txt,.tsv,.xlsx", "aria-describedby": "file-help"}
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = _importable(user)  # type: ignore[attr-defined]


def _sort(request: HttpRequest) -> str:
    sort = request.GET.get("sort", DEFAULT_SORT)
    return sort if sort in IMPORT_SORTS else DEFAULT_SORT


def _csv(runs: Any) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for run in runs[:10_000]:
        writer.writerow(
            [
                run.pk,
                safe_cell(run.file_name),
                run.object_type,
                run.status,
                run.mode,
                run.total_rows or "",
                run.created_count,
                run.updated_count,
                run.skipped_count,
                run.failed_count,
                safe_cell(str(run.created_by or "")),
                run.created_at.isoformat(),
            ]
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "imports.csv") or ""
    return response


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    """The import history: filtered, sorted and paged by keyset with a capped count."""
    user = request.user
    base = import_runs_visible(user).select_related("created_by")
    filterset = ImportRunFilter(request.GET, queryset=base)
    runs = filterset.qs if filterset.is_valid() else base.none()
    sort = _sort(request)
    if request.GET.get("format") == "csv" and not filterset.errors:
        return _csv(runs.order_by(*IMPORT_SORTS[sort]))
    page = keyset_page(runs, IMPORT_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    labels = dict(object_type_choices())
    for run in page.rows:
        run.object_label = labels.get(run.object_type, run.object_type)
    query = list_query(request.GET)
    context = {
        "page": page,
        "filterset": filterset,
        "sort": sort,
        "query": query,
        "csv_query": (query + "&" if query else "") + "format=csv",
    }
    return render(
        request,
        "data_exchange/import_list.html",
        context,
        status=422 if filterset.errors else 200,
    )


@login_required
@handles_domain_errors
def import_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = UploadForm(request.POST or None, request.FILES or None, user=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = import_upload(
                    user=user,
                    object_type=form.cleaned_data["object_type"],
                    upload=upload,
                    file_name=str(upload.name or ""),
                )
            except ValidationFailed as exc:
                form.add_error("file", exc.errors.get("file", [exc.detail])[0])
            else:
                return redirect("data_exchange:import_detail", pk=run.pk)
        status = 422
    return render(
        request,
        "data_exchange/import_new.html",
        {"form": form, "max_megabytes": max_upload_bytes() // 1_048_576},
        status=status,
    )


def _mapping_context(
    run: ImportRun, user: Any, *, columns: dict[str, str] | None = None
) -> dict[str, Any]:
    spec = import_spec(run.object_type)
    assert spec is not None
    columns = run.columns if columns is None else columns
    return {
        "spec": spec,
        "headers": [(h, columns.get(h, "")) for h in run.headers],
        "fields": spec.fields,
        "field_defaults": [(f, run.defaults.get(f.name, "")) for f in spec.fields],
        "modes": ImportMode.choices,
        "match_keys": spec.match_keys,
        "mappings": ImportMapping.objects.filter(object_type=run.object_type)
        .select_related("created_by")
        .order_by("name"),
        "presets": sorted(spec.presets),
    }


@login_required
@handles_domain_errors
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    run = import_run_get(user=user, pk=pk)
    context: dict[str, Any] = {"run": run, "job": run.job, "errors": {}, "preview": None}
    editable = run.status in (ImportStatus.UPLOADED, ImportStatus.MAPPED)
    status = 200
    if editable and request.method == "POST":
        action = request.POST.get("action", "preview")
        columns = {h: request.POST.get(f"col-{i}", "") for i, h in enumerate(run.headers)}
        if action in ("mapping", "preset"):
            if action == "mapping" and request.POST.get("mapping"):
                mapping = get_object_or_404(
                    ImportMapping, pk=request.POST["mapping"], object_type=run.object_type
                )
                run.columns = mapping_columns_for(mapping, run.headers)
                run.defaults, run.mode, run.match_key, run.mapping = (
                    mapping.defaults,
                    mapping.mode,
                    mapping.match_key,
                    mapping,
                )
            elif action == "preset" and request.POST.get("preset"):
                spec = import_spec(run.object_type)
                assert spec is not None
                run.columns = apply_preset(spec, run.headers, request.POST["preset"])
            context.update(_mapping_context(run, user))
            return render(request, "data_exchange/import_detail.html", context)
        defaults = {
            f.name: request.POST.get(f"default-{f.name}", "")
            for f in import_spec(run.object_type).fields  # type: ignore[union-attr]
        }
        mapping_id = request.POST.get("mapping") or None
        try:
            run = import_configure(
                user=user,
                run=run,
                columns=columns,
                defaults=defaults,
                mode=request.POST.get("mode", ImportMode.CREATE),
                match_key=request.POST.get("match_key", ""),
                mapping=ImportMapping.objects.filter(pk=mapping_id).first()
                if mapping_id and mapping_id.isdigit()
                else None,
                save_as=request.POST.get("save_as", ""),
            )
        except (ValidationFailed, PermissionDenied) as exc:
            # Someone else's saved mapping is not replaced; the form keeps what was entered.
            context["errors"] = exc.errors or {"save_as": [exc.detail]}
            context["save_as"] = request.POST.get("save_as", "")
            run.columns = {h: n for h, n in columns.items() if n}
            run.defaults = {k: v for k, v in defaults.items() if v}
            run.mode = request.POST.get("mode", ImportMode.CREATE)
            run.match_key = request.POST.get("match_key", "")
            status = 422
        else:
            if action == "start":
                import_start(
                    user=user,
                    run=run,
                    allow_duplicates=request.POST.get("allow_duplicates") == "on",
                )
                return redirect("data_exchange:import_detail", pk=run.pk)
            context["preview"] = import_preview(user=user, run=run)
    if run.status in (ImportStatus.UPLOADED, ImportStatus.MAPPED):
        context.update(_mapping_context(run, user))
    context["finished"] = run.status in (
        ImportStatus.DONE,
        ImportStatus.FAILED,
        ImportStatus.REVERTED,
    )
    if is_htmx(request) and request.method == "GET":
        return render(request, "data_exchange/partials/import_progress.html", context)
    return render(request, "data_exchange/import_detail.html", context, status=status)


@login_required
@handles_domain_errors
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    run = import_run_get(user=request.user, pk=job.params.get("run_id"))
    return redirect("data_exchange:import_detail", pk=run.pk)


@login_required
def import_errors(request: HttpRequest, pk: int) -> HttpResponseBase:
    try:
        run = import_run_get(user=request.user, pk=pk)
    except PatronError as exc:
        return render_error(request, exc.status, exc.detail)
    response = StreamingHttpResponse(import_errors_csv(run), content_type="text/csv; charset=utf-8")
    name = run.file_name.rsplit(".", 1)[0] or "import"
    response["Content-Disposition"] = content_disposition_header(True, f"{name}-errors.csv") or ""
    return response


@login_required
@require_POST
@handles_domain_errors
def import_revert(request: HttpRequest, pk: int) -> HttpResponse:
    run = import_run_get(user=request.user, pk=pk)
    require_import(request.user, import_spec(run.object_type))  # type: ignore[arg-type]
    import_revert_start(user=request.user, run=run)
    return redirect("data_exchange:import_detail", pk=run.pk)


# ---------- saved mappings ----------


@dataclass(frozen=True)
class MappingRow:
    """A saved mapping as the list shows it: with its object's label, whether the user may
    rename or delete it, and the name typed in a rename that failed, with the reason."""

    mapping: ImportMapping
    object_label: str
    editable: bool
    new_name: str
    error: str


def _mapping_for(user: Any, pk: int) -> ImportMapping:
    """A saved mapping of an object type ``user`` may import (usable by them)."""
    mapping = ImportMapping.objects.select_related("created_by").filter(pk=pk).first()
    if mapping is None:
        raise RecordNotFound("This saved mapping does not exist (any more).")
    spec = import_spec(mapping.object_type)
    if spec is None:
        raise RecordNotFound("This saved mapping is for an object that cannot be imported.")
    require_import(user, spec)
    return mapping


def _mappings_page(
    request: HttpRequest, *, failed: dict[int, tuple[str, str]] | None = None, status: int = 200
) -> HttpResponse:
    """The list, filtered by object type, sorted and paged by keyset; ``failed`` is
    {mapping id: (name typed, why the rename failed)}. Rename and delete post to a URL that
    carries the list's query, so a refused rename shows the same page again."""
    user = principal(request)
    labels = dict(_importable(user))
    base = importable_mappings(user).select_related("created_by")
    filterset = ImportMappingFilter(request.GET, queryset=base, object_types=list(labels.items()))
    mappings = filterset.qs if filterset.is_valid() else base.none()
    sort = request.GET.get("sort", DEFAULT_MAPPING_SORT)
    if sort not in MAPPING_SORTS:
        sort = DEFAULT_MAPPING_SORT
    page = keyset_page(mappings, MAPPING_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    rows = [
        MappingRow(
            mapping=mapping,
            object_label=labels[mapping.object_type],
            editable=import_mapping_may_change(user, mapping),
            new_name=(failed or {}).get(mapping.pk, (mapping.name, ""))[0],
            error=(failed or {}).get(mapping.pk, ("", ""))[1],
        )
        for mapping in page.rows
    ]
    context = {
        "rows": rows,
        "page": page,
        "filterset": filterset,
        "sort": sort,
        "page_query": request.GET.urlencode(),
    }
    return render(request, "data_exchange/import_mappings.html", context, status=status)


def _back_to_mappings(request: HttpRequest) -> HttpResponse:
    """The list again, on the page and with the filters the user acted from."""
    query = request.GET.urlencode()
    return redirect(reverse("data_exchange:import_mappings") + (f"?{query}" if query else ""))


@login_required
def import_mappings(request: HttpRequest) -> HttpResponse:
    """Saved mappings of the objects the user may import: anyone may use them; the owner
    and administrators rename and delete them."""
    return _mappings_page(request)


@login_required
@require_POST
@handles_domain_errors
def import_mapping_rename(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    mapping = _mapping_for(user, pk)
    name = request.POST.get("name", "")
    try:
        import_mapping_save(
            user=user,
            object_type=mapping.object_type,
            name=name,
            columns=mapping.columns,
            defaults=mapping.defaults,
            mode=mapping.mode,
            match_key=mapping.match_key,
            mapping=mapping,
        )
    except ValidationFailed as exc:
        detail = " ".join(m for found in exc.errors.values() for m in found) or exc.detail
        return _mappings_page(request, failed={pk: (name, detail)}, status=422)
    messages.success(request, f"Mapping renamed to “{mapping.name}”.")
    return _back_to_mappings(request)


@login_required
@require_POST
@handles_domain_errors
def import_mapping_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    mapping = _mapping_for(user, pk)
    name = mapping.name
    import_mapping_delete(user=user, mapping=mapping)
    messages.success(
        request, f"Mapping “{name}” deleted; imports that used it keep their columns."
    )
    return _back_to_mappings(request)
