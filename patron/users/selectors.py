from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, router
from django.db.models import Count, Model, Prefetch, QuerySet

from patron.core.choices import Action
from patron.core.models import (
    BusinessRecord,
    CustomFieldDefinition,
    FieldPermission,
    ObjectPermission,
    OrgWideDefault,
)
from patron.core.org import org_settings
from patron.core.visibility import AccessProfile
from patron.users.models import ApiToken, Role, Team, User

M = TypeVar("M", bound=Model)

_PERMISSION_COLUMNS = {
    Action.CREATE: "can_create",
    Action.READ: "can_read",
    Action.UPDATE: "can_update",
    Action.DELETE: "can_delete",
    Action.EXPORT: "can_export",
    Action.IMPORT: "can_import",
}


def _profile_sql(quote: Callable[[str], str]) -> str:
    """The one query that loads an access profile (parameters: role id, role id, user id).

    Each row is an object permission, a field permission, a team membership, an org-wide
    default or a sensitive custom field, told apart by its first column; the columns a kind
    has no use for hold constants. Written out rather than built with the ORM: building a
    five-part UNION as querysets costs more than ten times what the query itself does, and
    this runs on every request.
    """
    flags = ", ".join(quote(column) for column in _PERMISSION_COLUMNS.values())
    no_flags = ", ".join(["false"] * len(_PERMISSION_COLUMNS))
    # Typed: PostgreSQL resolves a column of untyped NULLs to text, which a team id is not.
    no_team = "CAST(NULL AS bigint)"
    object_type, access = quote("object_type"), quote("access")
    parts: tuple[tuple[str, type[Model], str], ...] = (
        (
            f"'permission', {object_type}, '', '', {no_team}, {flags}",
            ObjectPermission,
            f"{quote('role_id')} = %s",
        ),
        (
            f"'field', {object_type}, {quote('field')}, {access}, {no_team}, {no_flags}",
            FieldPermission,
            f"{quote('role_id')} = %s",
        ),
        (
            f"'team', '', '', '', {quote('team_id')}, {no_flags}",
            User.teams.through,
            f"{quote('user_id')} = %s",
        ),
        (f"'default', {object_type}, '', {access}, {no_team}, {no_flags}", OrgWideDefault, ""),
        (
            f"'custom', {object_type}, {quote('key')}, '', {no_team}, {no_flags}",
            CustomFieldDefinition,
            f"{quote('active')} AND {quote('sensitive')}",
        ),
    )
    return " UNION ALL ".join(
        # Only identifiers and constants are spliced in; the ids are parameters.
        f"SELECT {columns} FROM {quote(model._meta.db_table)}"  # noqa: S608
        + (f" WHERE {where}" if where else "")
        for columns, model, where in parts
    )


def load_access_profile(user: User) -> AccessProfile:
    """``user``'s access profile in one query.

    Read afresh for every request (the profile lives on the request's user object), so a
    change to a role, a team, a default or field security applies from the next request on,
    in every process.
    """
    role = user.role
    permissions: dict[str, frozenset[str]] = {}
    field_access: dict[tuple[str, str], str] = {}
    org_defaults: dict[str, str] = {}
    team_ids: set[int] = set()
    custom_keys: dict[str, set[str]] = {}
    connection = connections[router.db_for_read(ObjectPermission)]
    with connection.cursor() as cursor:
        cursor.execute(
            _profile_sql(connection.ops.quote_name), [user.role_id, user.role_id, user.pk]
        )
        rows = cursor.fetchall()
    for kind, object_type, name, access, team_id, *flags in rows:
        if kind == "permission":
            permissions[object_type] = frozenset(
                action
                for action, allowed in zip(_PERMISSION_COLUMNS, flags, strict=True)
                if allowed
            )
        elif kind == "field":
            field_access[(object_type, name)] = access
        elif kind == "team":
            team_ids.add(team_id)
        elif kind == "default":
            org_defaults[object_type] = access
        else:
            custom_keys.setdefault(object_type, set()).add(name)
    return AccessProfile(
        user_id=user.pk,
        is_admin=user.is_admin,
        role_id=user.role_id,
        role_path=role.path if role else "",
        team_ids=frozenset(team_ids),
        permissions=permissions,
        org_defaults=org_defaults,
        field_access=field_access,
        sensitive_custom_keys={key: frozenset(keys) for key, keys in custom_keys.items()},
    )


def business_models() -> list[type[BusinessRecord]]:
    """Every installed model that is a business record, ordered by object type."""
    found = [
        model
        for model in apps.get_models()
        if issubclass(model, BusinessRecord) and not model._meta.abstract
    ]
    return sorted(found, key=lambda model: model._meta.label_lower)


