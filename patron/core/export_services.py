"""Starting a list export (CSV or XLSX) from a request that is not the list page: the API.

The filters and sort are checked as the list endpoint checks them (same FilterSet, same
sort keys, the same refusal of sorts on fields hidden from the user), then written to the
job as the list's query string, which ``core.exports`` reads exactly as for the UI export.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict

from patron.core.api.pagination import filter_rows, sort_columns
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.exports import EXPORT_FORMATS, default_sort_key, export_spec, exportable_types
from patron.core.jobs import job_start
from patron.core.models import Job
from patron.core.record_pages import EXPORT_TASK
from patron.core.visibility import hidden_field_names

FilterValue = str | int | float | bool


def _as_text(value: FilterValue) -> str:
    # Booleans as the list's query parameters write them (true/false), not Python's True.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_start(
    *,
    user: Any,
    object_type: str,
    file_format: str,
    filters: Mapping[str, FilterValue],
    sort: str | None,
) -> Job:
    """Start exporting the list of ``object_type`` that ``filters`` and ``sort`` describe.

    Raises ValidationFailed naming ``object``, ``format``, ``sort`` or ``filters.<name>``,
    and PermissionDenied when the user's role may not export that object.
    """
    spec = export_spec(object_type)
    if spec is None:
        choices = ", ".join(exportable_types())
        raise ValidationFailed(
            f"Unknown object type {object_type!r}.",
            errors={"object": [f"Choose one of: {choices}."]},
        )
    if not user.access_profile().may(object_type, Action.EXPORT):
        raise PermissionDenied(f"Your role may not export {spec.plural}.")
    if file_format not in EXPORT_FORMATS:
        raise ValidationFailed(
            f"Unknown export format {file_format!r}.",
            errors={"format": [f"Choose one of: {', '.join(EXPORT_FORMATS)}."]},
        )
    hidden = hidden_field_names(user, spec.model)
    default = default_sort_key(spec, hidden)
    sort_key, _columns = sort_columns(sort, spec.sorts, default, hidden=hidden)
    params = {name: _as_text(value) for name, value in filters.items()}
    try:
        filter_rows(
            params,
            spec.model.objects.visible_to(user, Action.EXPORT),
            spec.filterset,
            user=user,
        )
    except ValidationFailed as exc:
        errors = {f"filters.{name}": messages for name, messages in exc.errors.items()}
        raise ValidationFailed(
            "Some filters are not valid: " + ", ".join(sorted(errors)) + ".", errors=errors
        ) from None
    query = QueryDict(mutable=True)
    for name, value in params.items():
        query[name] = value
    query["sort"] = sort_key
    return job_start(
        kind=EXPORT_TASK,
        user=user,
        # "list": the file follows the API list's order, whose empty values sort first.
        params={
            "object": object_type,
            "query": query.urlencode(),
            "format": file_format,
            "list": "api",
        },
        task_name=EXPORT_TASK,
    )
