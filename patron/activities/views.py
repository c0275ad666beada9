"""Activity pages: the shared record pages (core.record_pages) for tasks, appointments, calls,
notes and logged emails, "My tasks", "Mark done", and the quick-add card that every other
record's page shows.

Linked records are named through ``core.record_pages.record_detail_url`` and the selectors,
never by importing the apps that own them.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from patron.activities import selectors, services
from patron.activities.choices import ActivityKind, TaskStatus
from patron.activities.filters import ACTIVITY_SORTS, ActivityFilter
from patron.activities.forms import QUICK_KINDS, ActivityBulkEditForm, ActivityForm, QuickAddForm
from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.activities.reminders import reminders_set
from patron.core.choices import Action
from patron.core.context_processors import NavItem, register_nav_item
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.exports import ExportSpec, owner_email, register_export, team_name
from patron.core.models import BusinessRecord
from patron.core.record_pages import (
    Column,
    DetailPanel,
    ObjectUI,
    RecordPages,
    ToolbarLink,
    record_detail_url,
    register_detail_panel,
)
from patron.core.views import Recyclable, handles_domain_errors, is_htmx, register_recyclable
from patron.users.models import User

MY_TASKS_LIMIT = 100
OPEN_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
# The fields each kind shows on its page, in reading order.
KIND_DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    ActivityKind.TASK: ("due_at", "priority", "status", "assignee", "completed_at"),
    ActivityKind.APPOINTMENT: ("starts_at", "ends_at", "all_day", "location"),
    ActivityKind.CALL: ("direction", "phone_number", "duration_seconds", "outcome"),
    ActivityKind.NOTE: (),
    ActivityKind.EMAIL: ("email_from", "email_to", "sent_at"),
}
DETAIL_LABELS = {
    "due_at": "Due",
    "priority": "Priority",
    "status": "Status",
    "assignee": "Assigned to",
    "completed_at": "Completed",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "all_day": "All day",
    "location": "Location",
    "direction": "Direction",
    "phone_number": "Phone number",
    "duration_seconds": "Duration",
    "outcome": "Outcome",
    "email_from": "From",
    "email_to": "To",
    "sent_at": "Sent",
}


def _user(request: HttpRequest) -> User:
    """The signed-in user (every view here is behind ``login_required``)."""
    user = request.user
    assert isinstance(user, User)
    return user


def _may_create(user: User) -> bool:
    return user.access_profile().may(Activity.object_type(), Action.CREATE)


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def parse_target(value: str) -> tuple[str, int] | None:
    """``("contacts.account", 12)`` from ``"contacts.account:12"``, or None if malformed."""
    object_type, _, pk = (value or "").rpartition(":")
    if not object_type or not pk.isdigit() or len(pk) > 18:
        return None
    return object_type, int(pk)


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


# ---------- linked records ----------


def _record_entry(
    content_type: ContentType, object_id: int, names: dict[tuple[int, int], str]
) -> dict[str, Any]:
    """How a linked record or attendee record shows: its name and page, or only its kind
    when the user may not see it."""
    model = content_type.model_class()
    type_label = str(model._meta.verbose_name).capitalize() if model else content_type.model
    name = names.get((content_type.pk, object_id))
    object_type = f"{content_type.app_label}.{content_type.model}"
    return {
        "type_label": type_label,
        "name": name,
        "url": record_detail_url(object_type, object_id) if name is not None else None,
    }


def link_entries(user: User, activities: list[Activity]) -> dict[int, list[dict[str, Any]]]:
    """The linked records of each of ``activities`` (links prefetched), by activity id; one
    query per kind of linked record for all of them together."""
    unique = list({a.pk: a for a in activities}.values())
    links: list[ActivityLink] = [link for a in unique for link in a.links.all()]
    names = selectors.record_names(
        user=user, refs=[(link.content_type_id, link.object_id) for link in links]
    )
    entries: dict[int, list[dict[str, Any]]] = {a.pk: [] for a in unique}
    for link in links:
        entries[link.activity_id].append(_record_entry(link.content_type, link.object_id, names))
    return entries


def _attendee_rows(user: User, attendees: list[ActivityAttendee]) -> list[dict[str, Any]]:
    people = User.objects.in_bulk([a.user_id for a in attendees if a.user_id is not None])
    names = selectors.record_names(
        user=user,
        refs=[
            (a.content_type_id, a.object_id)
            for a in attendees
            if a.content_type_id is not None and a.object_id is not None
        ],
    )
    rows = []
    for attendee in attendees:
        if attendee.user_id is not None:
            person = people.get(attendee.user_id)
            entry = {"type_label": "User", "name": str(person) if person else None, "url": None}
        elif attendee.content_type is not None and attendee.object_id is not None:
            entry = _record_entry(attendee.content_type, attendee.object_id, names)
        else:
            continue
        rows.append({**entry, "response": attendee.get_response_display()})
    return rows


# ---------- the standard pages ----------


def _page_rows(*, user: User) -> Any:
    """The list's rows: visible activities with their owner and assignee in the same query."""
    return selectors.activity_list(user=user).select_related("owner", "assignee")


