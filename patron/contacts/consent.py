"""Consent per purpose: the purposes, the history of answers and what other apps ask.

The current answer per purpose is the ``ContactConsent`` row (one per contact and purpose,
shown and edited as the contact's "Consent" related list); every answer also adds a
``ContactConsentChange`` row, so the history says who recorded what, when, from which source.
``consent_change_record`` is called by the related-list write path for every consent write,
so the card, the API and imports all keep the history.

Other apps (campaigns later) ask ``has_consent(contact, purpose)``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from patron.contacts.choices import ConsentPurpose, ConsentSource, ConsentStatus
from patron.contacts.models import Contact, ContactConsent, ContactConsentChange


@dataclass(frozen=True)
class ConsentPurposeInfo:
    key: str
    label: str


# The built-in purposes; ``register_consent_purpose`` adds more (call it from ``ready()``).
_purposes: dict[str, ConsentPurposeInfo] = {
    value: ConsentPurposeInfo(value, str(label)) for value, label in ConsentPurpose.choices
}


def register_consent_purpose(key: str, label: str) -> None:
    """Add a purpose (e.g. "event_invitations") that answers can be recorded for."""
    if not key or len(key) > 30:
        raise ValueError("A consent purpose key is 1 to 30 characters.")
    _purposes[key] = ConsentPurposeInfo(key, label)


def consent_purposes() -> list[ConsentPurposeInfo]:
    return list(_purposes.values())


def purpose_label(key: str) -> str:
    info = _purposes.get(key)
    return info.label if info else key


# ---------- reads ----------


def _contact_id(contact: Contact | int) -> int:
    return contact if isinstance(contact, int) else int(contact.pk)


def has_consent(contact: Contact | int, purpose: str) -> bool:
    """Whether the contact's current answer for ``purpose`` is "granted" (one query).

    No answer, a refusal or a withdrawal all mean no.
    """
    return ContactConsent.objects.filter(
        contact_id=_contact_id(contact), purpose=purpose, status=ConsentStatus.GRANTED
    ).exists()


def contacts_with_consent(purpose: str) -> QuerySet[ContactConsent, Any]:
    """Ids of contacts that currently granted ``purpose``, for filtering a send list in SQL:
    ``Contact.objects.filter(pk__in=contacts_with_consent("newsletter"))``."""
    return ContactConsent.objects.filter(purpose=purpose, status=ConsentStatus.GRANTED).values(
        "contact_id"
    )


@dataclass(frozen=True)
class ConsentState:
    """The current answer for one purpose (``status`` is "" when none was given)."""

    purpose: str
    label: str
    status: str
    status_label: str
    source: str
    source_label: str
    given_at: datetime.datetime | None

    @property
    def granted(self) -> bool:
        return self.status == ConsentStatus.GRANTED


def consent_current(contact: Contact) -> list[ConsentState]:
    """Every purpose with its current answer, in registry order (one query)."""
    rows = {row.purpose: row for row in ContactConsent.objects.filter(contact=contact)}
    statuses = dict(ConsentStatus.choices)
    sources = dict(ConsentSource.choices)
    states = []
    keys = [info.key for info in consent_purposes()]
    keys += sorted(set(rows) - set(keys))
    for key in keys:
        row = rows.get(key)
        states.append(
            ConsentState(
                purpose=key,
                label=purpose_label(key),
                status=row.status if row else "",
                status_label=str(statuses.get(row.status, row.status)) if row else "No answer",
                source=row.source if row else "",
                source_label=str(sources.get(row.source, row.source)) if row else "",
                given_at=row.recorded_at if row else None,
            )
        )
    return states


def consent_history(contact: Contact, purpose: str = "") -> QuerySet[ContactConsentChange]:
    """The contact's answers, newest first (optionally for one purpose)."""
    rows = ContactConsentChange.objects.filter(contact=contact).select_related("recorded_by")
    if purpose:
        rows = rows.filter(purpose=purpose)
    return rows.order_by("-recorded_at", "-id")


# ---------- the history writer ----------


def consent_change_record(*, consent: ContactConsent, user: Any, via: str) -> None:
    """Append the answer ``consent`` now holds to its contact's history, unless it is the
    same answer as the latest one (an edit of the card that changed nothing)."""
    latest = (
        ContactConsentChange.objects.filter(contact_id=consent.contact_id, purpose=consent.purpose)
        .order_by("-recorded_at", "-id")
        .first()
    )
    if (
        latest is not None
        and latest.status == consent.status
        and latest.source == consent.source
        and latest.source_detail == consent.evidence
        and latest.given_at == consent.recorded_at
    ):
        return
    ContactConsentChange.objects.create(
        contact_id=consent.contact_id,
        purpose=consent.purpose,
        status=consent.status,
        source=consent.source,
        source_detail=consent.evidence,
        given_at=consent.recorded_at or timezone.now(),
        recorded_by_id=getattr(user, "pk", None),
        via=via,
    )
