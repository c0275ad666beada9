"""The admin area (/admin-area/): users, teams, roles, permissions, org-wide defaults, field
security, custom fields, organisation settings and the security log. Administrators only."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.choices import FieldAccess, OrgWideAccess
from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.models import (
    CustomFieldDefinition,
    FieldPermission,
    ObjectPermission,
    OrgWideDefault,
    SecurityEvent,
)
from patron.core.org import org_settings
from patron.users import services
from patron.users.filters import SecurityEventFilter
from patron.users.forms import (
    AdminPasswordResetForm,
    AdminUserCreateForm,
    AdminUserEditForm,
    CustomFieldForm,
    OrgSettingsForm,
    RoleForm,
    TeamForm,
)
from patron.users.models import Role, Team, User
from patron.users.selectors import (
    business_object_types,
    role_tree,
    sensitive_fields,
    teams_for_admin,
    users_for_admin,
)
from patron.users.throttle import client_ip

View = TypeVar("View", bound=Callable[..., HttpResponse])

SECURITY_LOG_PAGE_SIZE = 50


def admin_required(view: View) -> View:
    """Anonymous users go to the login page; signed-in non-administrators get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(request.user, "is_admin", False):
            raise PermissionDenied("The admin area is for administrators.")
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guarded by admin_required
    return user


@admin_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "users/admin/index.html", {"section": "index"})


# --- users -------------------------------------------------------------------------------


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(users_for_admin(), 100).get_page(request.GET.get("page"))
    return render(request, "users/admin/user_list.html", {"section": "users", "page": page})


@admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    form = AdminUserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_create(
                email=data["email"],
                password=data["password"],
                full_name=data["full_name"],
                role=data["role"],
                teams=list(data["teams"]),
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{user.email} can now log in.")
            return redirect("users:admin_users")
    status = 400 if form.is_bound else 200
    return render(
        request,
        "users/admin/form.html",
        {"section": "users", "form": form, "heading": "New user", "submit": "Create user"},
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    form = AdminUserEditForm(
        request.POST or None,
        initial={
            "full_name": user.full_name,
            "role": user.role,
            "teams": list(user.teams.all()),
            "is_active": user.is_active,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update(
                user=user,
                actor=_actor(request),
                full_name=data["full_name"],
                role=data["role"],
                teams=list(data["teams"]),
                is_active=data["is_active"],
                ip_address=client_ip(request),
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{user.email} was saved.")
            return redirect("users:admin_users")
    return render(
        request,
        "users/admin/user_edit.html",
        {"section": "users", "form": form, "subject": user},
        status=400 if form.is_bound else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def user_password_reset(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    form = AdminPasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_password_set(
                user=user,
                password=form.cleaned_data["password"],
                actor=_actor(request),
                ip_address=client_ip(request),
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"The password of {user.email} was changed.")
            return redirect("users:admin_user_edit", pk=user.pk)
    return render(
        request,
        "users/admin/form.html",
        {
            "section": "users",
            "form": form,
            "heading": f"New password for {user.email}",
            "submit": "Set password",
        },
        status=400 if form.is_bound else 200,
    )


# --- teams -------------------------------------------------------------------------------


@admin_required
def team_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "users/admin/team_list.html", {"section": "teams", "teams": teams_for_admin()}
    )


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk) if pk is not None else None
    initial = (
        {"name": team.name, "description": team.description, "members": list(team.members.all())}
        if team
        else {}
    )
    form = TeamForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.team_save(
                team=team,
                actor=_actor(request),
                name=data["name"],
                description=data["description"],
                members=list(data["members"]),
                ip_address=client_ip(request),
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"The team {saved.name} was saved.")
            return redirect("users:admin_teams")
    heading = f"Team {team.name}" if team else "New team"
    return render(
        request,
        "users/admin/form.html",
        {"section": "teams", "form": form, "heading": heading, "submit": "Save team"},
        status=400 if form.is_bound else 200,
    )


# --- roles -------------------------------------------------------------------------------


@admin_required
def role_list(request: HttpRequest) -> HttpResponse:
    roles = role_tree()
    return render(request, "users/admin/role_list.html", {"section": "roles", "roles": roles})


@admin_required
@require_http_methods(["GET", "POST"])
def role_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    role = get_object_or_404(Role, pk=pk) if pk is not None else None
    initial: dict[str, Any] = {}
    if role is not None:
        initial = {
            "name": role.name,
            "description": role.description,
            "parent": role.parent,
            "is_admin": role.is_admin,
            "require_two_factor": role.require_two_factor,
        }
    form = RoleForm(request.POST or None, initial=initial)
    if role is not None:
        # Offer only parents that cannot make a loop; the service refuses them anyway.
        parent_field = form.fields["parent"]
        parent_field.queryset = Role.objects.exclude(  # type: ignore[attr-defined]
            path__startswith=role.path
        ).order_by("path")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if role is None:
                role = services.role_create(
                    name=data["name"],
                    parent=data["parent"],
                    description=data["description"],
                    is_admin=data["is_admin"],
                    require_two_factor=data["require_two_factor"],
                    actor=_actor(request),
                    ip_address=client_ip(request),
                )
            else:
                services.role_update(
                    role=role,
                    actor=_actor(request),
                    name=data["name"],
                    description=data["description"],
                    parent=data["parent"],
                    is_admin=data["is_admin"],
                    require_two_factor=data["require_two_factor"],
                    ip_address=client_ip(request),
                )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"The role {role.name} was saved.")
            return redirect("users:admin_roles")
    heading = f"Role {role.name}" if role else "New role"
    return render(
        request,
        "users/admin/form.html",
        {"section": "roles", "form": form, "heading": heading, "submit": "Save role"},
        status=400 if form.is_bound else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def role_permissions(request: HttpRequest, pk: int) -> HttpResponse:
    """The grid of object types x actions for one role."""
    role = get_object_or_404(Role, pk=pk)
    object_types = business_object_types()
    actions = services.PERMISSION_ACTIONS
    if request.method == "POST":
        grid = {
            object_type: [a for a in actions if request.POST.get(f"perm:{object_type}:{a}")]
            for object_type, _label in object_types
        }
        services.role_permissions_set(
            role=role, permissions=grid, actor=_actor(request), ip_address=client_ip(request)
        )
        messages.success(request, f"The permissions of {role.name} were saved.")
        return redirect("users:admin_role_permissions", pk=role.pk)
    existing = {perm.object_type: perm for perm in ObjectPermission.objects.filter(role=role)}
    rows = [
        {
            "object_type": object_type,
            "label": label,
            "cells": [
                {
                    "action": action,
                    "name": f"perm:{object_type}:{action}",
                    "checked": bool(
                        existing.get(object_type)
                        and getattr(existing[object_type], f"can_{action}")
                    ),
                }
                for action in actions
            ],
        }
        for object_type, label in object_types
    ]
    return render(
        request,
        "users/admin/role_permissions.html",
        {"section": "roles", "role": role, "actions": actions, "rows": rows},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def role_field_security(request: HttpRequest, pk: int) -> HttpResponse:
    """How one role sees each sensitive field: hidden, read only, or read and edit."""
    role = get_object_or_404(Role, pk=pk)
    groups = [
        (object_type, label, sensitive_fields(object_type))
        for object_type, label in business_object_types()
    ]
    status = 200
    errors: dict[str, list[str]] = {}
    current = {
        (perm.object_type, perm.field): perm.access
        for perm in FieldPermission.objects.filter(role=role)
    }
    if request.method == "POST":
        # A field the form did not send (one added by an app since the page was loaded, or a
        # client posting only what it changes) keeps its current level.
        access = {
            (object_type, field): request.POST.get(
                f"field:{object_type}:{field}",
                current.get((object_type, field), FieldAccess.HIDDEN),
            )
            for object_type, _label, fields in groups
            for field, _field_label in fields
        }
        try:
            services.field_permissions_set(
                role=role, access=access, actor=_actor(request), ip_address=client_ip(request)
            )
        except ValidationFailed as error:
            errors = error.errors
            status = 400
        else:
            messages.success(request, f"The field security of {role.name} was saved.")
            return redirect("users:admin_role_fields", pk=role.pk)
    sections = [
        {
            "label": label,
            "fields": [
                {
                    "name": f"field:{object_type}:{field}",
                    "label": field_label,
                    "value": current.get((object_type, field), FieldAccess.HIDDEN),
                    "errors": errors.get(f"{object_type}.{field}", []),
                }
                for field, field_label in fields
            ],
        }
        for object_type, label, fields in groups
        if fields
    ]
    return render(
        request,
        "users/admin/role_fields.html",
        {
            "section": "roles",
            "role": role,
            "sections": sections,
            "levels": FieldAccess.choices,
            "is_admin_role": role.is_admin,
        },
        status=status,
    )


# --- org-wide defaults -------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def org_defaults(request: HttpRequest) -> HttpResponse:
    object_types = business_object_types()
    status = 200
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        for object_type, _label in object_types:
            access = request.POST.get(f"owd:{object_type}", "")
            try:
                services.org_default_set(
                    object_type=object_type,
                    access=access,
                    actor=_actor(request),
                    ip_address=client_ip(request),
                )
            except ValidationFailed as error:
                errors[object_type] = [m for ms in error.errors.values() for m in ms]
        if not errors:
            messages.success(request, "The organisation-wide defaults were saved.")
            return redirect("users:admin_org_defaults")
        status = 400
    current = dict(OrgWideDefault.objects.values_list("object_type", "access"))
    rows = [
        {
            "name": f"owd:{object_type}",
            "label": label,
            "value": current.get(object_type, OrgWideAccess.PRIVATE),
            "errors": errors.get(object_type, []),
        }
        for object_type, label in object_types
    ]
    return render(
        request,
        "users/admin/org_defaults.html",
        {"section": "org_defaults", "rows": rows, "levels": OrgWideAccess.choices},
        status=status,
    )


# --- custom fields -----------------------------------------------------------------------


@admin_required
def custom_field_list(request: HttpRequest) -> HttpResponse:
    labels = dict(business_object_types())
    definitions = [
        (definition, labels.get(definition.object_type, definition.object_type))
        for definition in CustomFieldDefinition.objects.order_by("object_type", "position", "id")
    ]
    return render(
        request,
        "users/admin/custom_field_list.html",
        {"section": "custom_fields", "definitions": definitions},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    definition = get_object_or_404(CustomFieldDefinition, pk=pk) if pk is not None else None
    form = CustomFieldForm(request.POST or None, definition=definition)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        common: dict[str, Any] = {
            "label": data["label"],
            "choices": form.choice_list(),
            "lookup_object_type": data["lookup_object_type"] or "",
            "required": data["required"],
            "sensitive": data["sensitive"],
            "help_text": data["help_text"],
            "position": data["position"] or 0,
            "actor": _actor(request),
            "ip_address": client_ip(request),
        }
        try:
            if definition is None:
                definition = services.custom_field_define(
                    object_type=data["object_type"],
                    key=data["key"],
                    field_type=data["field_type"],
                    **common,
                )
            else:
                services.custom_field_update(definition=definition, active=data["active"], **common)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"The field {definition.label} was saved.")
            return redirect("users:admin_custom_fields")
    heading = f"Custom field {definition}" if definition else "New custom field"
    return render(
        request,
        "users/admin/form.html",
        {"section": "custom_fields", "form": form, "heading": heading, "submit": "Save field"},
        status=400 if form.is_bound else 200,
    )


@admin_required
@require_POST
def custom_field_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(CustomFieldDefinition, pk=pk)
    services.custom_field_deactivate(definition=definition)
    messages.success(request, f"The field {definition.label} was deactivated; values are kept.")
    return redirect("users:admin_custom_fields")


# --- organisation ------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def organisation(request: HttpRequest) -> HttpResponse:
    row = org_settings()
    form = OrgSettingsForm(
        request.POST or None,
        initial={
            "name": row.name,
            "default_currency": row.default_currency,
            "time_zone": row.time_zone,
            "fiscal_year_start_month": row.fiscal_year_start_month,
            "require_two_factor_for_admins": row.require_two_factor_for_admins,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.org_settings_update(
                actor=_actor(request), ip_address=client_ip(request), **form.cleaned_data
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "The organisation settings were saved.")
            return redirect("users:admin_organisation")
    return render(
        request,
        "users/admin/form.html",
        {
            "section": "organisation",
            "form": form,
            "heading": "Organisation settings",
            "submit": "Save settings",
        },
        status=400 if form.is_bound else 200,
    )


# --- security log ------------------------------------------------------------------------

# Detail keys whose two-item list is a list of items, not a change from one value to another.
_LIST_KEYS = frozenset({"scopes", "added", "removed"})


def _readable(value: Any, key: str = "") -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        if len(value) == 2 and key not in _LIST_KEYS:
            return f"{_readable(value[0])} → {_readable(value[1])}"
        return ", ".join(_readable(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_readable(value[k], k)}" for k in sorted(value))
    return str(value)


def describe_detail(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """A security event's detail as (label, text) pairs people can read.

    What changed comes first, then the rest by name: PostgreSQL's jsonb keeps no key order,
    so the order must not depend on how the detail was written.
    """
    keys = sorted(detail, key=lambda key: (key != "change", key))
    return [(key.replace("_", " "), _readable(detail[key], key)) for key in keys]


@admin_required
def security_log(request: HttpRequest) -> HttpResponse:
    """Newest first; paged by id so a large log is never counted."""
    events = SecurityEventFilter(request.GET, queryset=SecurityEvent.objects.all())
    queryset = events.qs.order_by("-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(id__lt=int(before))
    rows = list(queryset[: SECURITY_LOG_PAGE_SIZE + 1])
    has_more = len(rows) > SECURITY_LOG_PAGE_SIZE
    rows = rows[:SECURITY_LOG_PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    if rows:
        query["before"] = str(rows[-1].pk)
    return render(
        request,
        "users/admin/security_log.html",
        {
            "section": "security_log",
            "filter": events,
            "events": [(row, describe_detail(row.detail)) for row in rows],
            "next_query": query.urlencode() if has_more else "",
        },
    )
