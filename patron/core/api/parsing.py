"""The request body parser: JSON, refusing values no database can store.

PostgreSQL rejects NUL characters in text and jsonb, and no database stores an integer
beyond 64 bits (SQLite and psycopg raise on it, even in a WHERE clause); both would surface
as a server error after validation, so they are refused here, naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from django.http import HttpRequest
from ninja.parser import Parser

from patron.core.exceptions import ValidationFailed

LARGEST_INTEGER = 2**63 - 1


def _name(path: tuple[str, ...]) -> str:
    return ".".join(path) or "body"


def _huge_int_paths(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not -LARGEST_INTEGER <= value <= LARGEST_INTEGER:
            yield _name(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _huge_int_paths(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _huge_int_paths(item, (*path, str(index)))


def _nul_paths(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield ".".join(path) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield ".".join(path) or "body"
            yield from _nul_paths(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, str(index)))


class JSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        fields = sorted(set(_nul_paths(data, ())))
        if fields:
            raise ValidationFailed(
                "Text in the request may not contain NUL (\\u0000) characters.",
                errors={name: ["Remove the NUL (\\u0000) character."] for name in fields},
            )
        fields = sorted(set(_huge_int_paths(data, ())))
        if fields:
            limit = LARGEST_INTEGER
            raise ValidationFailed(
                "Some numbers in the request are too large.",
                errors={name: [f"Use a number between {-limit} and {limit}."] for name in fields},
            )
        return cast(dict[str, Any], data)
