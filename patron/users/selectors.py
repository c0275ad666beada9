from __future__ import annotations

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Prefetch, QuerySet

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
from patron.users.models import Role, Team, User

_PERMISSION_COLUMNS = {
    Action.CREATE: "can_create",
    Action.READ: "can_read",
    Action.UPDATE: "can_update",
    Action.DELETE: "can_delete",
    Action.EXPORT: "can_export",
    Action.IMPORT: "can_import",
}


def load_access_profile(user: User) -> AccessProfile:
    role = user.role
    permissions: dict[str, frozenset[str]] = {}
    field_access: dict[tuple[str, str], str] = {}
    if role is not None:
        for perm in ObjectPermission.objects.filter(role=role):
            permissions[perm.object_type] = frozenset(
                action for action, column in _PERMISSION_COLUMNS.items() if getattr(perm, column)
            )
        for fperm in FieldPermission.objects.filter(role=role):
            field_access[(fperm.object_type, fperm.field)] = fperm.access
    return AccessProfile(
        user_id=user.pk,
        is_admin=user.is_admin,
        role_id=user.role_id,
        role_path=role.path if role else "",
        team_ids=frozenset(user.teams.values_list("id", flat=True)) if user.pk else frozenset(),
        permissions=permissions,
        org_defaults=dict(OrgWideDefault.objects.values_list("object_type", "access")),
        field_access=field_access,
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
