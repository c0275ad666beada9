"""The write path for users, roles, teams, API tokens, two-factor, access policy and
organisation settings. Permission changes are written to the security log."""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import zoneinfo
from collections.abc import Collection, Mapping
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from patron.core.choices import (
    Action,
    CustomFieldType,
    FieldAccess,
    OrgWideAccess,
    SecurityEventKind,
)
from patron.core.exceptions import ValidationFailed
from patron.core.models import (
    CustomFieldDefinition,
    FieldPermission,
    ObjectPermission,
    OrganizationSettings,
    OrgWideDefault,
    SecurityEvent,
)
from patron.core.org import org_settings
from patron.users import twofactor
from patron.users.models import ApiToken, Role, Team, User
from patron.users.selectors import (
    api_token_with_user,
    business_object_types,
    sensitive_fields,
    two_factor_required,
)

# Token scopes are "<area>:read" or "<area>:write"; write implies read.
TOKEN_AREAS = (
    "contacts",
    "activities",
    "sales",
    "leads",
    "routing",
    "territories",
    "automation",
    "data",
    "users",
    "search",
    "admin",
)
TOKEN_PREFIX = "ptn_"


def valid_scopes() -> set[str]:
    return {f"{area}:{mode}" for area in TOKEN_AREAS for mode in ("read", "write")}


