"""Helpers for business-record resources: ETags, If-Match and field-level security.

A record's ETag is ``"<id>-<version>"`` (strong, so RFC 9110's strong comparison for
If-Match works). PATCH and DELETE compare If-Match with the record's version; without
If-Match the write is based on the version read at the start of the request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from patron.core.exceptions import ValidationFailed, VersionConflict
from patron.core.models import BusinessRecord
from patron.core.visibility import Principal, hidden_field_names

_ETAG = re.compile(r'^(?:W/)?"(?P<id>\d+)-(?P<version>\d+)"$')


def record_etag(record: BusinessRecord) -> str:
    return f'"{record.pk}-{record.version}"'


def with_etag(response: HttpResponse, record: BusinessRecord) -> HttpResponse:
    response["ETag"] = record_etag(record)
    return response


def expected_version(request: HttpRequest, record: BusinessRecord) -> int:
    """The version a write must find: from If-Match, else the version just read.

    A stale If-Match is a VersionConflict (412) before anything is written.
    """
    header = request.headers.get("If-Match", "").strip()
    if not header:
        return record.version
    if header == "*":
        return record.version
    match = _ETAG.match(header)
    if match is None:
        raise ValidationFailed(
            "The If-Match header is not an ETag this API issued.",
            errors={
                "If-Match": [f"Send the ETag from the last response, e.g. {record_etag(record)}."]
            },
        )
    if int(match["id"]) != record.pk:
        raise VersionConflict(
            "The If-Match ETag belongs to another record.", current_version=record.version
        )
    version = int(match["version"])
    if version != record.version:
        raise VersionConflict(
            f"This record was changed by someone else since you read it (you have version "
            f"{version}, it is now at version {record.version}). GET it again, then apply your "
            "change to the new version.",
            current_version=record.version,
        )
    return version


def hidden_fields(user: Principal, model: type[BusinessRecord]) -> frozenset[str]:
    """The sensitive fields (``name`` or ``custom.<key>``) ``user`` may not see.

    Computed once per request, so a list costs the same queries whatever its length.
    """
    return hidden_field_names(user, model)


@functools.cache
def record_columns(
    model: type[BusinessRecord], fields: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """(API name, column attribute) of each of ``fields``: foreign keys as their ``_id``."""
    return tuple(
        (name, getattr(model._meta.get_field(name), "attname", name)) for name in fields
    )


def row_values(model: type[BusinessRecord], fields: tuple[str, ...]) -> list[str]:
    """What ``values()`` must read for ``row_data`` to build a row of ``fields``."""
    columns = record_columns(model, fields)
    return ["pk", "version", "custom", *(attname for _name, attname in columns)]


def row_data(
    row: Mapping[str, Any],
    columns: tuple[tuple[str, str], ...],
    hidden: frozenset[str],
) -> dict[str, Any]:
    """``record_data`` of a row read with ``values(*row_values(...))``: the same dict,
    without building a model instance per row (lists, issue 8)."""
    data: dict[str, Any] = {"id": row["pk"], "version": row["version"]}
    for name, attname in columns:
        if name not in hidden:
            data[name] = row[attname]
    data["custom"] = {
        key: value for key, value in (row["custom"] or {}).items() if f"custom.{key}" not in hidden
    }
    return data


def record_data(
    record: BusinessRecord, fields: Iterable[str], hidden: frozenset[str]
) -> dict[str, Any]:
    """``record``'s API representation: ``fields`` (foreign keys as ids), version, custom.

    Hidden fields are left out entirely rather than sent as null, so a client can tell
    "not allowed to see" from "empty".
    """
    data: dict[str, Any] = {"id": record.pk, "version": record.version}
    for name in fields:
        if name in hidden:
            continue
        field = record._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = getattr(record, attname)
    data["custom"] = {
        key: value for key, value in (record.custom or {}).items() if f"custom.{key}" not in hidden
    }
    return data
