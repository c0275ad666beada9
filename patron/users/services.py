"""The write path for users, roles, teams and API tokens."""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from patron.core.exceptions import ValidationFailed
from patron.users.models import ApiToken, Role, Team, User

# Token scopes are "<area>:read" or "<area>:write"; write implies read.
TOKEN_AREAS = ("contacts", "users", "search", "admin")
TOKEN_PREFIX = "ptn_"


def valid_scopes() -> set[str]:
    return {f"{area}:{mode}" for area in TOKEN_AREAS for mode in ("read", "write")}


@transaction.atomic
def role_create(*, name: str, parent: Role | None = None, **fields: Any) -> Role:
    if Role.objects.filter(name__iexact=name).exists():
        raise ValidationFailed("A role with this name exists.", errors={"name": ["Already used."]})
    role = Role.objects.create(name=name, parent=parent, **fields)
    role.path = _role_path(role)
    role.save(update_fields=["path"])
    return role


def _role_path(role: Role) -> str:
    prefix = role.parent.path if role.parent else ""
    return f"{prefix}{role.pk:04d}."


@transaction.atomic
def role_set_parent(*, role: Role, parent: Role | None) -> Role:
    """Move ``role`` (and its subtree) under ``parent``; a cycle is refused."""
    if parent is not None and (parent.pk == role.pk or parent.path.startswith(role.path)):
        raise ValidationFailed(
            "A role cannot report to itself or to a role below it.",
            errors={"parent": ["This would make a loop in the hierarchy."]},
        )
    old_path = role.path
    role.parent = parent
    role.path = _role_path(role)
    role.save(update_fields=["parent", "path"])
    for child in Role.objects.filter(path__startswith=old_path).exclude(pk=role.pk):
        child.path = role.path + child.path[len(old_path) :]
        child.save(update_fields=["path"])
    return role


def user_create(
    *,
    email: str,
    password: str | None,
    full_name: str = "",
    role: Role | None = None,
    is_superuser: bool = False,
    teams: list[Team] | None = None,
    check_password_strength: bool = True,
) -> User:
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        errors["email"] = ["Enter a valid email address, such as ana@example.com."]
    if not errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["A user with this email address exists."]
    if password and check_password_strength:
        try:
            validate_password(password, User(email=email, full_name=full_name))
        except DjangoValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed("The user could not be created.", errors=errors)
    with transaction.atomic():
        user = User.objects.create_user(
            email,
            password,
            full_name=full_name,
            role=role,
            is_superuser=is_superuser,
            is_staff=is_superuser,
        )
        if teams:
            user.teams.set(teams)
    return user


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is shown once and never stored."""
    unknown = sorted(set(scopes) - valid_scopes())
    errors: dict[str, list[str]] = {}
    if not scopes:
        errors["scopes"] = ["Choose at least one scope, e.g. contacts:read."]
    elif unknown:
        errors["scopes"] = [
            f"Unknown scope(s): {', '.join(unknown)}. Valid: {', '.join(sorted(valid_scopes()))}."
        ]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    if not name.strip():
        errors["name"] = ["Give the token a name so you can recognise it later."]
    if errors:
        raise ValidationFailed("The token could not be created.", errors=errors)
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        name=name.strip(),
        prefix=prefix,
        token_hash=_hash_token(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    return token, secret


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token whose secret is ``secret``, or None (constant-time comparison)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    prefix = secret[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user", "user__role").filter(prefix=prefix).first()
    if token is None or not secrets.compare_digest(token.token_hash, _hash_token(secret)):
        return None
    return token


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_allows(token: ApiToken, area: str, *, write: bool) -> bool:
    scopes = set(token.scopes)
    return f"{area}:write" in scopes or (not write and f"{area}:read" in scopes)