def security_event_record(
    *,
    kind: str,
    user: User | None = None,
    email: str = "",
    ip_address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one entry to the security log (never pass secrets in ``detail``)."""
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        email=(email or (user.email if user else ""))[:254],
        ip_address=ip_address,
        detail=detail or {},
    )


def _permission_change(
    actor: User | None, ip_address: str | None, change: str, **detail: Any
) -> None:
    security_event_record(
        kind=SecurityEventKind.PERMISSION_CHANGE,
        user=actor,
        ip_address=ip_address,
        detail={"change": change, **detail},
    )


@transaction.atomic
def role_create(
    *,
    name: str,
    parent: Role | None = None,
    actor: User | None = None,
    ip_address: str | None = None,
    **fields: Any,
) -> Role:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The role needs a name.", errors={"name": ["Enter a name."]})
    if Role.objects.filter(name__iexact=name).exists():
        raise ValidationFailed("A role with this name exists.", errors={"name": ["Already used."]})
    role = Role.objects.create(name=name, parent=parent, **fields)
    role.path = _role_path(role)
    role.save(update_fields=["path"])
    _permission_change(
        actor,
        ip_address,
        "role_created",
        role=role.name,
        parent=parent.name if parent else None,
        is_admin=role.is_admin,
        require_two_factor=role.require_two_factor,
    )
    return role


@transaction.atomic
def role_update(
    *,
    role: Role,
    actor: User | None,
    name: str,
    description: str = "",
    parent: Role | None = None,
    is_admin: bool = False,
    require_two_factor: bool = False,
    ip_address: str | None = None,
) -> Role:
    """Rename, re-describe, re-flag and (through role_set_parent) move a role."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("The role needs a name.", errors={"name": ["Enter a name."]})
    if Role.objects.filter(name__iexact=name).exclude(pk=role.pk).exists():
        raise ValidationFailed("A role with this name exists.", errors={"name": ["Already used."]})
    if (parent.pk if parent else None) != role.parent_id:
        role_set_parent(role=role, parent=parent, actor=actor, ip_address=ip_address)
    before = {
        "name": role.name,
        "is_admin": role.is_admin,
        "require_two_factor": role.require_two_factor,
    }
    role.name = name
    role.description = description
    role.is_admin = is_admin
    role.require_two_factor = require_two_factor
    role.save(update_fields=["name", "description", "is_admin", "require_two_factor"])
    after = {
        "name": role.name,
        "is_admin": role.is_admin,
        "require_two_factor": role.require_two_factor,
    }
    changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changed:
        _permission_change(actor, ip_address, "role_updated", role=role.name, fields=changed)
    return role


def _role_path(role: Role) -> str:
    prefix = role.parent.path if role.parent else ""
    return f"{prefix}{role.pk:04d}."


@transaction.atomic
def role_set_parent(
    *,
    role: Role,
    parent: Role | None,
    actor: User | None = None,
    ip_address: str | None = None,
) -> Role:
    """Move ``role`` (and its subtree) under ``parent``; a cycle is refused."""
    if parent is not None and (parent.pk == role.pk or parent.path.startswith(role.path)):
        raise ValidationFailed(
            "A role cannot report to itself or to a role below it.",
            errors={"parent": ["This would make a loop in the hierarchy."]},
        )
    old_parent = role.parent.name if role.parent else None
    old_path = role.path
    role.parent = parent
    role.path = _role_path(role)
    role.save(update_fields=["parent", "path"])
    for child in Role.objects.filter(path__startswith=old_path).exclude(pk=role.pk):
        child.path = role.path + child.path[len(old_path) :]
        child.save(update_fields=["path"])
    _permission_change(
        actor,
        ip_address,
        "role_moved",
        role=role.name,
        parent=[old_parent, parent.name if parent else None],
    )
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
    ip_address: str | None = None,
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
    security_event_record(
        kind=SecurityEventKind.TOKEN_CREATED,
        user=user,
        ip_address=ip_address,
        detail={"token": token.name, "prefix": token.prefix, "scopes": token.scopes},
    )
    return token, secret


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token whose secret is ``secret``, or None (constant-time comparison)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    prefix = secret[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = api_token_with_user(prefix)
    if token is None or not secrets.compare_digest(token.token_hash, _hash_token(secret)):
        return None
    return token


def token_revoke(
    *, token: ApiToken, actor: User | None = None, ip_address: str | None = None
) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        security_event_record(
            kind=SecurityEventKind.TOKEN_REVOKED,
            user=actor or token.user,
            ip_address=ip_address,
            detail={"token": token.name, "prefix": token.prefix, "owner": token.user.email},
        )
    return token


def token_allows(token: ApiToken, area: str, *, write: bool) -> bool:
    scopes = set(token.scopes)
    return f"{area}:write" in scopes or (not write and f"{area}:read" in scopes)


# --- users -------------------------------------------------------------------------------


def _time_zone_errors(time_zone: str) -> list[str]:
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f"Unknown time zone {time_zone!r}; use a name such as Europe/Paris."]
    return []


def user_profile_update(*, user: User, full_name: str, time_zone: str) -> User:
    """The fields a user may change about themselves."""
    errors: dict[str, list[str]] = {}
    if tz_errors := _time_zone_errors(time_zone):
        errors["time_zone"] = tz_errors
    if len(full_name) > 150:
        errors["full_name"] = ["Use at most 150 characters."]
    if errors:
        raise ValidationFailed("The profile could not be saved.", errors=errors)
    user.full_name = full_name.strip()
    user.time_zone = time_zone
    user.save(update_fields=["full_name", "time_zone"])
    return user


def user_password_set(
    *, user: User, password: str, actor: User | None = None, ip_address: str | None = None
) -> User:
    """Set a new password after checking it against the password rules; logged."""
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The password was not changed.", errors={"password": list(exc.messages)}
        ) from None
    user.set_password(password)
    user.save(update_fields=["password"])
    by = actor or user
    security_event_record(
        kind=SecurityEventKind.PASSWORD_CHANGED,
        user=user,
        ip_address=ip_address,
        detail={"by": by.email, "reset_by_admin": by.pk != user.pk},
    )
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: User | None,
    full_name: str,
    role: Role | None,
    teams: Collection[Team],
    is_active: bool,
    ip_address: str | None = None,
) -> User:
    """An administrator's edit of a user; role, team and activation changes are logged."""
    if actor is not None and actor.pk == user.pk and not is_active:
        raise ValidationFailed(
            "You cannot deactivate yourself.",
            errors={"is_active": ["Ask another administrator to deactivate your account."]},
        )
    before_role = user.role.name if user.role else None
    before_teams = sorted(user.teams.values_list("name", flat=True))
    before_active = user.is_active
    user.full_name = full_name.strip()
    user.role = role
    user.is_active = is_active
    user.save(update_fields=["full_name", "role", "is_active"])
    user.teams.set(list(teams))
    user.forget_access_profile()
    after_teams = sorted(team.name for team in teams)
    changed: dict[str, list[Any]] = {}
    if before_role != (role.name if role else None):
        changed["role"] = [before_role, role.name if role else None]
    if before_teams != after_teams:
        changed["teams"] = [before_teams, after_teams]
    if before_active != is_active:
        changed["is_active"] = [before_active, is_active]
    if changed:
        _permission_change(actor, ip_address, "user_updated", target=user.email, fields=changed)
    return user


