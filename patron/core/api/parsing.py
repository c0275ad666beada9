"""The request body parser: JSON, refusing text no database can store.

PostgreSQL rejects NUL characters in text and jsonb, which would surface as a server error
after validation; refusing them here names the field instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from django.http import HttpRequest
from ninja.parser import Parser

from patron.core.exceptions import ValidationFailed


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
        return cast(dict[str, Any], data)
