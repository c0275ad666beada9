"""PatronAPI: a NinjaAPI whose every answer under its prefix follows the API conventions.

- Errors of every kind are problem documents (see problems.py), including unknown paths
  (404) and methods (405) that Ninja would otherwise answer in plain text or HTML.
- A trailing slash is optional on every path.
- The OpenAPI document lists error responses as application/problem+json and, when asked,
  this installation's custom fields (see openapi.py).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, URLPattern, URLResolver, re_path, resolve, reverse
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from patron.core.api.openapi import (
    add_custom_fields,
    document_generic_errors,
    use_problem_media_type,
    with_unique_component_names,
)
from patron.core.api.parsing import LARGEST_INTEGER, JSONParser
from patron.core.api.problems import (
    PROBLEM_CONTENT_TYPE,
    install_problem_handlers,
    problem_response,
)

_FALLBACK_URL_NAME = "api-fallback"


def _beyond_64_bits(value: object) -> bool:
    return isinstance(value, int) and not -LARGEST_INTEGER <= value <= LARGEST_INTEGER


def _guarded(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if any(_beyond_64_bits(value) for value in kwargs.values()):
            # No row has such an id, and databases raise on the comparison.
            return problem_response(request, 404, "No such resource.")
        with_nul = sorted(
            {name for name, values in request.GET.lists() for v in [name, *values] if "\x00" in v}
        )
        if with_nul:
            # PostgreSQL cannot compare text holding NUL; psycopg raises (a 500 otherwise).
            return problem_response(
                request,
                422,
                "Query parameters may not contain NUL (\\u0000) characters.",
                errors={name: ["Remove the NUL (\\u0000) character."] for name in with_nul},
            )
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and PROBLEM_CONTENT_TYPE not in response.get(
            "Content-Type", ""
        ):
            allowed = response.get("Allow", "")
            return problem_response(
                request,
                405,
                f"{request.method} is not allowed here; allowed: {allowed}.",
                headers={"Allow": allowed},
            )
        return response

    return wrapper


class PatronAPI(NinjaAPI):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("parser", JSONParser())
        super().__init__(**kwargs)
        # Routes and schemas are fixed once the code is loaded, and building their document
        # takes seconds; only the custom fields (database rows) change at run time.
        self._code_documents: dict[tuple[str | None, str], OpenAPISchema] = {}

    def set_default_exception_handlers(self) -> None:
        install_problem_handlers(self)

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        patterns: list[URLPattern | URLResolver] = []
        for pattern in super()._get_urls():
            if isinstance(pattern, URLPattern) and pattern.name == "api-root":
                # Kept for reverse() of the API's root path; answered as a problem.
                pattern = URLPattern(pattern.pattern, self._fallback, name="api-root")
            elif isinstance(pattern, URLPattern):
                pattern.callback = _guarded(pattern.callback)
            patterns.append(pattern)
        patterns.append(re_path(r"^.*$", self._fallback, name=_FALLBACK_URL_NAME))
        return patterns

    def _fallback(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Serve a path given with or without its trailing slash; else a 404 problem."""
        path = request.path_info
        alternative = path[:-1] if path.endswith("/") else path + "/"
        try:
            match = resolve(alternative)
        except Resolver404:
            match = None
        if (
            match is not None
            and match.namespace == self.urls_namespace
            and match.url_name not in {_FALLBACK_URL_NAME, "api-root"}
        ):
            response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
            return response
        return problem_response(
            request, 404, f"There is no API resource at {request.path}; see the docs page."
        )

    _fallback.csrf_exempt = True  # type: ignore[attr-defined]

    def get_openapi_schema(
        self,
        *,
        path_prefix: str | None = None,
        path_params: dict[str, Any] | None = None,
        include_custom_fields: bool = True,
    ) -> OpenAPISchema:
        key = (path_prefix, repr(sorted((path_params or {}).items())))
        if key not in self._code_documents:
            parent = super().get_openapi_schema
            built: OpenAPISchema = with_unique_component_names(
                lambda: parent(path_prefix=path_prefix, path_params=path_params)
            )
            use_problem_media_type(built)
            document_generic_errors(built)
            self._code_documents[key] = built
        schema = copy.deepcopy(self._code_documents[key])
        if include_custom_fields:
            add_custom_fields(schema)
        return schema


def mounted_api(namespace: str) -> NinjaAPI:
    """The NinjaAPI serving URL namespace ``namespace`` (found through the URLconf, since
    apps may not import the wiring in config)."""
    view = inspect.unwrap(resolve(reverse(f"{namespace}:openapi-json")).func)
    api = getattr(view, "keywords", {}).get("api")
    if not isinstance(api, NinjaAPI):
        raise LookupError(f"No Ninja API is mounted under the URL namespace {namespace!r}.")
    return api