# --- two-factor --------------------------------------------------------------------------


def two_factor_verify(*, user: User, code: str, ip_address: str | None = None) -> bool:
    """Check a code from the user's authenticator app; a wrong code is logged."""
    if user.totp_enabled and twofactor.code_matches(
        secret=user.totp_secret, code=code, replay_scope=str(user.pk)
    ):
        return True
    security_event_record(
        kind=SecurityEventKind.TWO_FACTOR_FAILED, user=user, ip_address=ip_address
    )
    return False


def two_factor_enable(*, user: User, secret: str, code: str, ip_address: str | None = None) -> User:
    """Turn on TOTP with ``secret`` once the user proves their app shows the same codes."""
    if not twofactor.code_matches(secret=secret, code=code, replay_scope=str(user.pk)):
        security_event_record(
            kind=SecurityEventKind.TWO_FACTOR_FAILED,
            user=user,
            ip_address=ip_address,
            detail={"during": "setup"},
        )
        raise ValidationFailed(
            "Two-factor was not turned on.",
            errors={"code": ["That code does not match; check the time on your phone."]},
        )
    user.totp_secret = secret
    user.totp_enabled = True
    user.save(update_fields=["totp_secret", "totp_enabled"])
    security_event_record(
        kind=SecurityEventKind.TWO_FACTOR_ENABLED, user=user, ip_address=ip_address
    )
    return user


def two_factor_disable(*, user: User, code: str, ip_address: str | None = None) -> User:
    """Turn off TOTP; needs a current code, and is refused where 2FA is required."""
    if two_factor_required(user):
        raise ValidationFailed(
            "Two-factor is required for your account.",
            errors={"code": ["Your role requires two-factor authentication; it stays on."]},
        )
    if not two_factor_verify(user=user, code=code, ip_address=ip_address):
        raise ValidationFailed(
            "Two-factor is still on.", errors={"code": ["That code does not match."]}
        )
    user.totp_secret = ""
    user.totp_enabled = False
    user.save(update_fields=["totp_secret", "totp_enabled"])
    security_event_record(
        kind=SecurityEventKind.TWO_FACTOR_DISABLED, user=user, ip_address=ip_address
    )
    return user


# --- teams -------------------------------------------------------------------------------


