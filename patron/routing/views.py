"""The routing pages: the admin area (pools, members, queues, rules, the decision log), "My
availability" for everyone, and the Assignment card on every routed item's detail page."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST

from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.record_pages import DetailPanel, list_query, register_detail_panel
from patron.core.views import handles_domain_errors, is_htmx, keyset_page
from patron.routing import availability as hours
from patron.routing import selectors, services
from patron.routing.choices import DecisionKind, SkipReason
from patron.routing.conditions import OPERATORS, describe_conditions
from patron.routing.filters import (
    DECISION_SORTS,
    POOL_SORTS,
    DecisionFilter,
    PoolFilter,
)
from patron.routing.forms import (
    CapacityForm,
    MemberForm,
    PoolForm,
    QueueForm,
    RuleForm,
    SkillForm,
    condition_rows_from,
    skill_rows_from,
    value_text,
    week_rows,
    working_hours_from,
)
from patron.routing.models import AssignmentDecision, MemberSkill, PoolMember, RoutingQueue
from patron.routing.registry import routable, routables
from patron.users.admin_views import admin_required
from patron.users.models import User

PAGE_SIZE = 50
# Users and queues offered in the reassign form.
PICKER_LIMIT = 500
CSV_CHUNK = 2000
SKIP_LABELS = dict(SkipReason.choices)
KIND_LABELS = dict(DecisionKind.choices)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _flash(request: HttpRequest, error: ValidationFailed) -> None:
    details = [m for found in error.errors.values() for m in found]
    messages.error(request, " ".join([error.detail, *details]))


def _sort(request: HttpRequest, sorts: dict[str, tuple[str, ...]], default: str) -> str:
    sort = request.GET.get("sort", default)
    return sort if sort in sorts else default


# --- pools ---------------------------------------------------------------------------------------


@admin_required
def pool_list(request: HttpRequest) -> HttpResponse:
    filterset = PoolFilter(request.GET, queryset=selectors.pool_list())
    status = 200
    rows = filterset.qs if filterset.is_valid() else selectors.pool_list().none()
    if filterset.errors:
        status = 422
    sort = _sort(request, POOL_SORTS, "name")
    page = keyset_page(rows, POOL_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    return render(
        request,
        "routing/pool_list.html",
        {
            "section": "pools",
            "filterset": filterset,
            "page": page,
            "sort": sort,
            "query": list_query(request.GET),
        },
        status=status,
    )


def _pool_initial(pool: Any) -> dict[str, Any]:
    if pool is None:
        return {"is_active": True, "strategy": "round_robin"}
    return {
        "name": pool.name,
        "object_type": pool.object_type,
        "strategy": pool.strategy,
        "queue_id": pool.queue_id,
        "relax_skills_after_minutes": pool.relax_skills_after_minutes,
        "description": pool.description,
        "is_active": pool.is_active,
    }


@admin_required
@require_http_methods(["GET", "POST"])
@handles_domain_errors
def pool_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    pool = selectors.pool_get(pk=pk) if pk else None
    form = PoolForm(request.POST or None, initial=_pool_initial(pool))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        queue = data.pop("queue_id")
        try:
            saved = services.pool_save(
                user=_user(request), pool=pool, queue_id=queue.pk if queue else None, **data
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the pool “{saved.name}”.")
            return redirect("routing:pool_detail", pk=saved.pk)
    return render(
        request,
        "routing/form.html",
        {
            "section": "pools",
            "form": form,
            "heading": f"Pool “{pool.name}”" if pool else "New pool",
            "submit": "Save pool",
            "back": reverse("routing:pool_detail", args=[pool.pk])
            if pool
            else reverse("routing:pool_list"),
        },
        status=422 if form.is_bound else 200,
    )


def _member_rows(pool: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for member in selectors.pool_members(pool=pool):
        state = None
        if member.user is not None:
            state = getattr(member.user, "routing_availability", None)
        rows.append(
            {
                "member": member,
                "name": str(member.user or member.queue),
                "assigned_today": services.assigned_today(member, now),
                "away": bool(
                    state
                    and hours.is_away(
                        is_away_flag=state.is_away, away_until=state.away_until, at=now
                    )
                ),
                "capacity": CapacityForm(
                    initial={
                        "weight": member.weight,
                        "max_open_items": member.max_open_items,
                        "max_items_per_day": member.max_items_per_day,
                    },
                    prefix=f"m{member.pk}",
                ),
            }
        )
    return rows


@admin_required
@handles_domain_errors
def pool_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pool = selectors.pool_get(pk=pk)
    context = {
        "section": "pools",
        "pool": pool,
        "members": _member_rows(pool),
        "member_form": MemberForm(),
        "skill_form": SkillForm(),
        "rules": list(pool.rules.order_by("position", "id")),
    }
    if is_htmx(request) and request.GET.get("part") == "members":
        return render(request, "routing/partials/members.html", context)
    return render(request, "routing/pool_detail.html", context)


@admin_required
@require_POST
@handles_domain_errors
def pool_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pool = selectors.pool_get(pk=pk)
    try:
        services.pool_delete(user=_user(request), pool=pool)
    except ValidationFailed as error:
        _flash(request, error)
        return redirect("routing:pool_detail", pk=pk)
    messages.success(request, f"Deleted the pool “{pool.name}”.")
    return redirect("routing:pool_list")


@admin_required
@require_POST
@handles_domain_errors
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    pool = selectors.pool_get(pk=pk)
    form = MemberForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        member_user, member_queue = data.pop("member_user_id"), data.pop("member_queue_id")
        try:
            services.member_add(
                user=_user(request),
                pool=pool,
                member_user_id=member_user.pk if member_user else None,
                member_queue_id=member_queue.pk if member_queue else None,
                **data,
            )
        except ValidationFailed as error:
            _flash(request, error)
        else:
            messages.success(request, "Added the member.")
    else:
        messages.error(request, "The member was not added: " + form.errors.as_text())
    return redirect("routing:pool_detail", pk=pk)


def _members_or_redirect(request: HttpRequest, pool_pk: int) -> HttpResponse:
    if is_htmx(request):
        pool = selectors.pool_get(pk=pool_pk)
        return render(
            request,
            "routing/partials/members.html",
            {"pool": pool, "members": _member_rows(pool), "skill_form": SkillForm()},
        )
    return redirect("routing:pool_detail", pk=pool_pk)


@admin_required
@require_POST
@handles_domain_errors
def member_pause(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get(pk=pk)
    paused = request.POST.get("paused") == "true"
    services.member_set_paused(user=_user(request), member=member, paused=paused)
    return _members_or_redirect(request, member.pool_id)


@admin_required
@require_POST
@handles_domain_errors
def member_capacity(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get(pk=pk)
    form = CapacityForm(request.POST, prefix=f"m{member.pk}")
    if form.is_valid():
        try:
            services.member_update(user=_user(request), member=member, **form.cleaned_data)
        except ValidationFailed as error:
            _flash(request, error)
    else:
        messages.error(request, "Not saved: " + form.errors.as_text())
    return _members_or_redirect(request, member.pool_id)


@admin_required
@require_POST
@handles_domain_errors
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get(pk=pk)
    services.member_remove(user=_user(request), member=member)
    messages.success(request, "Removed the member from the pool.")
    return redirect("routing:pool_detail", pk=member.pool_id)


@admin_required
@require_POST
@handles_domain_errors
def skill_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get(pk=pk)
    form = SkillForm(request.POST)
    if form.is_valid():
        try:
            services.skill_set(user=_user(request), member=member, **form.cleaned_data)
        except ValidationFailed as error:
            _flash(request, error)
    else:
        messages.error(request, "The skill was not saved: " + form.errors.as_text())
    return _members_or_redirect(request, member.pool_id)


@admin_required
@require_POST
@handles_domain_errors
def skill_remove(request: HttpRequest, pk: int) -> HttpResponse:
    skill = MemberSkill.objects.select_related("member").filter(pk=pk).first()
    if skill is None:
        raise RecordNotFound("No such skill.")
    services.skill_remove(user=_user(request), skill=skill)
    return _members_or_redirect(request, skill.member.pool_id)


# --- queues --------------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
@handles_domain_errors
def queue_list(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    queue = selectors.queue_get(pk=pk) if pk else None
    initial: dict[str, Any] = {"is_active": True}
    if queue is not None:
        initial = {
            "name": queue.name,
            "description": queue.description,
            "is_active": queue.is_active,
            "member_ids": [u.pk for u in queue.members.all()],
        }
    form = QueueForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = dict(form.cleaned_data)
            members = data.pop("member_ids")
            try:
                saved = services.queue_save(
                    user=_user(request),
                    queue=queue,
                    member_ids=[u.pk for u in members],
                    **data,
                )
            except ValidationFailed as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Saved the queue “{saved.name}”.")
                return redirect("routing:queue_list")
    return render(
        request,
        "routing/queue_list.html",
        {"section": "queues", "queues": list(selectors.queue_list()), "form": form, "queue": queue},
        status=status,
    )


@admin_required
@require_POST
@handles_domain_errors
def queue_delete(request: HttpRequest, pk: int) -> HttpResponse:
    queue = selectors.queue_get(pk=pk)
    try:
        services.queue_delete(user=_user(request), queue=queue)
    except ValidationFailed as error:
        _flash(request, error)
    else:
        messages.success(request, f"Deleted the queue “{queue.name}”.")
    return redirect("routing:queue_list")


# --- rules ---------------------------------------------------------------------------------------


@admin_required
def rule_list(request: HttpRequest) -> HttpResponse:
    groups = []
    rules = list(selectors.rule_list())
    for spec in routables():
        labels = dict(spec.condition_fields)
        of_type = [r for r in rules if r.object_type == spec.object_type]
        groups.append(
            {
                "spec": spec,
                "rules": [
                    {"rule": r, "summary": describe_conditions(r.conditions or {}, labels)}
                    for r in of_type
                ],
            }
        )
    return render(request, "routing/rule_list.html", {"section": "rules", "groups": groups})


def _rule_rows(data: Any, rule: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if data is not None:
        conditions = condition_rows_from(data)
        skills = skill_rows_from(data)
    elif rule is not None:
        conditions = list((rule.conditions or {}).get("conditions") or [])
        skills = list(rule.required_skills or [])
    else:
        conditions, skills = [], []
    shown = [
        {"field": c.get("field", ""), "op": c.get("op", ""), "value": value_text(c.get("value"))}
        for c in conditions
    ]
    shown += [{"field": "", "op": "eq", "value": ""}] * 2
    skill_rows = [
        {"kind": s.get("kind", ""), "value": s.get("value", ""), "level": s.get("min_level", 3)}
        for s in skills
    ]
    skill_rows += [{"kind": "", "value": "", "level": 3}]
    return shown, skill_rows


@admin_required
@require_http_methods(["GET", "POST"])
@handles_domain_errors
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = selectors.rule_get(pk=pk) if pk else None
    initial: dict[str, Any] = {"is_active": True, "match": "all"}
    if rule is not None:
        initial = {
            "name": rule.name,
            "object_type": rule.object_type,
            "pool_id": rule.pool_id,
            "strategy": rule.strategy,
            "match": (rule.conditions or {}).get("match", "all"),
            "is_active": rule.is_active,
        }
    form = RuleForm(request.POST or None, initial=initial)
    condition_errors: dict[str, list[str]] = {}
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        pool = data.pop("pool_id")
        match = data.pop("match")
        try:
            saved = services.rule_save(
                user=_user(request),
                rule=rule,
                pool_id=pool.pk,
                conditions={"match": match, "conditions": condition_rows_from(request.POST)},
                required_skills=skill_rows_from(request.POST),
                **data,
            )
        except ValidationFailed as error:
            condition_errors = error.errors
            add_service_errors(form, error)
        else:
            messages.success(request, f"Saved the rule “{saved.name}”.")
            return redirect("routing:rule_list")
    rows, skill_rows = _rule_rows(request.POST if request.method == "POST" else None, rule)
    fields = {spec.object_type: list(spec.condition_fields) for spec in routables()}
    chosen_type = (
        form.data.get("object_type") if form.is_bound else (rule.object_type if rule else "")
    ) or next(iter(fields), "")
    return render(
        request,
        "routing/rule_form.html",
        {
            "section": "rules",
            "form": form,
            "rule": rule,
            "rows": rows,
            "skill_rows": skill_rows,
            "fields": fields.get(chosen_type, []),
            "operators": [(key, label) for key, (label, _kind) in OPERATORS.items()],
            "skill_kinds": SkillForm.base_fields["kind"].choices,  # type: ignore[attr-defined]
            "errors": condition_errors,
        },
        status=422 if form.is_bound else 200,
    )


@admin_required
@require_POST
@handles_domain_errors
def rule_shift(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.rule_get(pk=pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    services.rule_shift(user=_user(request), rule=rule, offset=offset)
    return redirect("routing:rule_list")


@admin_required
@require_POST
@handles_domain_errors
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.rule_get(pk=pk)
    services.rule_delete(user=_user(request), rule=rule)
    messages.success(request, f"Deleted the rule “{rule.name}”.")
    return redirect("routing:rule_list")


# --- the decision log ----------------------------------------------------------------------------


def _decision_row(decision: AssignmentDecision) -> dict[str, Any]:
    considered = decision.considered or []
    return {
        "decision": decision,
        "object_type": f"{decision.content_type.app_label}.{decision.content_type.model}",
        "kind": KIND_LABELS.get(decision.kind, decision.kind),
        "to": decision.assigned_user or decision.assigned_queue,
        "considered": [
            {**entry, "reason_label": SKIP_LABELS.get(entry.get("reason", ""), "")}
            for entry in considered
        ],
        "skipped": sum(1 for e in considered if e.get("outcome") == "skipped"),
    }


@admin_required
def decision_log(request: HttpRequest) -> HttpResponse:
    filterset = DecisionFilter(request.GET, queryset=selectors.decision_log())
    rows = filterset.qs if filterset.is_valid() else selectors.decision_log().none()
    sort = _sort(request, DECISION_SORTS, "-created")
    page = keyset_page(rows, DECISION_SORTS[sort], request.GET.get("cursor", ""), PAGE_SIZE)
    return render(
        request,
        "routing/decision_log.html",
        {
            "section": "log",
            "filterset": filterset,
            "page": page,
            "rows": [_decision_row(d) for d in page.rows],
            "sort": sort,
            "query": list_query(request.GET),
        },
        status=422 if filterset.errors else 200,
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _decision_csv(rows: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [
            "decision_id",
            "created_at",
            "object_type",
            "object_id",
            "kind",
            "pool",
            "rule",
            "strategy",
            "assigned_user",
            "assigned_queue",
            "previous_user",
            "actor",
            "reason",
            "considered",
        ]
    )
    for d in rows.iterator(chunk_size=CSV_CHUNK):
        considered = "; ".join(
            f"{e.get('name')}: {e.get('outcome')}"
            + (
                f" ({SKIP_LABELS.get(e.get('reason', ''), e.get('reason'))})"
                if e.get("reason")
                else ""
            )
            for e in d.considered or []
        )
        yield writer.writerow(
            [
                d.pk,
                d.created_at.isoformat(),
                f"{d.content_type.app_label}.{d.content_type.model}",
                d.object_id,
                d.kind,
                d.pool.name if d.pool else "",
                d.rule.name if d.rule else "",
                d.strategy,
                str(d.assigned_user or ""),
                str(d.assigned_queue or ""),
                str(d.previous_user or ""),
                str(d.actor or ""),
                d.reason,
                considered,
            ]
        )


@admin_required
def decision_log_csv(request: HttpRequest) -> HttpResponse:
    filterset = DecisionFilter(request.GET, queryset=selectors.decision_log())
    if not filterset.is_valid():
        return HttpResponse(
            "Some filters are not valid: " + filterset.errors.as_text(),
            status=422,
            content_type="text/plain; charset=utf-8",
        )
    sort = _sort(request, DECISION_SORTS, "-created")
    rows = filterset.qs.order_by(*DECISION_SORTS[sort])
    response = StreamingHttpResponse(_decision_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="routing-decisions.csv"'
    # admin_required is typed for HttpResponse views; a streamed download is one too.
    return cast(HttpResponse, response)


# --- my availability -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def my_availability(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    errors: dict[str, list[str]] = {}
    status = 200
    posted_hours = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "away":
                until_text = request.POST.get("away_until", "").strip()
                until = None
                if until_text:
                    until = parse_datetime(until_text)
                    if until is None:
                        raise ValidationFailed(
                            "The end is not a date and time.",
                            errors={"away_until": ["Use the date and time picker."]},
                        )
                    if timezone.is_naive(until):
                        until = timezone.make_aware(until, hours.zone(user.time_zone))
                services.availability_set_away(actor=user, user=user, away=True, away_until=until)
                messages.success(request, "You are away: no new items are routed to you.")
            elif action == "back":
                services.availability_set_away(actor=user, user=user, away=False)
                messages.success(request, "Welcome back: items are routed to you again.")
            else:
                posted_hours = working_hours_from(request.POST)
                services.availability_set_working_hours(
                    actor=user, user=user, working_hours=posted_hours
                )
                messages.success(request, "Saved your working hours.")
            return redirect("routing:my_availability")
        except ValidationFailed as error:
            errors, status = error.errors, 422
    availability = selectors.availability_of(user)
    now = timezone.now()
    away = bool(
        availability
        and hours.is_away(
            is_away_flag=availability.is_away, away_until=availability.away_until, at=now
        )
    )
    week = (
        posted_hours
        if posted_hours is not None
        else ((availability.working_hours if availability else {}) or {})
    )
    return render(
        request,
        "routing/my_availability.html",
        {
            "availability": availability,
            "away": away,
            "week": week_rows(week),
            "errors": errors,
            "memberships": PoolMember.objects.filter(user=user).select_related("pool"),
        },
        status=status,
    )


# --- the Assignment card on routed items' detail pages --------------------------------------------


def _routable_type(record: Any) -> str | None:
    object_type: str = record._meta.label_lower
    try:
        routable(object_type)
    except LookupError:
        return None
    return object_type


def assignment_panel_context(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    """The card's context, or None for types the engine does not route."""
    object_type = _routable_type(record)
    if object_type is None:
        return None
    user = _user(request)
    decisions = list(selectors.decisions_for(item=record)[:20])
    return {
        "object_type": object_type,
        "record": record,
        "routed": selectors.routed_item_for(item=record),
        "decisions": [_decision_row(d) for d in decisions],
        "may_reassign": services.may_reassign(user, record),
        "users": User.objects.filter(is_active=True)
        .order_by("full_name", "email")
        .only("id", "full_name", "email"),
        "queues": RoutingQueue.objects.filter(is_active=True).only("id", "name")[:PICKER_LIMIT],
        "errors": {},
        "reason": "",
    }


