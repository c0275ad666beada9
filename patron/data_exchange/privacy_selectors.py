"""Reads of privacy (GDPR) requests: who may handle them, finding the person a request is
about, and everything Patron holds about that person.

A person is found from an email address, a contact or a lead. From there the search widens
once: every email address of the contacts found, the contacts and leads having any of those
addresses, and the contacts leads were converted into. Records in the recycle bin count
too (they are still held).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Q, QuerySet

from patron.activities.models import Activity, ActivityAttendee, ActivityLink
from patron.contacts.choices import AccountKind
from patron.contacts.models import (
    Account,
    Contact,
    ContactConsent,
    ContactConsentChange,
    ContactEmail,
)
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import ChangeLogEntry
from patron.data_exchange.models import PrivacyRequest
from patron.leads.models import CaptureSubmission, Lead

PRIVACY_REFUSAL = (
    "Privacy requests are handled by administrators; ask an administrator to run this one."
)


def can_handle_privacy(user: Any) -> bool:
    """Administrators handle privacy requests (there is no narrower permission for them)."""
    if not getattr(user, "is_authenticated", True) or not getattr(user, "pk", None):
        return False
    profile = user.access_profile()
    return bool(profile.is_admin)


def require_privacy_handler(user: Any, *, export: bool = False) -> None:
    """PermissionDenied unless ``user`` may handle privacy requests (and, for an export,
    export contacts)."""
    if not can_handle_privacy(user):
        raise PermissionDenied(PRIVACY_REFUSAL)
    if export and not user.access_profile().may(Contact.object_type(), "export"):
        raise PermissionDenied("Exporting a person's data needs the export permission.")


def privacy_requests(user: Any) -> QuerySet[PrivacyRequest]:
    """The request list: every request for a handler, nothing for anyone else."""
    rows = PrivacyRequest.objects.select_related(
        "requested_by", "performed_by", "contact", "lead", "job"
    )
    return rows if can_handle_privacy(user) else rows.none()


def privacy_request_get(*, user: Any, pk: Any) -> PrivacyRequest:
    require_privacy_handler(user)
    row = privacy_requests(user).filter(pk=pk).first()
    if row is None:
        raise RecordNotFound(f"No privacy request with id {pk}.")
    return row


@dataclass
class PrivacySubject:
    """The records one person is found in (ids only)."""

    emails: set[str] = field(default_factory=set)
    contact_ids: list[int] = field(default_factory=list)
    lead_ids: list[int] = field(default_factory=list)
    account_ids: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.contact_ids or self.lead_ids or self.account_ids)

    def describe(self) -> str:
        parts = []
        if self.emails:
            parts.append(", ".join(sorted(self.emails)))
        parts.append(f"{len(self.contact_ids)} contact(s), {len(self.lead_ids)} lead(s)")
        return "; ".join(parts)


def clean_subject_email(value: str) -> str:
    email = (value or "").strip().lower()
    if not email:
        return ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(
            "The email address is not valid.",
            errors={"email": [f"{value!r} is not an email address."]},
        ) from None
    return email


def find_subject(
    *, email: str = "", contact_id: int | None = None, lead_id: int | None = None
) -> PrivacySubject:
    """The person identified by ``email``, ``contact_id`` or ``lead_id`` (at least one).

    ValidationFailed names the input that found nothing, so the form can say so.
    """
    email = clean_subject_email(email)
    if not email and contact_id is None and lead_id is None:
        raise ValidationFailed(
            "Say whom the request is about.",
            errors={"email": ["Give an email address, a contact or a lead."]},
        )
    subject = PrivacySubject()
    if email:
        subject.emails.add(email)
    if contact_id is not None:
        contact = Contact.all_objects.filter(pk=contact_id).first()
        if contact is None:
            raise ValidationFailed(
                f"No contact with id {contact_id}.",
                errors={"contact": [f"No contact with id {contact_id}."]},
            )
        subject.contact_ids.append(contact.pk)
    if lead_id is not None:
        lead = Lead.all_objects.filter(pk=lead_id).first()
        if lead is None:
            raise ValidationFailed(
                f"No lead with id {lead_id}.", errors={"lead": [f"No lead with id {lead_id}."]}
            )
        subject.lead_ids.append(lead.pk)
        if lead.email:
            subject.emails.add(lead.email.lower())
        if lead.converted_contact_id:
            subject.contact_ids.append(lead.converted_contact_id)
    # Widen once: the found contacts' addresses, then everything with any of the addresses.
    if subject.contact_ids:
        subject.emails.update(
            e.lower()
            for e in Contact.all_objects.filter(pk__in=subject.contact_ids).values_list(
                "email", flat=True
            )
            if e
        )
        subject.emails.update(
            e.lower()
            for e in ContactEmail.objects.filter(contact_id__in=subject.contact_ids).values_list(
                "email", flat=True
            )
        )
    if subject.emails:
        by_email = _any_email(subject.emails, "email")
        subject.contact_ids.extend(
            Contact.all_objects.filter(by_email).values_list("pk", flat=True)
        )
        subject.contact_ids.extend(
            ContactEmail.objects.filter(_any_email(subject.emails, "email")).values_list(
                "contact_id", flat=True
            )
        )
        subject.lead_ids.extend(Lead.all_objects.filter(by_email).values_list("pk", flat=True))
        subject.account_ids.extend(
            Account.all_objects.filter(by_email, kind=AccountKind.PERSON).values_list(
                "pk", flat=True
            )
        )
    if subject.contact_ids:
        subject.lead_ids.extend(
            Lead.all_objects.filter(converted_contact_id__in=subject.contact_ids).values_list(
                "pk", flat=True
            )
        )
    subject.contact_ids = sorted(set(subject.contact_ids))
    subject.lead_ids = sorted(set(subject.lead_ids))
    subject.account_ids = sorted(set(subject.account_ids))
    if subject.empty:
        raise ValidationFailed(
            f"Patron holds nothing about {email}: no contact, lead or person account has "
            "this email address.",
            errors={"email": [f"No contact, lead or person account has the address {email}."]},
        )
    return subject


def _any_email(emails: set[str], name: str) -> Q:
    condition = Q()
    for email in sorted(emails):
        condition |= Q(**{f"{name}__iexact": email})
    return condition


def _content_types() -> tuple[ContentType, ContentType]:
    return (
        ContentType.objects.get_for_model(Contact),
        ContentType.objects.get_for_model(Lead),
    )


def subject_targets(subject: PrivacySubject) -> Q:
    """Rows with (content_type, object_id) pointing at one of the person's records."""
    contact_type, lead_type = _content_types()
    account_type = ContentType.objects.get_for_model(Account)
    return (
        Q(content_type=contact_type, object_id__in=subject.contact_ids)
        | Q(content_type=lead_type, object_id__in=subject.lead_ids)
        | Q(content_type=account_type, object_id__in=subject.account_ids)
    )


