"""The GDPR export: everything Patron holds about one person as a zip of JSON files with a
README.txt index (art. 15 and 20: a copy, in a machine-readable format).

Each part is written by one function returning rows; the archive builder reports progress
after each part. Values are JSON: dates ISO 8601, money as strings, foreign keys as ids
(with a readable name next to the ones a person would look for).
"""

from __future__ import annotations

import datetime
import json
import uuid
import zipfile
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import IO, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.contacts.models import (
    Account,
    AccountContactRelation,
    CompetitorProductOwned,
    Contact,
    ContactConsent,
    ContactConsentChange,
    LiteratureRequest,
    Subscription,
    TrainingAttendance,
)
from patron.core.models import ChangeLogEntry, CustomFieldDefinition
from patron.data_exchange.privacy_selectors import (
    PrivacySubject,
    subject_activity_ids,
    subject_submissions,
    subject_targets,
)
from patron.leads.models import BehaviourEvent, Lead

FORMAT_VERSION = 1


def json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or ""
    return value


def model_row(obj: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every concrete field of ``obj`` (foreign keys as ``<name>_id``)."""
    skip = set(exclude)
    row: dict[str, Any] = {}
    for model_field in obj._meta.concrete_fields:
        if model_field.name in skip:
            continue
        row[model_field.attname] = json_value(getattr(obj, model_field.attname))
    return row


def _custom_labels(object_type: str) -> dict[str, str]:
    return dict(
        CustomFieldDefinition.objects.filter(object_type=object_type).values_list("key", "label")
    )


def _contacts(subject: PrivacySubject) -> list[dict[str, Any]]:
    labels = _custom_labels(Contact.object_type())
    contacts = (
        Contact.all_objects.filter(pk__in=subject.contact_ids)
        .select_related("account", "owner")
        .prefetch_related("emails", "phones", "addresses", "account_relations__account")
        .order_by("pk")
    )
    related: dict[str, type[models.Model]] = {
        "competitor_products_owned": CompetitorProductOwned,
        "literature_requests": LiteratureRequest,
        "subscriptions": Subscription,
        "training_attended": TrainingAttendance,
    }
    related_rows: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for key, model in related.items():
        grouped: dict[int, list[dict[str, Any]]] = {}
        for obj in model._default_manager.filter(contact_id__in=subject.contact_ids).order_by("pk"):
            grouped.setdefault(obj.contact_id, []).append(  # type: ignore[attr-defined]
                model_row(obj)
            )
        related_rows[key] = grouped
    rows = []
    for contact in contacts:
        row = model_row(contact)
        row["account_name"] = contact.account.name if contact.account else None
        row["owner_name"] = str(contact.owner)
        row["custom_fields"] = [
            {"key": key, "label": labels.get(key, key), "value": value}
            for key, value in sorted((contact.custom or {}).items())
        ]
        row["emails"] = [model_row(e, exclude=["contact"]) for e in contact.emails.all()]
        row["phones"] = [model_row(p, exclude=["contact"]) for p in contact.phones.all()]
        row["addresses"] = [model_row(a, exclude=["contact"]) for a in contact.addresses.all()]
        row["account_relations"] = [
            {**model_row(r, exclude=["contact"]), "account_name": r.account.name}
            for r in contact.account_relations.all()
        ]
        for key in related:
            row[key] = related_rows[key].get(contact.pk, [])
        rows.append(row)
    return rows


def _reports_to(subject: PrivacySubject) -> list[dict[str, Any]]:
    """Relations where someone else reports to the person (the person named as a manager)."""
    return [
        model_row(r)
        for r in AccountContactRelation.objects.filter(
            reports_to_id__in=subject.contact_ids
        ).order_by("pk")
    ]


def _leads(subject: PrivacySubject) -> list[dict[str, Any]]:
    labels = _custom_labels(Lead.object_type())
    events: dict[int, list[dict[str, Any]]] = {}
    for event in BehaviourEvent.objects.filter(lead_id__in=subject.lead_ids).order_by("pk"):
        events.setdefault(event.lead_id, []).append(model_row(event, exclude=["lead"]))
    rows = []
    for lead in Lead.all_objects.filter(pk__in=subject.lead_ids).order_by("pk"):
        row = model_row(lead)
        row["custom_fields"] = [
            {"key": key, "label": labels.get(key, key), "value": value}
            for key, value in sorted((lead.custom or {}).items())
        ]
        row["behaviour_events"] = events.get(lead.pk, [])
        rows.append(row)
    return rows


def _accounts(subject: PrivacySubject) -> list[dict[str, Any]]:
    return [
        model_row(account)
        for account in Account.all_objects.filter(pk__in=subject.account_ids).order_by("pk")
    ]


def _activities(subject: PrivacySubject, activity_ids: list[int]) -> list[dict[str, Any]]:
    links: dict[int, list[dict[str, Any]]] = {}
    for link in ActivityLink.objects.filter(activity_id__in=activity_ids).select_related(
        "content_type"
    ):
        links.setdefault(link.activity_id, []).append(
            {"object_type": link.object_type, "object_id": link.object_id}
        )
    attendees: dict[int, list[dict[str, Any]]] = {}
    for attendee in ActivityAttendee.objects.filter(activity_id__in=activity_ids).select_related(
        "content_type"
    ):
        attendees.setdefault(attendee.activity_id, []).append(
            {
                "user_id": attendee.user_id,
                "object_type": attendee.object_type,
                "object_id": attendee.object_id,
                "response": attendee.response,
            }
        )
    rows = []
    for activity in Activity.all_objects.filter(pk__in=activity_ids).order_by("occurred_at", "pk"):
        row = model_row(activity)
        row["links"] = links.get(activity.pk, [])
        row["attendees"] = attendees.get(activity.pk, [])
        rows.append(row)
    return rows


def _consents(subject: PrivacySubject) -> dict[str, Any]:
    current = ContactConsent.objects.filter(contact_id__in=subject.contact_ids).order_by(
        "contact_id", "purpose"
    )
    history = ContactConsentChange.objects.filter(contact_id__in=subject.contact_ids).order_by(
        "contact_id", "recorded_at", "pk"
    )
    return {
        "current": [model_row(row) for row in current],
        "history": [model_row(row) for row in history],
    }


def _change_log(subject: PrivacySubject, activity_ids: list[int]) -> list[dict[str, Any]]:
    activity_type = ContentType.objects.get_for_model(Activity)
    entries = (
        ChangeLogEntry.objects.filter(
            subject_targets(subject) | Q(content_type=activity_type, object_id__in=activity_ids)
        )
        .select_related("content_type")
        .order_by("at", "pk")
    )
    return [
        {
            "id": entry.pk,
            "object_type": f"{entry.content_type.app_label}.{entry.content_type.model}",
            "object_id": entry.object_id,
            "action": entry.action,
            "via": entry.via,
            "actor_id": entry.actor_id,
            "at": json_value(entry.at),
            "changes": entry.changes,
        }
        for entry in entries.iterator(chunk_size=500)
    ]


def _submissions(subject: PrivacySubject) -> list[dict[str, Any]]:
    return [
        {**model_row(row, exclude=["opt_in_token_digest"]), "form_name": row.form.name}
        for row in subject_submissions(subject).order_by("received_at", "pk")
    ]


README = """Personal data held by Patron
============================

Request: #{request_id} ({kind}), generated {generated} (UTC).
Person: {person}

Files (JSON, UTF-8; dates ISO 8601; ids are Patron's record numbers):

{index}

Format version {version}. Questions about this export: contact the organisation that sent it.
"""

PARTS: tuple[tuple[str, str], ...] = (
    (
        "contacts.json",
        "Contacts: every field, email addresses, phone numbers, addresses, "
        "custom fields, positions at accounts and the contact's related lists.",
    ),
    ("reports_to.json", "Positions of other people at accounts who report to this person."),
    (
        "leads.json",
        "Leads with this person's email address (or converted into the contact), "
        "with their scored behaviour events.",
    ),
    ("person_accounts.json", "Person (B2C) accounts with this person's email address."),
    (
        "activities.json",
        "Tasks, appointments, calls, notes and logged emails linked to the "
        "person, with the person invited, or sent from or to their address.",
    ),
    ("consents.json", "Consent per purpose: the current answers and their full history."),
    ("change_log.json", "Every recorded change to the person's records and those activities."),
    ("capture_submissions.json", "Web form submissions that created or updated the leads."),
)


def write_archive(
    handle: IO[bytes],
    *,
    subject: PrivacySubject,
    request_id: int,
    kind: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, int]:
    """Write the zip to ``handle``; returns the number of rows in each part."""
    activity_ids = subject_activity_ids(subject)
    builders: dict[str, Callable[[], Any]] = {
        "contacts.json": lambda: _contacts(subject),
        "reports_to.json": lambda: _reports_to(subject),
        "leads.json": lambda: _leads(subject),
        "person_accounts.json": lambda: _accounts(subject),
        "activities.json": lambda: _activities(subject, activity_ids),
        "consents.json": lambda: _consents(subject),
        "change_log.json": lambda: _change_log(subject, activity_ids),
        "capture_submissions.json": lambda: _submissions(subject),
    }
    counts: dict[str, int] = {}
    total = len(PARTS) + 1
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, (name, _description) in enumerate(PARTS, start=1):
            data = builders[name]()
            if isinstance(data, dict):
                counts[name.removesuffix(".json")] = sum(len(v) for v in data.values())
            else:
                counts[name.removesuffix(".json")] = len(data)
            archive.writestr(name, json.dumps(data, ensure_ascii=False, indent=2, default=str))
            if progress is not None:
                progress(done, total, f"Wrote {name}")
        index = "\n".join(
            f"- {name} ({counts[name.removesuffix('.json')]} rows): {description}"
            for name, description in PARTS
        )
        archive.writestr(
            "README.txt",
            README.format(
                request_id=request_id,
                kind=kind,
                generated=timezone.now().strftime("%Y-%m-%d %H:%M"),
                person=subject.describe(),
                index=index,
                version=FORMAT_VERSION,
            ),
        )
        if progress is not None:
            progress(total, total, "Wrote README.txt")
    return counts
