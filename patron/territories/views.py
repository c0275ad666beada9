"""Territory pages: models, a model's territory tree, the territory form with rule rows,
members, quotas and records of a territory, the comparison, activation and batch runs.

Every signed-in user reads the models and territories; administrators change them (the
services check; the forms and the comparison are administrator pages).
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.views import handles_domain_errors, render_error
from patron.core.visibility import require_admin
from patron.territories import compare, selectors, services
from patron.territories.api import assignment_rows, compare_csv_rows, visible_assignments
from patron.territories.choices import ModelState
from patron.territories.forms import (
    AssignForm,
    CompareFilterForm,
    CopyForm,
    MemberForm,
    ModelForm,
    QuotaForm,
    RuleFormSet,
    TerritoryForm,
)
from patron.territories.models import Territory, TerritoryMember, TerritoryQuota, TerritoryRule
from patron.users.models import User

ASSIGNMENT_PAGE = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _admin(request: HttpRequest) -> User:
    user = _user(request)
    require_admin(user, services.ADMIN_ONLY)
    return user


def _flash(request: HttpRequest, error: ValidationFailed) -> None:
    details = [message for problems in error.errors.values() for message in problems]
    messages.error(request, " ".join([error.detail, *details]))


# --- models -----------------------------------------------------------------------------------


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def model_list(request: HttpRequest) -> HttpResponse:
    form = ModelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        user = _admin(request)
        if form.is_valid():
            try:
                model = services.model_create(user=user, **form.cleaned_data)
            except ValidationFailed as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Created the planning model “{model.name}”.")
                return redirect("territories:model", pk=model.pk)
        status = 422
    state = request.GET.get("state", "")
    models = selectors.models_list()
    if state in ModelState.values:
        models = models.filter(state=state)
    return render(
        request,
        "territories/model_list.html",
        {
            "models": models,
            "form": form,
            "states": ModelState.choices,
            "state": state,
            "is_admin": _user(request).is_admin,
        },
        status=status,
    )


@login_required
@handles_domain_errors
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(pk)
    rules: dict[int, list[TerritoryRule]] = {}
    for rule in TerritoryRule.objects.filter(territory__model=model):
        rules.setdefault(rule.territory_id, []).append(rule)
    tree = selectors.territory_tree(model)
    return render(
        request,
        "territories/model_detail.html",
        {
            "model": model,
            "tree": [(territory, rules.get(territory.pk, [])) for territory in tree],
            "is_admin": _user(request).is_admin,
            "copy_form": CopyForm(initial={"name": f"Copy of {model.name}"}),
            "editable": model.state != ModelState.ARCHIVED,
        },
    )


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    model = selectors.model_get(pk)
    form = ModelForm(
        request.POST or None, initial={"name": model.name, "description": model.description}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.model_update(user=user, model=model, **form.cleaned_data)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("territories:model", pk=model.pk)
    return render(
        request,
        "territories/form.html",
        {
            "form": form,
            "heading": f"Territory model “{model.name}”",
            "submit": "Save",
            "back": reverse("territories:model", args=[model.pk]),
        },
        status=422 if form.is_bound else 200,
    )


@login_required
@require_POST
@handles_domain_errors
def model_copy(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    source = selectors.model_get(pk)
    form = CopyForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    try:
        copy = services.model_copy(user=user, source=source, name=name)
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("territories:model", pk=source.pk)
    messages.success(
        request, f"Copied into the planning model “{copy.name}”: edit it, then compare."
    )
    return redirect("territories:model", pk=copy.pk)


@login_required
@require_POST
@handles_domain_errors
def model_activate(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    model = selectors.model_get(pk)
    try:
        job = services.model_activate(user=user, model=model)
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("territories:model", pk=model.pk)
    messages.success(
        request, f"“{model.name}” is the active model; the records are being reassigned."
    )
    return redirect("ui:job_detail", pk=job.pk)


@login_required
@require_POST
@handles_domain_errors
def model_archive(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    model = selectors.model_get(pk)
    try:
        services.model_archive(user=user, model=model)
    except ValidationFailed as error:
        _flash(request, error)
    else:
        messages.success(request, f"Archived “{model.name}”.")
    return redirect("territories:model", pk=model.pk)


@login_required
@require_POST
@handles_domain_errors
def model_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    model = selectors.model_get(pk)
    try:
        services.model_delete(user=user, model=model)
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("territories:model", pk=model.pk)
    messages.success(request, f"Deleted the planning model “{model.name}”.")
    return redirect("territories:models")


@login_required
@require_POST
@handles_domain_errors
def model_run(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    model = selectors.model_get(pk)
    try:
        job = services.assignment_run_start(user=user, model=model)
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("territories:model", pk=model.pk)
    return redirect("ui:job_detail", pk=job.pk)


# --- the comparison ---------------------------------------------------------------------------


def _compare_context(request: HttpRequest, pk: int) -> tuple[Any, ...]:
    _admin(request)
    planning = selectors.model_get(pk)
    active = services.active_model()
    territories = list(
        Territory.objects.filter(model_id__in=[planning.pk, active.pk if active else 0])
    )
    users = list(
        User.objects.filter(
            territory_memberships__territory__model_id__in=[planning.pk, active.pk if active else 0]
        )
        .distinct()
        .order_by("full_name", "email")
    )
    form = CompareFilterForm(
        request.GET,
        active=[t for t in territories if t.model_id != planning.pk],
        planning=[t for t in territories if t.model_id == planning.pk],
        users=users,
    )
    data = form.cleaned_data if form.is_valid() else {}
    filters = compare.CompareFilters(
        object_type=data.get("object_type") or "",
        from_territory=data.get("from_territory"),
        to_territory=data.get("to_territory"),
        user=data.get("user"),
    )
    return planning, filters, form, users


@login_required
@handles_domain_errors
def model_compare(request: HttpRequest, pk: int) -> HttpResponse:
    planning, filters, form, users = _compare_context(request, pk)
    try:
        result = compare.compare(planning=planning, filters=filters)
        moves, after = compare.moves_page(
            result, filters=filters, after=compare.parse_cursor(request.GET.get("cursor", ""))
        )
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("territories:model", pk=planning.pk)
    names = {user.pk: str(user) for user in users}
    query = {k: v for k, v in request.GET.items() if k != "cursor" and v}
    return render(
        request,
        "territories/compare.html",
        {
            "planning": planning,
            "result": result,
            "form": form,
            "moves": [
                {
                    "move": move,
                    "gained": [names.get(pk, f"#{pk}") for pk in move.gained_by],
                    "lost": [names.get(pk, f"#{pk}") for pk in move.lost_by],
                }
                for move in moves
            ],
            "user_rows": [(names.get(pk, f"#{pk}"), g, lo) for pk, g, lo in result.users],
            "next_query": urlencode({**query, "cursor": f"{after[0]}:{after[1]}"}) if after else "",
            "query": urlencode(query),
        },
    )


@login_required
def model_compare_csv(request: HttpRequest, pk: int) -> HttpResponseBase:
    try:
        planning, filters, _form, _users = _compare_context(request, pk)
        result = compare.compare(planning=planning, filters=filters)
    except (PermissionDenied, RecordNotFound) as error:
        return render_error(request, error.status, error.detail)
    response = StreamingHttpResponse(compare_csv_rows(result, filters), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="territory-compare-{pk}.csv"'
    return response


# --- territories ------------------------------------------------------------------------------


def _rules_initial(territory: Territory | None) -> list[dict[str, Any]]:
    if territory is None:
        return []
    return [
        {
            "field": rule.field,
            "operator": rule.operator,
            "values": ", ".join(str(v) for v in rule.values),
            "low": rule.low,
            "high": rule.high,
        }
        for rule in territory.rules.all()
    ]


def _rule_errors(formset: Any, error: ValidationFailed) -> list[str]:
    """Put ``rules.<row>.<field>`` errors on the row's field; others are returned."""
    rest = []
    for key, problems in error.errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "rules" and parts[1].isdigit():
            row = formset.forms[int(parts[1])]
            for problem in problems:
                row.add_error(parts[2] if parts[2] in row.fields else None, problem)
        else:
            rest.extend(problems)
    return rest


