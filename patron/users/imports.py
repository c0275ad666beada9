"""Users and the owner resolver for imports (see patron.core.importing)."""

from __future__ import annotations

from typing import Any

from django.db import models

from patron.core.importing import (
    EMAIL,
    RELATED,
    TEXT,
    ImportField,
    ImportSpec,
    MatchKey,
    Resolver,
    register_import,
    register_resolver,
)


def _active_users(user: Any) -> models.QuerySet[Any]:
    from patron.users.models import User

    return User.objects.filter(is_active=True)


def _create(actor: Any, values: dict[str, Any]) -> Any:
    from patron.users.services import user_create

    return user_create(
        email=values["email"],
        password=None,
        full_name=values.get("full_name") or "",
        role=values.get("role"),
    )


def _update(actor: Any, record: Any, values: dict[str, Any]) -> Any:
    from patron.users.services import user_update

    return user_update(
        user=record,
        actor=actor,
        full_name=values.get("full_name", record.full_name),
        role=values.get("role", record.role),
        teams=list(record.teams.all()),
        is_active=record.is_active,
    )


def _deactivate(actor: Any, pks: list[int]) -> None:
    from patron.users.models import User

    User.objects.filter(pk__in=pks).exclude(pk__in=[getattr(actor, "pk", 0)]).update(
        is_active=False
    )


def register_imports() -> None:
    from patron.users.models import Role, User

    register_resolver(
        Resolver(
            name="user",
            label="user",
            model=User,
            lookups=(("email", EMAIL), ("full_name", TEXT)),
            case_insensitive=frozenset({"full_name"}),
            queryset=_active_users,
        )
    )
    register_resolver(
        Resolver(
            name="role",
            label="role",
            model=Role,
            lookups=(("name", TEXT),),
            case_insensitive=frozenset({"name"}),
        )
    )
    register_import(
        ImportSpec(
            object_type="users.user",
            label="user",
            label_plural="users",
            model=User,
            fields=(
                ImportField("email", "Email", EMAIL, required=True, aliases=("e-mail", "username")),
                ImportField(
                    "full_name",
                    "Full name",
                    max_length=150,
                    aliases=("name", "sales_agent", "sales agent", "user"),
                ),
                ImportField("role", "Role", RELATED, resolver="role", aliases=("profile",)),
            ),
            match_keys=(MatchKey("email", "Email", "email", EMAIL, case_insensitive=True),),
            create_one=_create,
            update_one=_update,
            remove=_deactivate,
            admin_only=True,
        )
    )
