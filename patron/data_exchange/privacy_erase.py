"""Erase or anonymise a person (GDPR art. 17) without breaking the numbers.

Records are kept and only their personal content goes, so everything counted or summed
(activity counts, opportunity amounts, account revenue and its roll-ups, lead funnels)
stays as it was:

- **erase**: names become "Erased person #<id>", every other personal field is cleared
  (title, department, language, birthdate, social profiles, descriptions, text custom fields),
  email addresses, phone numbers and addresses are deleted; granted consents are withdrawn;
- **anonymise**: names become "Anonymous person #<id>" and what identifies the person is
  cleared the same way, but attributes useful for statistics stay (job title, department,
  language, time zone, company, industry, country of the addresses); consents keep their
  answers.

Both scrub the activities that are only about the person (subject, description, location,
addresses and numbers), take the person's addresses and numbers out of shared activities,
redact the personal values in the change log of all those records, redact lead capture
submissions, clear consent evidence and rebuild the search entries. Nothing here sends
events: automation must not act on a person who asked to be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.contacts.choices import ConsentSource, ConsentStatus
from patron.contacts.models import (
    Account,
    AccountContactRelation,
    CompetitorProductOwned,
    Contact,
    ContactAddress,
    ContactConsent,
    ContactConsentChange,
    ContactEmail,
    ContactPhone,
    LiteratureRequest,
    TrainingAttendance,
)
from patron.core import search
from patron.core.choices import CustomFieldType, Via
from patron.core.models import BusinessRecord, ChangeLogEntry, CustomFieldDefinition
from patron.data_exchange.choices import PrivacyRequestKind
from patron.data_exchange.privacy_selectors import (
    PrivacySubject,
    subject_activity_ids,
    subject_submissions,
    subject_targets,
)
from patron.leads.models import Lead

REDACTED = "[redacted]"
ERASED_ACTIVITY_SUBJECT = "(content erased)"

# Fields each kind clears (blank value) per model; names are set separately.
_CONTACT_ERASE: dict[str, Any] = {
    "first_name": "",
    "salutation": "",
    "title": "",
    "department": "",
    "email": "",
    "phone": "",
    "language": "",
    "time_zone": "",
    "birthdate": None,
    "social": {},
    "description": "",
    "do_not_call": True,
    "email_opt_out": True,
}
_CONTACT_KEEP_WHEN_ANONYMISED = {"title", "department", "language", "time_zone"}

_LEAD_ERASE: dict[str, Any] = {
    "salutation": "",
    "first_name": "",
    "title": "",
    "email": "",
    "phone": "",
    "mobile": "",
    "language": "",
    "company": "",
    "website": "",
    "domain": "",
    "street": "",
    "city": "",
    "region": "",
    "postal_code": "",
    "country": "",
    "description": "",
    "source_detail": "",
    "disqualification_note": "",
    "score_explanation": {},
    "email_opt_out": True,
}
_LEAD_KEEP_WHEN_ANONYMISED = {"title", "language", "company", "website", "domain", "country"}

_ACCOUNT_ERASE: dict[str, Any] = {
    "first_name": "",
    "last_name": "",
    "email": "",
    "phone": "",
    "website": "",
    "billing_street": "",
    "billing_city": "",
    "billing_region": "",
    "billing_postal_code": "",
    "description": "",
}

_ACTIVITY_SCRUB: dict[str, Any] = {
    "subject": ERASED_ACTIVITY_SUBJECT,
    "description": "",
    "location": "",
    "phone_number": "",
    "email_from": "",
    "email_to": "",
}

# Change-log keys never redacted: references and numbers, not what identifies the person.
_LOG_KEEP = frozenset(
    {
        "owner",
        "team",
        "account",
        "parent",
        "kind",
        "status",
        "source",
        "score",
        "score_fit",
        "score_behaviour",
        "score_probability",
        "queue",
        "industry",
        "employee_count",
        "annual_revenue",
        "revenue_currency",
        "tier",
        "campaign",
        "converted_account",
        "converted_contact",
        "converted_by",
        "converted_at",
        "capture_form",
        "matched_contact",
        "matched_account",
        "opt_in_state",
        "do_not_call",
        "email_opt_out",
        "disqualification_reason",
    }
)


def _text_custom_keys(object_type: str) -> set[str]:
    return set(
        CustomFieldDefinition.objects.filter(
            object_type=object_type, field_type=CustomFieldType.TEXT
        ).values_list("key", flat=True)
    )


def _clear_custom(custom: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {key: value for key, value in (custom or {}).items() if key not in keys}


def _write(model: type[BusinessRecord], pk: int, values: dict[str, Any]) -> None:
    """Overwrite ``values`` of one record and bump its version (open edit forms conflict)."""
    model._base_manager.filter(pk=pk).update(
        **values, version=F("version") + 1, updated_at=timezone.now()
    )


def _log(model: type[BusinessRecord], pk: int, *, request_id: int, kind: str, actor: Any) -> None:
    ChangeLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_id=pk,
        actor=actor if getattr(actor, "pk", None) else None,
        via=Via.SYSTEM,
        action=kind,
        changes={"privacy request": [None, f"#{request_id} ({kind})"]},
    )


def _redact_value(value: Any) -> Any:
    return None if value in (None, "", {}, []) else REDACTED


def _redact_changes(changes: dict[str, Any], keep: set[str] | frozenset[str]) -> dict[str, Any]:
    redacted: dict[str, Any] = {}
    for key, pair in changes.items():
        if key in keep or key == "privacy request":
            redacted[key] = pair
        elif isinstance(pair, list):
            redacted[key] = [_redact_value(v) for v in pair]
        else:
            redacted[key] = _redact_value(pair)
    return redacted


def _redact_log(condition: Q, keep: set[str] | frozenset[str]) -> int:
    """Redact the values of every change-log entry matching ``condition``; returns entries."""
    done = 0
    changed: list[ChangeLogEntry] = []
    for entry in ChangeLogEntry.objects.filter(condition).only("pk", "changes").iterator(500):
        changes = _redact_changes(entry.changes or {}, keep)
        if changes != entry.changes:
            entry.changes = changes
            changed.append(entry)
        done += 1
    ChangeLogEntry.objects.bulk_update(changed, ["changes"], batch_size=500)
    return done


def _redact_log_keys(condition: Q, keys: frozenset[str]) -> int:
    """Redact only ``keys`` (fields that held the person's address or number) in the
    change log of shared records; returns entries changed."""
    changed: list[ChangeLogEntry] = []
    for entry in ChangeLogEntry.objects.filter(condition).only("pk", "changes").iterator(500):
        changes = dict(entry.changes or {})
        hits = keys & set(changes)
        if not hits:
            continue
        for key in hits:
            pair = changes[key]
            changes[key] = (
                [_redact_value(v) for v in pair] if isinstance(pair, list) else _redact_value(pair)
            )
        entry.changes = changes
        changed.append(entry)
    ChangeLogEntry.objects.bulk_update(changed, ["changes"], batch_size=500)
    return len(changed)


def _erase_contacts(subject: PrivacySubject, *, erase: bool, request_id: int, actor: Any) -> int:
    text_keys = _text_custom_keys(Contact.object_type())
    label = "Erased person" if erase else "Anonymous person"
    values = dict(_CONTACT_ERASE)
    if not erase:
        for name in _CONTACT_KEEP_WHEN_ANONYMISED:
            values.pop(name)
    for contact in Contact.all_objects.filter(pk__in=subject.contact_ids).only("pk", "custom"):
        _write(
            Contact,
            contact.pk,
            {
                **values,
                "last_name": f"{label} #{contact.pk}",
                "custom": _clear_custom(contact.custom, text_keys),
            },
        )
        _log(Contact, contact.pk, request_id=request_id, kind=_kind(erase), actor=actor)
    ContactEmail.objects.filter(contact_id__in=subject.contact_ids).delete()
    ContactPhone.objects.filter(contact_id__in=subject.contact_ids).delete()
    addresses = ContactAddress.objects.filter(contact_id__in=subject.contact_ids)
    if erase:
        addresses.delete()
    else:
        addresses.update(street="", city="", postal_code="", region="")
    AccountContactRelation.objects.filter(contact_id__in=subject.contact_ids).update(
        responsibilities=""
    )
    # Notes the contact's related lists hold about them.
    for model in (CompetitorProductOwned, LiteratureRequest, TrainingAttendance):
        model._default_manager.filter(contact_id__in=subject.contact_ids).update(notes="")
    TrainingAttendance.objects.filter(contact_id__in=subject.contact_ids).update(certificate="")
    return len(subject.contact_ids)


def _kind(erase: bool) -> str:
    return PrivacyRequestKind.ERASE if erase else PrivacyRequestKind.ANONYMISE


def _erase_leads(subject: PrivacySubject, *, erase: bool, request_id: int, actor: Any) -> int:
    text_keys = _text_custom_keys(Lead.object_type())
    label = "Erased person" if erase else "Anonymous person"
    values = dict(_LEAD_ERASE)
    if not erase:
        for name in _LEAD_KEEP_WHEN_ANONYMISED:
            values.pop(name)
    for lead in Lead.all_objects.filter(pk__in=subject.lead_ids).only("pk", "custom"):
        _write(
            Lead,
            lead.pk,
            {
                **values,
                "last_name": f"{label} #{lead.pk}",
                "custom": _clear_custom(lead.custom, text_keys),
            },
        )
        _log(Lead, lead.pk, request_id=request_id, kind=_kind(erase), actor=actor)
    return len(subject.lead_ids)


def _erase_accounts(subject: PrivacySubject, *, erase: bool, request_id: int, actor: Any) -> int:
    label = "Erased person" if erase else "Anonymous person"
    for pk in subject.account_ids:
        _write(Account, pk, {**_ACCOUNT_ERASE, "name": f"{label} #{pk}"})
        _log(Account, pk, request_id=request_id, kind=_kind(erase), actor=actor)
    return len(subject.account_ids)


def _only_about_person(subject: PrivacySubject, activity_ids: list[int]) -> set[int]:
    """Activities linked to nothing but the person's records and inviting no other record."""
    targets = subject_targets(subject)
    mine = set(
        ActivityLink.objects.filter(targets, activity_id__in=activity_ids).values_list(
            "activity_id", flat=True
        )
    )
    others = set(
        ActivityLink.objects.filter(activity_id__in=activity_ids)
        .exclude(targets)
        .values_list("activity_id", flat=True)
    )
    others.update(
        ActivityAttendee.objects.filter(activity_id__in=activity_ids, content_type__isnull=False)
        .exclude(targets)
        .values_list("activity_id", flat=True)
    )
    return mine - others


def _without(text: str, needles: set[str]) -> str:
    result = text
    for needle in needles:
        if not needle:
            continue
        start = result.lower().find(needle.lower())
        while start >= 0:
            result = result[:start] + REDACTED + result[start + len(needle) :]
            start = result.lower().find(needle.lower(), start + len(REDACTED))
    return result


def _scrub_activities(
    subject: PrivacySubject, *, phones: set[str], request_id: int, kind: str, actor: Any
) -> tuple[int, set[int], set[int]]:
    """Scrub the person's activities; returns (how many fully, ids cleaned of the person's
    addresses and numbers, ids scrubbed fully)."""
    activity_ids = subject_activity_ids(subject)
    only_person = _only_about_person(subject, activity_ids)
    # Every such activity gets the same values: one UPDATE and one bulk insert of log lines,
    # whatever their number.
    Activity._base_manager.filter(pk__in=sorted(only_person)).update(
        **_ACTIVITY_SCRUB, version=F("version") + 1, updated_at=timezone.now()
    )
    activity_type = ContentType.objects.get_for_model(Activity)
    ChangeLogEntry.objects.bulk_create(
        ChangeLogEntry(
            content_type=activity_type,
            object_id=pk,
            actor=actor if getattr(actor, "pk", None) else None,
            via=Via.SYSTEM,
            action=kind,
            changes={"privacy request": [None, f"#{request_id} ({kind})"]},
        )
        for pk in sorted(only_person)
    )
    partly: set[int] = set()
    shared = [pk for pk in activity_ids if pk not in only_person]
    needles = set(subject.emails) | phones
    for activity in Activity.all_objects.filter(pk__in=shared).only(
        "pk", "email_from", "email_to", "phone_number"
    ):
        values = {
            "email_from": _without(activity.email_from, needles),
            "email_to": _without(activity.email_to, needles),
            "phone_number": "" if activity.phone_number in phones else activity.phone_number,
        }
        values = {k: v for k, v in values.items() if v != getattr(activity, k)}
        if values:
            _write(Activity, activity.pk, values)
            partly.add(activity.pk)
    return len(only_person), partly, only_person


def _erase_consents(subject: PrivacySubject, *, erase: bool, request_id: int, actor: Any) -> int:
    """Clear the evidence; on erasure, withdraw what was granted (a record of the refusal
    stays: the answers, their dates and sources, without anything naming the person)."""
    ContactConsentChange.objects.filter(contact_id__in=subject.contact_ids).update(source_detail="")
    current = ContactConsent.objects.filter(contact_id__in=subject.contact_ids)
    current.update(evidence="")
    if not erase:
        return current.count()
    now = timezone.now()
    granted = list(current.filter(status=ConsentStatus.GRANTED))
    for row in granted:
        ContactConsentChange.objects.create(
            contact_id=row.contact_id,
            purpose=row.purpose,
            status=ConsentStatus.WITHDRAWN,
            source=ConsentSource.MANUAL,
            source_detail=f"Erasure request #{request_id}",
            given_at=now,
            recorded_at=now,
            recorded_by=actor if getattr(actor, "pk", None) else None,
            via=Via.SYSTEM,
        )
    current.filter(status=ConsentStatus.GRANTED).update(
        status=ConsentStatus.WITHDRAWN, source=ConsentSource.MANUAL, recorded_at=now
    )
    return current.count()


def _reindex(model: type[models.Model], ids: list[int] | set[int]) -> None:
    """Rewrite the search entries of ``ids`` (with the model's search prefetches, so the
    cost does not grow per record)."""
    if not ids:
        return
    prefetch: tuple[str, ...] = ()
    for search_type in search.registered_types():
        if search_type.model is model:
            prefetch = search_type.prefetch
    search.index_records(model._base_manager.filter(pk__in=sorted(ids)).prefetch_related(*prefetch))


def erase_subject(
    subject: PrivacySubject,
    *,
    kind: str,
    request_id: int,
    actor: Any,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, int]:
    """Erase (``kind`` erase) or anonymise (``kind`` anonymise) the person, in one
    transaction; returns counts per kind of record touched."""
    erase = kind == PrivacyRequestKind.ERASE
    total = 6

    def step(done: int, message: str) -> None:
        if progress is not None:
            progress(done, total, message)

    with transaction.atomic():
        phones = set(
            Contact.all_objects.filter(pk__in=subject.contact_ids)
            .exclude(phone="")
            .values_list("phone", flat=True)
        )
        phones.update(
            ContactPhone.objects.filter(contact_id__in=subject.contact_ids).values_list(
                "number", flat=True
            )
        )
        for phone, mobile in Lead.all_objects.filter(pk__in=subject.lead_ids).values_list(
            "phone", "mobile"
        ):
            phones.update(v for v in (phone, mobile) if v)
        activity_type = ContentType.objects.get_for_model(Activity)
        full, partly, scrubbed = _scrub_activities(
            subject, phones=phones, request_id=request_id, kind=kind, actor=actor
        )
        step(1, "Scrubbed activities")
        counts = {
            "contacts": _erase_contacts(subject, erase=erase, request_id=request_id, actor=actor),
            "leads": _erase_leads(subject, erase=erase, request_id=request_id, actor=actor),
            "person_accounts": _erase_accounts(
                subject, erase=erase, request_id=request_id, actor=actor
            ),
            "activities_scrubbed": full,
            "activities_shared_cleaned": len(partly),
        }
        step(2, "Cleared the person's records")
        counts["consents"] = _erase_consents(
            subject, erase=erase, request_id=request_id, actor=actor
        )
        step(3, "Cleared consent evidence")
        keep = set(_LOG_KEEP)
        if not erase:
            keep |= _CONTACT_KEEP_WHEN_ANONYMISED | _LEAD_KEEP_WHEN_ANONYMISED
        redacted = _redact_log(subject_targets(subject), keep)
        redacted += _redact_log(
            Q(content_type=activity_type, object_id__in=sorted(scrubbed)), _LOG_KEEP
        )
        redacted += _redact_log_keys(
            Q(content_type=activity_type, object_id__in=sorted(partly)),
            frozenset({"email_from", "email_to", "phone_number"}),
        )
        counts["change_log_entries_redacted"] = redacted
        step(4, "Redacted the change log")
        submissions = subject_submissions(subject)
        counts["capture_submissions_redacted"] = submissions.update(
            detail={"redacted": True, "privacy_request": request_id}
        )
        step(5, "Redacted capture submissions")
        _reindex(Contact, subject.contact_ids)
        _reindex(Lead, subject.lead_ids)
        _reindex(Account, subject.account_ids)
        _reindex(Activity, scrubbed | partly)
        step(6, "Rebuilt search entries")
    return counts