def subject_activity_ids(subject: PrivacySubject) -> list[int]:
    """Activities linked to the person, with the person invited, or emails from or to them."""
    targets = subject_targets(subject)
    ids = set(ActivityLink.objects.filter(targets).values_list("activity_id", flat=True))
    ids.update(ActivityAttendee.objects.filter(targets).values_list("activity_id", flat=True))
    if subject.emails:
        mail = _any_email(subject.emails, "email_from")
        for email in subject.emails:
            mail |= Q(email_to__icontains=email)
        ids.update(Activity.all_objects.filter(mail).values_list("pk", flat=True))
    return sorted(ids)


def subject_submissions(subject: PrivacySubject) -> QuerySet[CaptureSubmission]:
    return CaptureSubmission.objects.filter(lead_id__in=subject.lead_ids).select_related("form")


def subject_counts(subject: PrivacySubject) -> dict[str, int]:
    """How many records of each kind the person is found in (the request's summary)."""
    activity_ids = subject_activity_ids(subject)
    activity_type = ContentType.objects.get_for_model(Activity)
    change_log = ChangeLogEntry.objects.filter(
        subject_targets(subject) | Q(content_type=activity_type, object_id__in=activity_ids)
    )
    return {
        "contacts": len(subject.contact_ids),
        "leads": len(subject.lead_ids),
        "person_accounts": len(subject.account_ids),
        "activities": len(activity_ids),
        "consents": ContactConsent.objects.filter(contact_id__in=subject.contact_ids).count(),
        "consent_changes": ContactConsentChange.objects.filter(
            contact_id__in=subject.contact_ids
        ).count(),
        "change_log_entries": change_log.count(),
        "capture_submissions": subject_submissions(subject).count(),
    }