def _set_reminder(activity: Activity, minutes: int | None) -> None:
    """One in-app reminder (or none) from the forms' single "Reminder" choice."""
    reminders_set(activity=activity, minutes=[] if minutes is None else [minutes])


def _create(
    *,
    user: User,
    link: str = "",
    attendee_users: list[User] | None = None,
    reminder_minutes: int | None = None,
    **values: Any,
) -> Activity:
    """The full form's create: the record it was opened from becomes the first link."""
    links: list[dict[str, Any]] = []
    if link:
        target = parse_target(link)
        if target is None:
            raise ValidationFailed(
                "The linked record is not valid.",
                errors={"link": ["Open the form again from the record's page."]},
            )
        links.append({"object_type": target[0], "id": target[1]})
    attendees = [{"user": person.pk} for person in attendee_users or []]
    with transaction.atomic():
        activity = services.activity_create(user=user, links=links, attendees=attendees, **values)
        if reminder_minutes is not None:
            _set_reminder(activity, reminder_minutes)
    return activity


def _update(*, user: User, activity: Activity, **values: Any) -> Activity:
    """The edit form's and bulk edit's update; a changed reminder replaces the old ones."""
    with transaction.atomic():
        reminder_changed = "reminder_minutes" in values
        minutes = values.pop("reminder_minutes", None)
        updated = services.activity_update(user=user, activity=activity, **values)
        if reminder_changed:
            _set_reminder(updated, minutes)
    return updated


def _detail_related(user: User, record: Activity, *, can_edit: bool) -> dict[str, Any]:
    return {
        "kind_fields": [(DETAIL_LABELS[name], name) for name in KIND_DETAIL_FIELDS[record.kind]],
        "duration": duration_text(record.duration_seconds),
        "linked_records": link_entries(user, [record])[record.pk],
        "attendee_rows": _attendee_rows(user, list(record.attendees.all())),
        "reminders": list(record.reminders.order_by("minutes_before")),
        "can_complete": (
            can_edit and record.kind == ActivityKind.TASK and record.status in OPEN_STATUSES
        ),
        # The shared fields card shows only custom fields and the description here.
        "sections": [],
    }


ACTIVITIES = ObjectUI(
    key="activity",
    model=Activity,
    label="Activity",
    label_plural="Activities",
    filterset=ActivityFilter,
    sorts=ACTIVITY_SORTS,
    default_sort="-occurred",
    selector=_page_rows,
    getter=selectors.activity_get,
    create=_create,
    update=_update,
    delete=services.activity_delete,
    form_class=ActivityForm,
    columns=(
        Column("kind", "Kind", cell="activities/cells/kind.html"),
        Column("subject", "Subject", cell="activities/cells/subject.html"),
        Column("links", "Linked to", css="hide-sm", cell="activities/cells/links.html"),
        Column("occurred_at", "When", sort="occurred", cell="activities/cells/when.html"),
        Column("owner", "Owner / assignee", css="hide-sm", cell="activities/cells/people.html"),
        Column("status", "Status", cell="activities/cells/status.html"),
    ),
    list_fields=(
        "id",
        "kind",
        "subject",
        "occurred_at",
        "due_at",
        "starts_at",
        "status",
        "priority",
        "owner",
        "owner__full_name",
        "owner__email",
        "assignee",
        "assignee__full_name",
        "assignee__email",
    ),
    detail_sections=(),
    bulk_form_class=ActivityBulkEditForm,
    record_arg="activity",
    namespace="activities",
    related=_detail_related,
    primary_filters=("kind", "status", "mine"),
    list_links=(
        ToolbarLink("my-activities", "Mine", "activities:activity_mine"),
        ToolbarLink(
            "ics-export",
            "Export iCalendar",
            "activities:activity_list_ics",
            needs=Action.EXPORT,
            with_query=True,
        ),
    ),
)

