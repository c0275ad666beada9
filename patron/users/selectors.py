from __future__ import annotations

from typing import TYPE_CHECKING

from patron.core.choices import Action
from patron.core.models import FieldPermission, ObjectPermission, OrgWideDefault
from patron.core.visibility import AccessProfile

if TYPE_CHECKING:
    from patron.users.models import User

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
