"""Pages with no domain nouns (home, components, recycle bin, job progress) and the list
machinery every app's list pages share: keyset paging, capped counts, error pages."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from patron.core.choices import Action, CustomFieldType, JobStatus
from patron.core.context_processors import nav_areas
from patron.core.exceptions import PatronError, PermissionDenied, RecordNotFound
from patron.core.jobs import job_file_name
from patron.core.models import BusinessRecord, CustomFieldDefinition, Job
from patron.core.visibility import Principal

# Lists show "more than N" instead of counting every row of a large table.
COUNT_CAP = 1000

View = Callable[..., HttpResponse]


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def principal(request: HttpRequest) -> Principal:
    """The signed-in user (views using this are behind ``login_required``)."""
    return cast(Principal, request.user)


def render_error(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    titles = {403: "You do not have access", 404: "Not found", 409: "Conflict"}
    template = "core/partials/error.html" if is_htmx(request) else "core/error.html"
    context = {
        "status": status,
        "title": titles.get(status, "Something is wrong"),
        "detail": detail,
    }
    return render(request, template, context, status=status)


def handles_domain_errors(view: View) -> View:
    """Turn not-found and permission errors from selectors/services into 404/403 pages."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RecordNotFound as exc:
            return render_error(request, 404, exc.detail)
        except PermissionDenied as exc:
            return render_error(request, 403, exc.detail)

    return wrapper


# ---------- keyset paging ----------


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None
    prev_cursor: str | None
    count: int
    count_capped: bool
    size: int

    @property
    def count_text(self) -> str:
        if self.count_capped:
            return f"More than {COUNT_CAP:,}"
        return f"{self.count:,}"


