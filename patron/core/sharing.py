"""Explicit shares: grant one user, team or role read or edit access to one record."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from patron.core.choices import Action, SecurityEventKind, ShareAccess
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.models import RecordShare, SecurityEvent
from patron.core.visibility import Principal, can_access, forget_access_checks


def may_manage_shares(user: Principal, record: models.Model) -> bool:
    """Owners, their managers and administrators may share; editors via a share may not."""
    profile = user.access_profile()
    if profile.is_admin or getattr(record, "owner_id", None) == profile.user_id:
        return True
    owner = getattr(record, "owner", None)
    owner_path = owner.role.path if owner is not None and owner.role else ""
    below_me = (
        owner is not None
        and bool(profile.role_path)
        and owner_path.startswith(profile.role_path)
        and owner.role_id != profile.role_id
    )
    return below_me and can_access(user, record, Action.UPDATE)


def share_list(*, record: models.Model) -> list[RecordShare]:
    return list(
        RecordShare.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        ).select_related("user", "team", "role", "created_by")
    )


@transaction.atomic
def share_grant(
    *,
    user: Principal,
    record: models.Model,
    access: str = ShareAccess.READ,
    grantee_user: Any = None,
    grantee_team: Any = None,
    grantee_role: Any = None,
) -> RecordShare:
    """Share ``record`` with exactly one grantee; granting again updates the access level."""
    if not may_manage_shares(user, record):
        raise PermissionDenied("Only the owner, their managers or an administrator may share it.")
    grantees = [g for g in (grantee_user, grantee_team, grantee_role) if g is not None]
    if len(grantees) != 1:
        raise ValidationFailed(
            "Choose one user, team or role to share with.",
            errors={"grantee": ["Choose exactly one user, team or role."]},
        )
    if access not in ShareAccess.values:
        raise ValidationFailed("Unknown access level.", errors={"access": ["Choose read or edit."]})
    # The grantee's answers remembered this request (when it is a user object we hold) would
    # now be stale; the actor's were forgotten by may_manage_shares or never depended on it.
    if grantee_user is not None:
        forget_access_checks(grantee_user)
    share, _created = RecordShare.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(type(record)),
        object_id=record.pk,
        user=grantee_user,
        team=grantee_team,
        role=grantee_role,
        defaults={"access": access, "created_by_id": user.pk},
    )
    SecurityEvent.objects.create(
        kind=SecurityEventKind.PERMISSION_CHANGE,
        user_id=user.pk,
        detail={
            "change": "share_granted",
            "object_type": record._meta.label_lower,
            "object_id": record.pk,
            "grantee": str(grantees[0]),
            "access": access,
        },
    )
    return share


@transaction.atomic
def share_revoke(*, user: Principal, share: RecordShare) -> None:
    record = share.content_type.get_object_for_this_type(pk=share.object_id)
    if not may_manage_shares(user, record):
        raise PermissionDenied("Only the owner, their managers or an administrator may unshare it.")
    SecurityEvent.objects.create(
        kind=SecurityEventKind.PERMISSION_CHANGE,
        user_id=user.pk,
        detail={
            "change": "share_revoked",
            "object_type": record._meta.label_lower,
            "object_id": record.pk,
            "grantee": str(share.user or share.team or share.role),
        },
    )
    share.delete()


def share_panel(*, user: Principal, record: models.Model) -> dict[str, Any]:
    """What the record page's sharing panel shows: current shares and whom it may add."""
    from django.apps import apps
    from django.contrib.auth import get_user_model

    can_share = may_manage_shares(user, record)
    options: list[tuple[str, str]] = []
    if can_share:
        users = get_user_model()._default_manager.filter(is_active=True).exclude(pk=user.pk)
        options += [(f"user:{u.pk}", f"User: {u}") for u in users[:500]]
        options += [
            (f"team:{t.pk}", f"Team: {t}")
            for t in apps.get_model("users", "Team")._default_manager.all()
        ]
        options += [
            (f"role:{r.pk}", f"Role: {r}")
            for r in apps.get_model("users", "Role")._default_manager.all()
        ]
    return {
        "shares": share_list(record=record),
        "can_share": can_share,
        "share_options": options,
        "share_object_type": record._meta.label_lower,
    }