@login_required
@require_POST
@handles_domain_errors
def item_reassign(request: HttpRequest, object_type: str, pk: int) -> HttpResponse:
    user = _user(request)
    try:
        spec = routable(object_type)
    except LookupError:
        raise RecordNotFound("No such item type.") from None
    item: Model | None = selectors.visible_item(
        user=user, model=spec.model, pk=pk, action=Action.UPDATE
    )
    if item is None:
        raise RecordNotFound("No such item, or you may not change it.")
    target = request.POST.get("target", "")
    reason = request.POST.get("reason", "")
    errors: dict[str, list[str]] = {}
    kind, _sep, target_id = target.partition(":")
    target_user = (
        User.objects.filter(pk=target_id).first()
        if kind == "user" and target_id.isdigit()
        else None
    )
    target_queue = (
        RoutingQueue.objects.filter(pk=target_id).first()
        if kind == "queue" and target_id.isdigit()
        else None
    )
    try:
        if target_user is None and target_queue is None:
            raise ValidationFailed(
                "Choose who gets it.", errors={"target": ["Choose a user or a queue."]}
            )
        services.reassign_item(
            item=item, actor=user, reason=reason, user=target_user, queue=target_queue
        )
    except ValidationFailed as error:
        errors = error.errors
    except PermissionDenied:
        raise
    context = assignment_panel_context(request, item) or {}
    context.update({"errors": errors, "reason": reason if errors else ""})
    if is_htmx(request):
        return render(
            request,
            "routing/partials/assignment_panel.html",
            {"panel": context, "record": item},
            status=422 if errors else 200,
        )
    if errors:
        messages.error(request, " ".join(m for found in errors.values() for m in found))
    else:
        messages.success(request, "Reassigned.")
    return redirect(request.POST.get("next") or "/")


def register_routing_ui() -> None:
    """Navigation and the Assignment card (from AppConfig.ready)."""
    register_nav_item(
        NavItem(
            area="Admin", label="Routing", url_name="routing:pool_list", admin_only=True, order=40
        )
    )
    register_nav_item(
        NavItem(
            area="Workspace", label="My availability", url_name="routing:my_availability", order=50
        )
    )
    register_detail_panel(
        DetailPanel(
            key="routing.assignment",
            template="routing/partials/assignment_panel.html",
            context=assignment_panel_context,
            column="side",
            order=30,
        )
    )