def _encode_cursor(direction: str, values: list[Any]) -> str:
    payload = json.dumps({"d": direction, "v": [_json(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _json(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode_cursor(cursor: str, width: int) -> tuple[str, list[Any]] | None:
    """(direction, values) of a cursor, or None when it is malformed (the list restarts)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        direction, values = data["d"], data["v"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if direction not in ("n", "p") or not isinstance(values, list) or len(values) != width:
        return None
    if not all(v is None or isinstance(v, str | int | float) for v in values):
        return None
    return direction, values


@dataclass(frozen=True)
class SortColumn:
    name: str
    descending: bool
    nullable: bool


def _sort_columns(model: type[Model], order: tuple[str, ...]) -> list[SortColumn]:
    columns = []
    for spec in order:
        name = spec.lstrip("-")
        model_field = model._meta.get_field(name)
        nullable = bool(getattr(model_field, "null", False))
        columns.append(SortColumn(name, spec.startswith("-"), nullable))
    return columns


def _order_by(columns: list[SortColumn], *, reverse: bool) -> list[OrderBy]:
    """ORDER BY with NULLs last in the forward direction (first when paging backwards)."""
    expressions = []
    for col in columns:
        descending = col.descending != reverse
        nulls: dict[str, bool] = {}
        if col.nullable:
            nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
        expression = F(col.name).desc(**nulls) if descending else F(col.name).asc(**nulls)
        expressions.append(expression)
    return expressions


def _beyond(col: SortColumn, value: Any, *, forward: bool) -> Q:
    """Rows strictly after (forward) or before ``value`` in ``col``'s order."""
    if value is None:
        # NULLs sort last: nothing is after them, every non-NULL is before them.
        return Q(pk__in=[]) if forward else Q(**{f"{col.name}__isnull": False})
    greater = col.descending != forward
    condition = Q(**{f"{col.name}__{'gt' if greater else 'lt'}": value})
    if col.nullable and forward:
        condition |= Q(**{f"{col.name}__isnull": True})
    return condition


def _equal(col: SortColumn, value: Any) -> Q:
    if value is None:
        return Q(**{f"{col.name}__isnull": True})
    return Q(**{col.name: value})


def _keyset_condition(columns: list[SortColumn], values: list[Any], *, forward: bool) -> Q:
    condition = Q(pk__in=[])
    for i, col in enumerate(columns):
        level = _beyond(col, values[i], forward=forward)
        for prior, prior_value in zip(columns[:i], values[:i], strict=True):
            level &= _equal(prior, prior_value)
        condition |= level
    return condition


# Custom field types a list can filter on by equality.
FILTERABLE_CUSTOM_TYPES = frozenset(
    {CustomFieldType.TEXT, CustomFieldType.CHOICE, CustomFieldType.NUMBER, CustomFieldType.BOOLEAN}
)


def filterable_custom_fields(
    definitions: list[CustomFieldDefinition],
) -> list[CustomFieldDefinition]:
    return [d for d in definitions if d.field_type in FILTERABLE_CUSTOM_TYPES]


def apply_custom_filters(
    queryset: QuerySet[Any], definitions: list[CustomFieldDefinition], params: QueryDict
) -> QuerySet[Any]:
    """Equality filters on custom fields, from ``cf_<key>=value`` parameters."""
    for definition in filterable_custom_fields(definitions):
        raw = params.get(f"cf_{definition.key}", "").strip()
        if not raw:
            continue
        lookup = f"custom__{definition.key}"
        if definition.field_type == CustomFieldType.BOOLEAN:
            queryset = queryset.filter(**{lookup: raw.lower() in ("yes", "true", "1")})
        else:
            queryset = queryset.filter(**{lookup: raw})
    return queryset


def capped_count(queryset: QuerySet[Any]) -> tuple[int, bool]:
    """How many rows, counting at most ``COUNT_CAP + 1`` (no COUNT(*) over a big table)."""
    count = queryset.order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


def page_ordering(model: type[Model], order: tuple[str, ...]) -> list[OrderBy]:
    """The ORDER BY of a list page in ``order``: NULLs last, whichever the direction."""
    return _order_by(_sort_columns(model, order), reverse=False)


def _cursor_fits(model: type[Model], columns: list[SortColumn], values: list[Any]) -> bool:
    """Whether each cursor value is of its column's type; an edited cursor restarts the list
    instead of failing in the query."""
    try:
        for col, value in zip(columns, values, strict=True):
            if value is not None:
                model._meta.get_field(col.name).to_python(value)  # type: ignore[union-attr]
    except (ValidationError, TypeError, ValueError):
        return False
    return True


def keyset_page(queryset: QuerySet[Any], order: tuple[str, ...], cursor: str, size: int) -> Page:
    """One page of ``queryset`` in ``order`` after/before ``cursor`` (last sort values)."""
    columns = _sort_columns(queryset.model, order)
    decoded = decode_cursor(cursor, len(columns)) if cursor else None
    if decoded is not None and not _cursor_fits(queryset.model, columns, decoded[1]):
        decoded = None
    count, capped = capped_count(queryset)
    if decoded is None:
        rows = list(queryset.order_by(*_order_by(columns, reverse=False))[: size + 1])
        has_next, has_prev = len(rows) > size, False
        rows = rows[:size]
    else:
        direction, values = decoded
        forward = direction == "n"
        page_qs = queryset.filter(_keyset_condition(columns, values, forward=forward))
        rows = list(page_qs.order_by(*_order_by(columns, reverse=not forward))[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if forward:
            has_next, has_prev = more, True
        else:
            rows.reverse()
            has_next, has_prev = True, more
    next_cursor = prev_cursor = None
    if rows and has_next:
        next_cursor = _encode_cursor("n", [getattr(rows[-1], c.name) for c in columns])
    if rows and has_prev:
        prev_cursor = _encode_cursor("p", [getattr(rows[0], c.name) for c in columns])
    return Page(rows, next_cursor, prev_cursor, count, capped, size)


# ---------- pages ----------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = principal(request)
    quick = [link for _area, links in nav_areas(user, "") for link in links if link.create_url]
    jobs = Job.objects.filter(created_by_id=user.pk).only(
        "id", "kind", "status", "message", "created_at", "progress_done", "progress_total"
    )[:5]
    return render(request, "core/home.html", {"quick_links": quick, "jobs": jobs})


@login_required
def components(request: HttpRequest) -> HttpResponse:
    sample_job = Job(status=JobStatus.RUNNING, progress_done=42, progress_total=100)
    return render(request, "core/components.html", {"sample_job": sample_job})


# ---------- recycle bin ----------


@dataclass(frozen=True)
class Recyclable:
    """A soft-deletable model the recycle bin lists, with the service that restores it."""

    model: type[BusinessRecord]
    label: str
    restore: Callable[[Any, Any], Any]
    detail_url_name: str
    describe: Callable[[Any], str] = field(default=str)


_recyclables: dict[str, Recyclable] = {}


def register_recyclable(item: Recyclable) -> None:
    """Offer a model in the recycle bin; apps call this from ``AppConfig.ready``."""
    _recyclables[item.model.object_type()] = item


RECYCLE_BIN_LIMIT = 100


@login_required
def recycle_bin(request: HttpRequest) -> HttpResponse:
    user = principal(request)
    sections = []
    for object_type, item in sorted(_recyclables.items(), key=lambda kv: kv[1].label):
        rows = list(
            item.model.all_objects.deleted()
            .visible_to(user)
            .select_related("deleted_by")
            .order_by("-deleted_at", "-id")[:RECYCLE_BIN_LIMIT]
        )
        sections.append(
            {"object_type": object_type, "label": item.label, "rows": rows, "item": item}
        )
    return render(request, "core/recycle_bin.html", {"sections": sections})


@login_required
@require_POST
@handles_domain_errors
def recycle_bin_restore(request: HttpRequest) -> HttpResponse:
    user = principal(request)
    item = _recyclables.get(request.POST.get("object_type", ""))
    pk = request.POST.get("pk", "")
    if item is None or not pk.isdigit():
        raise RecordNotFound("There is no such record in the recycle bin.")
    deleted = item.model.all_objects.deleted()
    record = deleted.visible_to(user, Action.DELETE).filter(pk=pk).first()
    if record is None:
        if deleted.visible_to(user).filter(pk=pk).exists():
            raise PermissionDenied(
                f"You may not restore this {item.label.lower()}; ask its owner or an administrator."
            )
        raise RecordNotFound("There is no such record in the recycle bin.")
    try:
        item.restore(user, record)
    except PatronError as exc:
        messages.error(request, exc.detail)
        return redirect("ui:recycle_bin")
    messages.success(request, f"Restored {item.label.lower()} “{item.describe(record)}”.")
    try:
        return redirect(reverse(item.detail_url_name, args=[record.pk]))
    except NoReverseMatch:
        return redirect("ui:recycle_bin")


# ---------- background jobs ----------


def _job_for(request: HttpRequest, pk: int) -> Job:
    user = principal(request)
    job = Job.objects.filter(pk=pk).first()
    if job is None or not (job.created_by_id == user.pk or user.access_profile().is_admin):
        raise Http404("No such job.")
    return job


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    context = {"job": job, "finished": job.status in (JobStatus.DONE, JobStatus.FAILED)}
    if is_htmx(request):
        return render(request, "core/partials/job_progress.html", context)
    return render(request, "core/job_detail.html", context)


@login_required
def job_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _job_for(request, pk)
    if job.status != JobStatus.DONE or not job.result_file:
        raise Http404("This job has no file to download.")
    filename = job_file_name(job)
    return FileResponse(job.result_file.open("rb"), as_attachment=True, filename=filename)