@login_required
@handles_domain_errors
@require_http_methods(["GET", "POST"])
def territory_edit(
    request: HttpRequest, model_pk: int | None = None, pk: int | None = None
) -> HttpResponse:
    from django.db import transaction

    user = _admin(request)
    territory = selectors.territory_get(pk) if pk else None
    model = territory.model if territory else selectors.model_get(model_pk)
    initial = (
        {
            "name": territory.name,
            "parent": territory.parent_id,
            "priority": territory.priority,
            "description": territory.description,
        }
        if territory
        else {"priority": 0, "parent": request.GET.get("parent") or None}
    )
    form = TerritoryForm(request.POST or None, initial=initial, model=model, territory=territory)
    formset = RuleFormSet(request.POST or None, prefix="rules", initial=_rules_initial(territory))
    problems: list[str] = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        parent = Territory.objects.filter(pk=data["parent"]).first() if data["parent"] else None
        try:
            with transaction.atomic():
                saved = services.territory_save(
                    user=user,
                    model=model,
                    territory=territory,
                    name=data["name"],
                    parent=parent,
                    description=data["description"],
                    priority=data["priority"],
                )
                services.territory_set_rules(
                    user=user,
                    territory=saved,
                    rules=[row.cleaned_data for row in formset.forms if row.cleaned_data],
                )
        except ValidationFailed as error:
            if any(key.startswith("rules.") for key in error.errors):
                problems = _rule_errors(formset, error)
            else:
                rules_errors = error.errors.pop("rules", [])
                add_service_errors(form, error)
                problems = rules_errors
        else:
            messages.success(request, f"Saved the territory “{saved.name}”.")
            return redirect("territories:territory", pk=saved.pk)
    return render(
        request,
        "territories/territory_form.html",
        {
            "form": form,
            "formset": formset,
            "problems": problems,
            "model": model,
            "territory": territory,
        },
        status=422 if request.method == "POST" else 200,
    )


