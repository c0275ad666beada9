"""Forms for activities: they type-check input; the services validate and write.

The full form shows only the fields of one kind (chosen first, kept in a hidden field); the
quick-add form is the short version of a task, call, note or appointment that a card on any
record's page posts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from patron.activities.choices import (
    ActivityKind,
    CallDirection,
    CallOutcome,
    TaskPriority,
    TaskStatus,
)
from patron.activities.models import Activity
from patron.activities.services import COMMON_FIELDS, KIND_FIELDS
from patron.core.forms import CUSTOM_PREFIX, RecordForm
from patron.core.record_pages import BulkEditForm
from patron.core.visibility import Principal
from patron.users.models import Team, User

# A datetime-local control sends "2026-12-01T09:30", which Django's DateTimeField accepts.
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
QUICK_KINDS = (
    ActivityKind.TASK,
    ActivityKind.CALL,
    ActivityKind.NOTE,
    ActivityKind.APPOINTMENT,
)
# Fields only a new activity has: links and attendees change through their own endpoints.
CREATE_ONLY = frozenset({"link", "attendee_users"})
# Form fields that are not model fields, and the kinds that have them.
EXTRA_FIELDS = {
    "duration_minutes": {ActivityKind.CALL},
    "attendee_users": {ActivityKind.APPOINTMENT},
    "reminder_minutes": {ActivityKind.APPOINTMENT, ActivityKind.TASK},
}
# Service error keys shown on the form field that stands for them.
RENAMED = {"duration_seconds": "duration_minutes", "minutes": "reminder_minutes"}
REMINDER_CHOICES = [
    ("", "No reminder"),
    ("0", "When it starts or falls due"),
    ("5", "5 minutes before"),
    ("15", "15 minutes before"),
    ("30", "30 minutes before"),
    ("60", "1 hour before"),
    ("1440", "1 day before"),
]


def _users() -> Any:
    return User.objects.filter(is_active=True).order_by("full_name", "email")


def _user_field(label: str, empty_label: str) -> forms.ModelChoiceField:  # type: ignore[type-arg]
    return forms.ModelChoiceField(
        queryset=_users(), label=label, required=False, empty_label=empty_label
    )


def _attendee_field() -> forms.ModelMultipleChoiceField:  # type: ignore[type-arg]
    return forms.ModelMultipleChoiceField(
        queryset=_users(),
        required=False,
        label="Attendees (users)",
        help_text="Hold Ctrl (⌘ on a Mac) to choose several people.",
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )


def _duration_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False, min_value=0, max_value=24 * 60, label="Duration (minutes)"
    )


def _reminder_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=REMINDER_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        label="Reminder",
        help_text="Sent in Patron to the owner, the assignee and the user attendees.",
    )


def kind_of(value: Any) -> str:
    """A kind from the query or form data; a task when missing or unknown."""
    return value if value in ActivityKind.values else ActivityKind.TASK


class ActivityForm(RecordForm):
    model = Activity
    model_fields: ClassVar[list[str]] = [
        "kind",
        "subject",
        "due_at",
        "priority",
        "status",
        "assignee",
        "starts_at",
        "ends_at",
        "all_day",
        "location",
        "attendee_users",
        "reminder_minutes",
        "direction",
        "phone_number",
        "duration_minutes",
        "outcome",
        "email_from",
        "email_to",
        "sent_at",
        "owner",
        "team",
        "description",
        "link",
    ]
    widgets: ClassVar[dict[str, Any]] = {
        "due_at": DATETIME_WIDGET,
        "starts_at": DATETIME_WIDGET,
        "ends_at": DATETIME_WIDGET,
        "sent_at": DATETIME_WIDGET,
        "phone_number": forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        "email_to": forms.TextInput(),
        "description": forms.Textarea(attrs={"rows": 4}),
    }
    labels: ClassVar[dict[str, str]] = {
        "due_at": "Due",
        "starts_at": "Starts",
        "ends_at": "Ends",
        "all_day": "All day",
        "phone_number": "Phone number",
        "email_from": "From",
        "email_to": "To",
        "sent_at": "Sent",
    }
    help_texts: ClassVar[dict[str, str]] = {
        "phone_number": "Any format; stored with its country code.",
        "email_to": "Several addresses separated by commas.",
    }

    kind = forms.ChoiceField(choices=ActivityKind.choices, widget=forms.HiddenInput)
    link = forms.CharField(required=False, widget=forms.HiddenInput)
    owner = _user_field("Owner", "Me")
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="No team"
    )
    assignee = _user_field("Assigned to", "The owner")
    attendee_users = _attendee_field()
    duration_minutes = _duration_field()
    reminder_minutes = _reminder_field()

    def __init__(self, data: Any = None, *, user: Principal, **kwargs: Any) -> None:
        instance = kwargs.get("instance")
        initial = kwargs.get("initial") or {}
        if instance is not None:
            self.activity_kind = str(instance.kind)
        else:
            self.activity_kind = kind_of((data or {}).get("kind") or initial.get("kind"))
            kwargs["initial"] = {**initial, "kind": self.activity_kind}
        super().__init__(data, user=user, **kwargs)
        shown = COMMON_FIELDS | KIND_FIELDS[self.activity_kind]
        for name in list(self.fields):
            if name in ("version", "kind", "link") or name.startswith(CUSTOM_PREFIX):
                keep = True
            elif name in EXTRA_FIELDS:
                keep = self.activity_kind in EXTRA_FIELDS[name]
            else:
                keep = name in shown
            if not keep or (instance is not None and name in CREATE_ONLY):
                del self.fields[name]
        if instance is not None:
            del self.fields["kind"]
            if "duration_minutes" in self.fields and instance.duration_seconds is not None:
                self.initial["duration_minutes"] = instance.duration_seconds // 60
            if "reminder_minutes" in self.fields:
                first = instance.reminders.order_by("minutes_before").first()
                self.initial["reminder_minutes"] = first.minutes_before if first else None
        if "direction" in self.fields:
            self.fields["direction"].choices = CallDirection.choices  # type: ignore[attr-defined]
            self.fields["direction"].initial = CallDirection.OUTBOUND
        if "outcome" in self.fields:
            self.fields["outcome"].choices = [("", "—"), *CallOutcome.choices]  # type: ignore[attr-defined]
        if self.activity_kind == ActivityKind.CALL:
            self.fields["description"].label = "Notes"
        if self.activity_kind == ActivityKind.NOTE:
            self.fields["description"].label = "Note"
        elif "subject" in self.fields:
            self.fields["subject"].required = True
        # A new task starts open with normal priority; a saved one always has both.
        if "status" in self.fields:
            blank = [("", "Open")] if instance is None else []
            self.fields["status"].choices = [*blank, *TaskStatus.choices]  # type: ignore[attr-defined]
        if "priority" in self.fields:
            blank = [("", "Normal")] if instance is None else []
            self.fields["priority"].choices = [*blank, *TaskPriority.choices]  # type: ignore[attr-defined]

    @property
    def kind_label(self) -> str:
        return str(ActivityKind(self.activity_kind).label)

    @property
    def kind_choices(self) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in ActivityKind.choices]

    def service_values(self, *, only_changed: bool) -> dict[str, Any]:
        values = super().service_values(only_changed=only_changed)
        if "duration_minutes" in values:
            minutes = values.pop("duration_minutes")
            values["duration_seconds"] = None if minutes is None else minutes * 60
        if "attendee_users" in values:
            values["attendee_users"] = list(values["attendee_users"])
        return values

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        super().add_service_errors({RENAMED.get(k, k): v for k, v in errors.items()})


class ActivityBulkEditForm(BulkEditForm):
    """Owner for every kind; status and priority apply to tasks (other rows are refused)."""

    status = forms.ChoiceField(
        choices=[("", "Keep status"), *TaskStatus.choices], required=False, label="Set status"
    )
    priority = forms.ChoiceField(
        choices=[("", "Keep priority"), *TaskPriority.choices],
        required=False,
        label="Set priority",
    )


class QuickAddForm(forms.Form):
    """The few fields of one kind that a card on a record's page asks for."""

    FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        ActivityKind.TASK: ("subject", "due_at", "priority", "assignee", "description"),
        ActivityKind.CALL: (
            "subject",
            "direction",
            "phone_number",
            "duration_minutes",
            "outcome",
            "description",
        ),
        ActivityKind.NOTE: ("subject", "description"),
        ActivityKind.APPOINTMENT: (
            "subject",
            "starts_at",
            "ends_at",
            "location",
            "attendee_users",
            "invite_target",
            "reminder_minutes",
            "description",
        ),
    }

    subject = forms.CharField(max_length=300, required=True, label="Subject")
    due_at = forms.DateTimeField(required=False, label="Due", widget=DATETIME_WIDGET)
    priority = forms.ChoiceField(
        choices=TaskPriority.choices, initial=TaskPriority.NORMAL, label="Priority"
    )
    assignee = _user_field("Assigned to", "Me")
    direction = forms.ChoiceField(
        choices=CallDirection.choices,
        initial="outbound",
        label="Direction",
    )
    phone_number = forms.CharField(
        max_length=32,
        required=False,
        label="Phone number",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    duration_minutes = _duration_field()
    outcome = forms.ChoiceField(
        choices=[("", "—"), *CallOutcome.choices],
        required=False,
        label="Outcome",
    )
    starts_at = forms.DateTimeField(label="Starts", widget=DATETIME_WIDGET)
    ends_at = forms.DateTimeField(required=False, label="Ends", widget=DATETIME_WIDGET)
    location = forms.CharField(max_length=300, required=False, label="Location")
    attendee_users = _attendee_field()
    invite_target = forms.BooleanField(required=False, initial=True)
    reminder_minutes = _reminder_field()
    description = forms.CharField(
        required=False, label="Notes", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self, data: Any = None, *, kind: str, target_name: str = "", **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        self.kind = kind
        keep = set(self.FIELDS[kind])
        if not target_name:
            keep.discard("invite_target")
        self.fields = {name: f for name, f in self.fields.items() if name in keep}
        if "invite_target" in self.fields:
            self.fields["invite_target"].label = f"Invite {target_name}"
        if kind == ActivityKind.NOTE:
            self.fields["subject"].required = False
            self.fields["description"].required = True
            self.fields["description"].label = "Note"

    def service_values(self) -> dict[str, Any]:
        """Keyword arguments for ``activity_create`` (links and attendees aside)."""
        values = {
            name: value
            for name, value in self.cleaned_data.items()
            if name
            not in ("attendee_users", "invite_target", "duration_minutes", "reminder_minutes")
        }
        if "duration_minutes" in self.cleaned_data:
            minutes = self.cleaned_data["duration_minutes"]
            values["duration_seconds"] = None if minutes is None else minutes * 60
        return values

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            name = RENAMED.get(key, key)
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message if target else f"{key}: {message}")
