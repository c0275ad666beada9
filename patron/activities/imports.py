"""Activities for imports (see patron.core.importing), written through the activity
services; a row may link the activity to an account and a contact."""

from __future__ import annotations

from typing import Any

from patron.core.choices import Via
from patron.core.importing import (
    CHOICE,
    DATETIME,
    INTEGER,
    RELATED,
    TEXT,
    ImportField,
    ImportSpec,
    MatchKey,
    register_import,
)


def _links(values: dict[str, Any]) -> list[dict[str, Any]]:
    links = []
    for name in ("account", "contact"):
        record = values.pop(name, None)
        if record is not None:
            links.append({"object_type": record.object_type(), "id": record.pk})
    return links


def _create(user: Any, values: dict[str, Any]) -> Any:
    from patron.activities.services import activity_create

    kind = values.pop("kind")
    links = _links(values)
    return activity_create(user=user, kind=kind, links=links, via=Via.IMPORT, **values)


def _update(user: Any, record: Any, values: dict[str, Any]) -> Any:
    from patron.activities.services import activity_update

    values.pop("kind", None)
    _links(values)
    return activity_update(user=user, activity=record, via=Via.IMPORT, **values)


def register_imports() -> None:
    from patron.activities.choices import ActivityKind, TaskPriority, TaskStatus
    from patron.activities.models import Activity

    register_import(
        ImportSpec(
            object_type=Activity.object_type(),
            label="activity",
            label_plural="activities",
            model=Activity,
            fields=(
                ImportField(
                    "kind",
                    "Kind",
                    CHOICE,
                    required=True,
                    choices=tuple(ActivityKind.choices),
                    aliases=("type", "activity type", "tasksubtype"),
                ),
                ImportField("subject", "Subject", max_length=300, aliases=("title",)),
                ImportField(
                    "description", "Description", TEXT, aliases=("body", "notes", "comments")
                ),
                ImportField(
                    "occurred_at",
                    "Date",
                    DATETIME,
                    aliases=("activitydate", "activity date", "date"),
                ),
                ImportField("due_at", "Due", DATETIME, aliases=("due date",)),
                ImportField("priority", "Priority", CHOICE, choices=tuple(TaskPriority.choices)),
                ImportField("status", "Status", CHOICE, choices=tuple(TaskStatus.choices)),
                ImportField("location", "Location", max_length=300),
                ImportField("starts_at", "Starts", DATETIME, aliases=("startdatetime", "start")),
                ImportField("ends_at", "Ends", DATETIME, aliases=("enddatetime", "end")),
                ImportField(
                    "account",
                    "Account",
                    RELATED,
                    resolver="account",
                    aliases=("account name", "company"),
                ),
                ImportField(
                    "contact",
                    "Contact",
                    RELATED,
                    resolver="contact",
                    aliases=("contact email", "whoid"),
                ),
                ImportField(
                    "owner", "Owner", RELATED, resolver="user", aliases=("assigned to", "ownerid")
                ),
            ),
            match_keys=(MatchKey("id", "Patron id", "id", INTEGER),),
            create_one=_create,
            update_one=_update,
        )
    )