activity_pages = RecordPages(ACTIVITIES)


# ---------- my tasks, mine, mark done ----------


@login_required
@handles_domain_errors
def my_tasks(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.access_profile().may(Activity.object_type(), Action.READ):
        raise PermissionDenied("Your role may not see activities.")
    rows = list(selectors.open_tasks_of(user=user)[: MY_TASKS_LIMIT + 1])
    tasks = rows[:MY_TASKS_LIMIT]
    entries = link_entries(user, tasks)
    return render(
        request,
        "activities/my_tasks.html",
        {
            "rows": [(task, entries[task.pk]) for task in tasks],
            "more": len(rows) > MY_TASKS_LIMIT,
            "list_url": f"{ACTIVITIES.url('list')}?kind=task&assignee={user.pk}&sort=due",
            "can_create": _may_create(user),
        },
    )


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The activity list narrowed to what the signed-in user owns, is assigned or attends."""
    return redirect(f"{ACTIVITIES.url('list')}?mine=true")


@login_required
@require_POST
@handles_domain_errors
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    activity = selectors.activity_get(user=user, pk=pk, action=Action.UPDATE)
    try:
        services.task_complete(user=user, activity=activity)
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for ms in exc.errors.values() for m in ms))
    else:
        messages.success(request, f"“{activity}” is done.")
    return redirect(_back(request, ACTIVITIES.url("detail", activity.pk)))


# ---------- quick-add from any record's page ----------


def _target_record(user: User, value: str) -> BusinessRecord:
    """The record a quick-add names, if the user may see it (else "not found")."""
    parsed = parse_target(value)
    if parsed is None:
        raise RecordNotFound("Name the record as object_type:id, e.g. contacts.account:12.")
    object_type, pk = parsed
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        raise RecordNotFound(f"{object_type!r} is not a kind of record.") from None
    if not issubclass(model, BusinessRecord) or model is Activity:
        raise RecordNotFound(f"Activities cannot be logged on {object_type!r}.")
    record = model.objects.visible_to(user).filter(pk=pk).first()
    if record is None:
        raise RecordNotFound(f"No {model._meta.verbose_name} with id {pk} that you can see.")
    return record


def _person_name(record: BusinessRecord) -> str:
    """The name to invite when the record is a person (a contact, a person account, later a
    lead): any record with a last name; companies have none."""
    return str(record) if getattr(record, "last_name", "") else ""


def _quick_kind(value: str) -> str:
    if value not in QUICK_KINDS:
        raise RecordNotFound("Choose a task, call, note or appointment.")
    return value


def _panel_context(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    user = _user(request)
    if isinstance(record, Activity) or not _may_create(user):
        return None
    return {
        "target": f"{record.object_type()}:{record.pk}",
        "kinds": [(kind, ActivityKind(kind).label) for kind in QUICK_KINDS],
        "record": record,
    }


def _quick_context(
    request: HttpRequest, record: BusinessRecord, kind: str, form: QuickAddForm
) -> dict[str, Any]:
    return {
        "form": form,
        "kind": kind,
        "kind_label": ActivityKind(kind).label,
        "record": record,
        "target": f"{record.object_type()}:{record.pk}",
        "record_url": record_detail_url(record.object_type(), record.pk),
        "next": _back(request, ""),
    }


def _render_quick_form(
    request: HttpRequest, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    template = "activities/partials/quick_add_form.html"
    if not is_htmx(request):
        template = "activities/quick_add_page.html"
    return render(request, template, context, status=status)


@login_required
@handles_domain_errors
def quick_add(request: HttpRequest) -> HttpResponse:
    """GET: the compact form of one kind for a record; POST: log it, linked to the record."""
    user = _user(request)
    if not _may_create(user):
        raise PermissionDenied("Your role may not create activities.")
    source = request.POST if request.method == "POST" else request.GET
    record = _target_record(user, source.get("target", ""))
    kind = _quick_kind(source.get("kind", ""))
    person = _person_name(record) if kind == ActivityKind.APPOINTMENT else ""
    form = QuickAddForm(
        request.POST if request.method == "POST" else None, kind=kind, target_name=person
    )
    context = _quick_context(request, record, kind, form)
    if request.method != "POST":
        return _render_quick_form(request, context)
    if not form.is_valid():
        return _render_quick_form(request, context, status=422)
    target = {"object_type": record.object_type(), "id": record.pk}
    attendees = [{"user": u.pk} for u in form.cleaned_data.get("attendee_users") or []]
    if form.cleaned_data.get("invite_target"):
        attendees.append(target)
    try:
        with transaction.atomic():
            activity = services.activity_create(
                user=user, kind=kind, links=[target], attendees=attendees, **form.service_values()
            )
            if form.cleaned_data.get("reminder_minutes") is not None:
                _set_reminder(activity, form.cleaned_data["reminder_minutes"])
    except ValidationFailed as exc:
        form.add_service_errors(exc.errors)
        return _render_quick_form(request, context, status=422)
    done = f"{ActivityKind(kind).label} “{activity}” was logged on {record}."
    if not is_htmx(request):
        messages.success(request, done)
        fallback = context["record_url"] or ACTIVITIES.url("detail", activity.pk)
        return redirect(_back(request, fallback))
    panel = _panel_context(request, record) or {}
    response = render(
        request,
        "activities/partials/quick_add_panel.html",
        {"panel": {**panel, "done": done, "activity": activity}},
    )
    # The timeline card (another app's) reloads on this event; the whole card re-renders.
    response["HX-Trigger"] = "timeline-changed"
    response["HX-Retarget"] = "#quick-add"
    response["HX-Reswap"] = "outerHTML"
    return response


# ---------- registration (from AppConfig.ready) ----------


def _assignee_email(record: Activity) -> str:
    return str(record.assignee.email) if record.assignee_id and record.assignee else ""


ACTIVITY_EXPORT = ExportSpec(
    model=Activity,
    plural="activities",
    filterset=ActivityFilter,
    sorts=ACTIVITY_SORTS,
    related=("owner", "team", "assignee"),
    columns=(
        ("id", "id"),
        ("kind", "kind"),
        ("subject", "subject"),
        ("occurred_at", "occurred_at"),
        ("due_at", "due_at"),
        ("priority", "priority"),
        ("status", "status"),
        ("assignee", _assignee_email),
        ("completed_at", "completed_at"),
        ("starts_at", "starts_at"),
        ("ends_at", "ends_at"),
        ("all_day", "all_day"),
        ("location", "location"),
        ("direction", "direction"),
        ("phone_number", "phone_number"),
        ("duration_seconds", "duration_seconds"),
        ("outcome", "outcome"),
        ("email_from", "email_from"),
        ("email_to", "email_to"),
        ("sent_at", "sent_at"),
        ("owner", owner_email),
        ("team", team_name),
        ("description", "description"),
        ("created_at", "created_at"),
        ("updated_at", "updated_at"),
    ),
)


def register_ui() -> None:
    """Navigation, recycle bin, CSV export and the quick-add card on other records' pages."""
    register_nav_item(
        NavItem(
            area="Sales",
            label="Activities",
            url_name="activities:activity_list",
            object_type=Activity.object_type(),
            create_url_name="activities:activity_create",
            order=30,
        )
    )
    register_nav_item(
        NavItem(
            area="Sales",
            label="My tasks",
            url_name="activities:my_tasks",
            object_type=Activity.object_type(),
            order=31,
        )
    )
    register_recyclable(
        Recyclable(
            model=Activity,
            label="Activity",
            detail_url_name="activities:activity_detail",
            restore=lambda user, record: services.activity_restore(user=user, activity=record),
        )
    )
    register_export(ACTIVITY_EXPORT)
    register_detail_panel(
        DetailPanel(
            key="activities.quick_add",
            template="activities/partials/quick_add_panel.html",
            context=_panel_context,
            order=10,
            column="side",
        )
    )