def business_object_types() -> list[tuple[str, str]]:
    """(object type, human label) for every business record, e.g. ("contacts.account",
    "Contacts · Account")."""
    return [
        (
            model._meta.label_lower,
            f"{model._meta.app_config.verbose_name} · {str(model._meta.verbose_name).capitalize()}",
        )
        for model in business_models()
    ]


def sensitive_fields(object_type: str) -> list[tuple[str, str]]:
    """(field name, label) of the fields of ``object_type`` that field security governs:
    the model's SENSITIVE_FIELDS and its active sensitive custom fields (``custom.<key>``)."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return []
    fields: list[tuple[str, str]] = []
    for name in sorted(getattr(model, "SENSITIVE_FIELDS", frozenset())):
        try:
            label = str(model._meta.get_field(name).verbose_name).capitalize()
        except FieldDoesNotExist:
            label = name
        fields.append((name, label))
    for key, label in CustomFieldDefinition.objects.filter(
        object_type=object_type, active=True, sensitive=True
    ).values_list("key", "label"):
        fields.append((f"custom.{key}", f"{label} (custom)"))
    return fields


def two_factor_required(user: User) -> bool:
    """Whether ``user``'s role, or their being an administrator, requires two-factor."""
    role = user.role
    if role is not None and role.require_two_factor:
        return True
    return user.is_admin and org_settings().require_two_factor_for_admins


def role_tree() -> QuerySet[Role]:
    """Every role in hierarchy order (a parent before its children); ``depth`` indents."""
    return Role.objects.select_related("parent").order_by("path")


def users_for_admin() -> QuerySet[User]:
    return (
        User.objects.select_related("role")
        .prefetch_related(Prefetch("teams", queryset=Team.objects.only("id", "name")))
        .order_by("email")
    )


def teams_for_admin() -> QuerySet[Team]:
    return Team.objects.annotate(member_count=Count("members")).order_by("name")


def managers_of(user_id: int) -> list[User]:
    """A user's managers: the active users whose role is the parent of the user's role (by
    name, then id). Quote approval and approval processes both ask this."""
    user = User.objects.select_related("role").get(pk=user_id)
    if user.role is None or user.role.parent_id is None:
        return []
    return list(
        User.objects.filter(role_id=user.role.parent_id, is_active=True).order_by("full_name", "id")
    )


def _loaded_columns(model: type[Model], alias: str, quote: Callable[[str], str]) -> list[str]:
    return [f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields]


@functools.cache
def _token_sql(database: str) -> str:
    """The token with its user and the user's role, by prefix, in one statement, written for
    ``database`` once per process.

    Written out rather than built with the ORM: compiling the three models' select took
    three quarters of the look-up, on every API request (issue 8)."""
    quote = connections[database].ops.quote_name
    columns = ", ".join(
        _loaded_columns(ApiToken, "t", quote)
        + _loaded_columns(User, "u", quote)
        + _loaded_columns(Role, "r", quote)
    )
    token_user = ApiToken._meta.get_field("user").column
    user_role = User._meta.get_field("role").column
    # Only identifiers are spliced in; the prefix is a parameter.
    return (
        f"SELECT {columns} FROM {quote(ApiToken._meta.db_table)} t"  # noqa: S608
        f" INNER JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = t.{quote(token_user)}"
        f" LEFT OUTER JOIN {quote(Role._meta.db_table)} r"
        f" ON r.{quote('id')} = u.{quote(user_role)}"
        f" WHERE t.{quote('prefix')} = %s"
    )


def _from_row(model: type[M], alias: str, values: Sequence[Any], connection: Any) -> M:
    """An instance of ``model`` from its concrete columns' raw ``values``, converted as the
    ORM converts them (SQLite's text datetimes, JSON columns)."""
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        column = field.get_col(alias)
        for converter in [
            *connection.ops.get_db_converters(column),
            *column.get_db_converters(connection),
        ]:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


def api_token_with_user(prefix: str) -> ApiToken | None:
    """The API token whose prefix is ``prefix``, its user and their role loaded with it."""
    connection = connections[router.db_for_read(ApiToken)]
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(connection.alias), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    token_width, user_width = len(ApiToken._meta.concrete_fields), len(User._meta.concrete_fields)
    token = _from_row(ApiToken, "t", row[:token_width], connection)
    user = _from_row(User, "u", row[token_width : token_width + user_width], connection)
    role_values = row[token_width + user_width :]
    user.role = (
        None if user.role_id is None else _from_row(Role, "r", role_values, connection)
    )
    token.user = user
    return token
