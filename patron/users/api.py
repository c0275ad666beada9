"""API authentication for every router, and the current user's profile and API tokens."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.security.base import AuthBase
from pydantic import ConfigDict, Field

from patron.core.api.auth import BearerTokenAuth, SessionAuth, request_token, request_user
from patron.core.api.pagination import ListParams, Page, keyset_page, page_body, sort_columns
from patron.core.api.problems import problem_responses
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.users.models import ApiToken, User
from patron.users.services import token_allows, token_authenticate, token_create, token_revoke
from patron.users.throttle import client_ip

TOKEN_SORTS: dict[str, tuple[str, ...]] = {
    "-created": ("-created_at", "-id"),
    "created": ("created_at", "id"),
}


def api_auth(area: str) -> list[AuthBase]:
    """Authenticators for a router in scope area ``area``: a token first, then a session."""
    return [BearerTokenAuth(area, lookup=token_authenticate, allows=token_allows), SessionAuth()]


router = Router(tags=["users"], auth=api_auth("users"))


class NamedRef(Schema):
    id: int
    name: str


class Me(Schema):
    id: int
    email: str
    full_name: str
    time_zone: str
    is_admin: bool
    role: NamedRef | None
    teams: list[NamedRef]
    authenticated_by: str = Field(description="session or token")
    token_scopes: list[str] | None = Field(
        description="The scopes of the token used for this request; null for a session."
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    active: bool


class TokenCreated(TokenOut):
    token: str = Field(description="The secret. It is shown only in this response; store it.")


class TokenCreate(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100)
    scopes: list[str] = Field(description="e.g. ['contacts:read']; write implies read.")
    expires_at: datetime.datetime | None = None


def _token_data(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": list(token.scopes),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
        "active": token.is_active,
    }


@router.get("/me", response={200: Me, **problem_responses(401, 403)}, summary="The current user")
def me(request: HttpRequest) -> dict[str, Any]:
    user: User = request_user(request)
    token = request_token(request)
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "time_zone": user.time_zone,
        "is_admin": user.is_admin,
        "role": {"id": user.role.pk, "name": user.role.name} if user.role else None,
        "teams": [{"id": t.pk, "name": t.name} for t in user.teams.order_by("name")],
        "authenticated_by": "session" if token is None else "token",
        "token_scopes": None if token is None else sorted(token.scopes),
    }


@router.get(
    "/me/tokens",
    response={200: Page[TokenOut], **problem_responses(400, 401, 403, 422)},
    summary="List my API tokens",
    description="Sort keys: " + ", ".join(TOKEN_SORTS) + " (default -created).",
)
def token_list(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    user: User = request_user(request)
    sort, columns = sort_columns(params.sort, TOKEN_SORTS, "-created")
    tokens, next_cursor = keyset_page(
        ApiToken.objects.filter(user=user),
        sort=sort,
        columns=columns,
        limit=params.limit,
        cursor=params.cursor,
    )
    return page_body([_token_data(t) for t in tokens], next_cursor)


@router.post(
    "/me/tokens",
    response={201: TokenCreated, **problem_responses(400, 401, 403, 413, 422)},
    summary="Create an API token",
    description=(
        "Returns the secret once. Not idempotent by key: the secret is never stored, so "
        "it cannot be replayed. A token can only create tokens within its own scopes."
    ),
)
def token_issue(request: HttpRequest, payload: TokenCreate) -> Status[dict[str, Any]]:
    user: User = request_user(request)
    current = request_token(request)
    if current is not None:
        beyond = [
            scope
            for scope in payload.scopes
            if ":" not in scope
            or not token_allows(
                current,  # type: ignore[arg-type]
                scope.split(":", 1)[0],
                write=scope.endswith(":write"),
            )
        ]
        if beyond:
            raise ValidationFailed(
                "A token cannot create a token with more access than it has.",
                errors={"scopes": [f"Not within this token's scopes: {', '.join(beyond)}."]},
            )
    token, secret = token_create(
        user=user,
        name=payload.name,
        scopes=payload.scopes,
        expires_at=payload.expires_at,
        ip_address=client_ip(request),
    )
    return Status(201, {**_token_data(token), "token": secret})


@router.delete(
    "/me/tokens/{int:token_id}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Revoke one of my API tokens",
)
def token_withdraw(request: HttpRequest, token_id: int) -> HttpResponse:
    user: User = request_user(request)
    token = ApiToken.objects.filter(user=user, pk=token_id).select_related("user").first()
    if token is None:
        raise RecordNotFound(f"You have no API token with id {token_id}.")
    token_revoke(token=token, actor=user, ip_address=client_ip(request))
    return HttpResponse(status=204)