@login_required
@require_POST
@handles_domain_errors
def territory_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    territory = selectors.territory_get(pk)
    try:
        services.territory_delete(user=user, territory=territory)
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("territories:territory", pk=territory.pk)
    messages.success(request, f"Deleted the territory “{territory.name}”.")
    return redirect("territories:model", pk=territory.model_id)


def _render_territory(
    request: HttpRequest,
    territory: Territory,
    *,
    member_form: MemberForm | None = None,
    quota_form: QuotaForm | None = None,
    assign_form: AssignForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    cursor = request.GET.get("after", "")
    rows = visible_assignments(user, territory)
    if cursor.isdigit():
        rows = rows.filter(pk__gt=int(cursor))
    page = list(rows.order_by("pk")[: ASSIGNMENT_PAGE + 1])
    more = len(page) > ASSIGNMENT_PAGE
    page = page[:ASSIGNMENT_PAGE]
    ancestors = [int(part) for part in territory.path.split(".")[:-2] if part]
    return render(
        request,
        "territories/territory_detail.html",
        {
            "territory": territory,
            "model": territory.model,
            "ancestors": Territory.objects.filter(pk__in=ancestors).order_by("depth"),
            "children": territory.children.order_by("name"),
            "rules": territory.rules.all(),
            "members": territory.members.select_related("user"),
            "quotas": territory.quotas.all(),
            "assignments": assignment_rows(page),
            "next_after": page[-1].pk if more and page else None,
            "is_admin": user.is_admin,
            "editable": user.is_admin and territory.model.state != ModelState.ARCHIVED,
            "member_form": member_form or MemberForm(),
            "quota_form": quota_form or QuotaForm(),
            "assign_form": assign_form or AssignForm(),
        },
        status=status,
    )


@login_required
@handles_domain_errors
def territory_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_territory(request, selectors.territory_get(pk))


@login_required
@require_POST
@handles_domain_errors
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    territory = selectors.territory_get(pk)
    form = MemberForm(request.POST)
    if form.is_valid():
        member = User.objects.filter(pk=form.cleaned_data["user"]).first()
        try:
            services.member_set(
                user=user, territory=territory, member=member, role=form.cleaned_data["role"]
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{member} is a member of {territory.name}.")
            return redirect(reverse("territories:territory", args=[pk]) + "#members")
    return _render_territory(request, territory, member_form=form, status=422)


@login_required
@require_POST
@handles_domain_errors
def member_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = _admin(request)
    member = TerritoryMember.objects.filter(pk=member_pk, territory_id=pk).first()
    if member is not None:
        services.member_remove(user=user, member=member)
        messages.success(request, f"Removed {member.user} from the territory.")
    return redirect(reverse("territories:territory", args=[pk]) + "#members")


@login_required
@require_POST
@handles_domain_errors
def quota_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    territory = selectors.territory_get(pk)
    form = QuotaForm(request.POST)
    if form.is_valid():
        try:
            services.quota_set(user=user, territory=territory, **form.cleaned_data)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Quota saved.")
            return redirect(reverse("territories:territory", args=[pk]) + "#quotas")
    return _render_territory(request, territory, quota_form=form, status=422)


@login_required
@require_POST
@handles_domain_errors
def quota_remove(request: HttpRequest, pk: int, quota_pk: int) -> HttpResponse:
    user = _admin(request)
    quota = TerritoryQuota.objects.filter(pk=quota_pk, territory_id=pk).first()
    if quota is not None:
        services.quota_delete(user=user, quota=quota)
        messages.success(request, "Quota deleted.")
    return redirect(reverse("territories:territory", args=[pk]) + "#quotas")


@login_required
@require_POST
@handles_domain_errors
def assignment_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    territory = selectors.territory_get(pk)
    form = AssignForm(request.POST)
    if form.is_valid():
        try:
            obj = services.record_for(
                form.cleaned_data["object_type"], form.cleaned_data["object_id"]
            )
            services.assignment_set_manual(user=user, territory=territory, obj=obj)
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{obj} is in {territory.name} (kept when rules run).")
            return redirect(reverse("territories:territory", args=[pk]) + "#records")
    return _render_territory(request, territory, assign_form=form, status=422)


@login_required
@require_POST
@handles_domain_errors
def assignment_clear(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    territory = selectors.territory_get(pk)
    try:
        obj = services.record_for(
            request.POST.get("object_type", ""), request.POST.get("object_id", "")
        )
        services.assignment_clear_manual(user=user, model=territory.model, obj=obj)
    except ValidationFailed as error:
        _flash(request, error)
    else:
        messages.success(request, f"{obj} follows the rules again.")
    return redirect(reverse("territories:territory", args=[pk]) + "#records")


urlpatterns = [
    path("territories/", model_list, name="models"),
    path("territories/models/<int:pk>/", model_detail, name="model"),
    path("territories/models/<int:pk>/edit/", model_edit, name="model_edit"),
    path("territories/models/<int:pk>/copy/", model_copy, name="model_copy"),
    path("territories/models/<int:pk>/activate/", model_activate, name="model_activate"),
    path("territories/models/<int:pk>/archive/", model_archive, name="model_archive"),
    path("territories/models/<int:pk>/delete/", model_delete, name="model_delete"),
    path("territories/models/<int:pk>/run/", model_run, name="model_run"),
    path("territories/models/<int:pk>/compare/", model_compare, name="model_compare"),
    path("territories/models/<int:pk>/compare.csv", model_compare_csv, name="model_compare_csv"),
    path("territories/models/<int:model_pk>/new/", territory_edit, name="territory_create"),
    path("territories/<int:pk>/", territory_detail, name="territory"),
    path("territories/<int:pk>/edit/", territory_edit, name="territory_edit"),
    path("territories/<int:pk>/delete/", territory_delete, name="territory_delete"),
    path("territories/<int:pk>/members/", member_add, name="member_add"),
    path(
        "territories/<int:pk>/members/<int:member_pk>/remove/", member_remove, name="member_remove"
    ),
    path("territories/<int:pk>/quotas/", quota_add, name="quota_add"),
    path("territories/<int:pk>/quotas/<int:quota_pk>/remove/", quota_remove, name="quota_remove"),
    path("territories/<int:pk>/assignments/", assignment_add, name="assignment_add"),
    path("territories/<int:pk>/assignments/clear/", assignment_clear, name="assignment_clear"),
]