@transaction.atomic
def team_save(
    *,
    actor: User | None,
    name: str,
    description: str = "",
    members: Collection[User] = (),
    team: Team | None = None,
    ip_address: str | None = None,
) -> Team:
    """Create a team (``team`` is None) or update one; membership changes are logged
    because team membership widens record visibility."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Enter a name."]
    else:
        same_name = Team.objects.filter(name__iexact=name)
        if team is not None:
            same_name = same_name.exclude(pk=team.pk)
        if same_name.exists():
            errors["name"] = ["A team with this name exists."]
    if errors:
        raise ValidationFailed("The team could not be saved.", errors=errors)
    before = sorted(team.members.values_list("email", flat=True)) if team else []
    if team is None:
        team = Team.objects.create(name=name, description=description)
    else:
        team.name = name
        team.description = description
        team.save(update_fields=["name", "description"])
    team.members.set(list(members))
    after = sorted(member.email for member in members)
    if before != after:
        _permission_change(
            actor,
            ip_address,
            "team_members",
            team=team.name,
            added=sorted(set(after) - set(before)),
            removed=sorted(set(before) - set(after)),
        )
    return team


# --- access policy -----------------------------------------------------------------------

PERMISSION_ACTIONS: tuple[str, ...] = tuple(action.value for action in Action)


def _known_object_types() -> set[str]:
    return {object_type for object_type, _label in business_object_types()}


@transaction.atomic
def role_permissions_set(
    *,
    role: Role,
    permissions: Mapping[str, Collection[str]],
    actor: User | None,
    ip_address: str | None = None,
) -> dict[str, dict[str, list[str]]]:
    """Make ``role``'s object permissions exactly ``permissions`` (object type -> actions)
    for the object types listed; return and log what was added and removed."""
    known = _known_object_types()
    errors: dict[str, list[str]] = {}
    for object_type, actions in permissions.items():
        if object_type not in known:
            errors[object_type] = [f"Unknown object type {object_type!r}."]
        elif bad := sorted(set(actions) - set(PERMISSION_ACTIONS)):
            errors[object_type] = [f"Unknown action(s): {', '.join(bad)}."]
    if errors:
        raise ValidationFailed("The permissions could not be saved.", errors=errors)
    existing = {perm.object_type: perm for perm in ObjectPermission.objects.filter(role=role)}
    changes: dict[str, dict[str, list[str]]] = {}
    for object_type, actions in permissions.items():
        perm = existing.get(object_type) or ObjectPermission(role=role, object_type=object_type)
        before = {a for a in PERMISSION_ACTIONS if getattr(perm, f"can_{a}")}
        after = set(actions)
        if before == after:
            continue
        for action in PERMISSION_ACTIONS:
            setattr(perm, f"can_{action}", action in after)
        perm.save()
        changes[object_type] = {
            "added": sorted(after - before),
            "removed": sorted(before - after),
        }
    if changes:
        _permission_change(actor, ip_address, "object_permissions", role=role.name, changes=changes)
    return changes


@transaction.atomic
def org_default_set(
    *, object_type: str, access: str, actor: User | None, ip_address: str | None = None
) -> OrgWideDefault:
    """Set the org-wide default visibility of one object type (logged when it changes)."""
    errors: dict[str, list[str]] = {}
    if object_type not in _known_object_types():
        errors["object_type"] = [f"Unknown object type {object_type!r}."]
    if access not in OrgWideAccess.values:
        errors["access"] = [f"Choose one of: {', '.join(OrgWideAccess.values)}."]
    if errors:
        raise ValidationFailed("The default could not be saved.", errors=errors)
    row, created = OrgWideDefault.objects.get_or_create(
        object_type=object_type, defaults={"access": access}
    )
    before = None if created else row.access
    if before != access:
        row.access = access
        row.save(update_fields=["access"])
        _permission_change(
            actor, ip_address, "org_wide_default", object_type=object_type, access=[before, access]
        )
    return row


@transaction.atomic
def field_permissions_set(
    *,
    role: Role,
    access: Mapping[tuple[str, str], str],
    actor: User | None,
    ip_address: str | None = None,
) -> dict[str, list[str | None]]:
    """Set how ``role`` sees sensitive fields: (object type, field) -> hidden/read_only/edit.

    Custom fields are named ``custom.<key>``. Only sensitive fields can be set.
    """
    errors: dict[str, list[str]] = {}
    for (object_type, field), level in access.items():
        allowed = {name for name, _label in sensitive_fields(object_type)}
        if field not in allowed:
            errors[f"{object_type}.{field}"] = ["Not a sensitive field of this object type."]
        elif level not in FieldAccess.values:
            errors[f"{object_type}.{field}"] = [f"Choose one of: {', '.join(FieldAccess.values)}."]
    if errors:
        raise ValidationFailed("The field security could not be saved.", errors=errors)
    existing = {
        (perm.object_type, perm.field): perm for perm in FieldPermission.objects.filter(role=role)
    }
    changes: dict[str, list[str | None]] = {}
    for (object_type, field), level in access.items():
        perm = existing.get((object_type, field))
        # No row means hidden (see core.visibility.field_access).
        before = perm.access if perm else FieldAccess.HIDDEN
        if before == level:
            continue
        if perm is None:
            FieldPermission.objects.create(
                role=role, object_type=object_type, field=field, access=level
            )
        else:
            perm.access = level
            perm.save(update_fields=["access"])
        changes[f"{object_type}.{field}"] = [before, level]
    if changes:
        _permission_change(actor, ip_address, "field_security", role=role.name, changes=changes)
    return changes


# --- custom fields -----------------------------------------------------------------------

CUSTOM_FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_CHOICE_TYPES = {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE}


def _clean_choices(raw: Collection[str]) -> list[str]:
    seen: list[str] = []
    for item in raw:
        text = str(item).strip()
        if text and text not in seen:
            seen.append(text)
    return seen


def _custom_field_errors(
    *,
    field_type: str,
    label: str,
    choices: list[str],
    lookup_object_type: str,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not label.strip():
        errors["label"] = ["Enter the label people will see."]
    if field_type not in CustomFieldType.values:
        errors["field_type"] = [f"Choose one of: {', '.join(CustomFieldType.values)}."]
    if field_type in _CHOICE_TYPES and not choices:
        errors["choices"] = ["A choice field needs at least one choice (one per line)."]
    if any(len(choice) > 100 for choice in choices):
        errors["choices"] = ["Each choice must be at most 100 characters."]
    if field_type == CustomFieldType.LOOKUP and lookup_object_type not in _known_object_types():
        errors["lookup_object_type"] = ["Choose the kind of record this field points to."]
    return errors


@transaction.atomic
def custom_field_define(
    *,
    object_type: str,
    key: str,
    label: str,
    field_type: str,
    choices: Collection[str] = (),
    lookup_object_type: str = "",
    required: bool = False,
    sensitive: bool = False,
    help_text: str = "",
    position: int = 0,
    actor: User | None = None,
    ip_address: str | None = None,
) -> CustomFieldDefinition:
    """Add a custom field to an object type; values are then validated on every save."""
    key = (key or "").strip()
    cleaned_choices = _clean_choices(choices)
    errors = _custom_field_errors(
        field_type=field_type,
        label=label,
        choices=cleaned_choices,
        lookup_object_type=lookup_object_type,
    )
    if object_type not in _known_object_types():
        errors["object_type"] = [f"Unknown object type {object_type!r}."]
    if not CUSTOM_FIELD_KEY.match(key):
        errors["key"] = [
            "Use lower-case letters, digits and underscores, starting with a letter "
            "(at most 50), e.g. contract_value."
        ]
    elif CustomFieldDefinition.objects.filter(object_type=object_type, key=key).exists():
        errors["key"] = ["This object type already has a field with this key."]
    if errors:
        raise ValidationFailed("The custom field could not be saved.", errors=errors)
    definition = CustomFieldDefinition.objects.create(
        object_type=object_type,
        key=key,
        label=label.strip(),
        field_type=field_type,
        choices=cleaned_choices if field_type in _CHOICE_TYPES else [],
        lookup_object_type=lookup_object_type if field_type == CustomFieldType.LOOKUP else "",
        required=required,
        sensitive=sensitive,
        help_text=help_text.strip(),
        position=position,
    )
    if sensitive:
        _permission_change(
            actor, ip_address, "sensitive_field", field=str(definition), sensitive=[None, True]
        )
    return definition


@transaction.atomic
def custom_field_update(
    *,
    definition: CustomFieldDefinition,
    label: str,
    choices: Collection[str] = (),
    lookup_object_type: str = "",
    required: bool = False,
    sensitive: bool = False,
    help_text: str = "",
    position: int = 0,
    active: bool = True,
    actor: User | None = None,
    ip_address: str | None = None,
) -> CustomFieldDefinition:
    """Edit a custom field. Object type, key and type stay fixed: stored values depend on them."""
    cleaned_choices = _clean_choices(choices)
    errors = _custom_field_errors(
        field_type=definition.field_type,
        label=label,
        choices=cleaned_choices,
        lookup_object_type=lookup_object_type,
    )
    if errors:
        raise ValidationFailed("The custom field could not be saved.", errors=errors)
    was_sensitive = definition.sensitive
    definition.label = label.strip()
    if definition.field_type in _CHOICE_TYPES:
        definition.choices = cleaned_choices
    if definition.field_type == CustomFieldType.LOOKUP:
        definition.lookup_object_type = lookup_object_type
    definition.required = required
    definition.sensitive = sensitive
    definition.help_text = help_text.strip()
    definition.position = position
    definition.active = active
    definition.save()
    if was_sensitive != sensitive:
        _permission_change(
            actor,
            ip_address,
            "sensitive_field",
            field=str(definition),
            sensitive=[was_sensitive, sensitive],
        )
    return definition


def custom_field_deactivate(*, definition: CustomFieldDefinition) -> CustomFieldDefinition:
    """Hide a custom field from forms, lists and the API; stored values are kept."""
    if definition.active:
        definition.active = False
        definition.save(update_fields=["active"])
    return definition


# --- organisation ------------------------------------------------------------------------


def org_settings_update(
    *,
    actor: User | None,
    name: str,
    default_currency: str,
    time_zone: str,
    fiscal_year_start_month: int,
    require_two_factor_for_admins: bool,
    ip_address: str | None = None,
) -> OrganizationSettings:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    currency = (default_currency or "").strip().upper()
    if not name:
        errors["name"] = ["Enter the organisation's name."]
    if not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        errors["default_currency"] = ["Use a three-letter ISO 4217 code such as EUR or USD."]
    if tz_errors := _time_zone_errors(time_zone):
        errors["time_zone"] = tz_errors
    if not 1 <= fiscal_year_start_month <= 12:
        errors["fiscal_year_start_month"] = ["Choose a month from 1 (January) to 12."]
    if errors:
        raise ValidationFailed("The settings could not be saved.", errors=errors)
    row = org_settings()
    was_required = row.require_two_factor_for_admins
    row.name = name
    row.default_currency = currency
    row.time_zone = time_zone
    row.fiscal_year_start_month = fiscal_year_start_month
    row.require_two_factor_for_admins = require_two_factor_for_admins
    row.save()
    if was_required != require_two_factor_for_admins:
        _permission_change(
            actor,
            ip_address,
            "require_two_factor_for_admins",
            value=[was_required, require_two_factor_for_admins],
        )
    return row


# --- first start -------------------------------------------------------------------------

_BOOTSTRAP_ROLES: tuple[tuple[str, str | None, dict[str, Any], tuple[str, ...]], ...] = (
    (
        "Administrator",
        None,
        {"is_admin": True, "description": "Sees and changes everything, including the admin area."},
        (),
    ),
    (
        "Sales Manager",
        None,
        {"description": "Leads a sales team; sees the records of everyone below."},
        PERMISSION_ACTIONS,
    ),
    (
        "Sales Rep",
        "Sales Manager",
        {"description": "Works their own accounts and contacts."},
        (Action.CREATE, Action.READ, Action.UPDATE, Action.EXPORT),
    ),
    (
        "Read Only",
        None,
        {"description": "Reads records shared with them or public by default."},
        (Action.READ,),
    ),
)


@transaction.atomic
def bootstrap_roles() -> dict[str, Role]:
    """Create the default roles, their permissions and private org-wide defaults for every
    business object type.

    Idempotent: existing roles, permissions and defaults (perhaps edited by an
    administrator since) are left as they are; only missing ones are added.
    """
    roles: dict[str, Role] = {}
    object_types = [object_type for object_type, _label in business_object_types()]
    for name, parent_name, fields, actions in _BOOTSTRAP_ROLES:
        role = Role.objects.filter(name__iexact=name).first()
        if role is None:
            parent = roles.get(parent_name) if parent_name else None
            role = role_create(name=name, parent=parent, **fields)
        # Object types added by a newer release get the default permissions on first start;
        # rows an administrator has edited are left alone.
        for object_type in object_types:
            ObjectPermission.objects.get_or_create(
                role=role,
                object_type=object_type,
                defaults={f"can_{action}": True for action in actions},
            )
        roles[name] = role
    for object_type in object_types:
        OrgWideDefault.objects.get_or_create(
            object_type=object_type, defaults={"access": OrgWideAccess.PRIVATE}
        )
    return roles
