"""vCard import (the write path, through the contact services) and the export's read side.

An import reads every card first (a file that is not vCards imports nothing), then saves each
card in its own savepoint, so a bad card is reported and never loses the good ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.http import QueryDict

from patron.contacts.exports import CONTACT_EXPORT
from patron.contacts.models import Account, Contact, ContactAddress, ContactEmail, ContactPhone
from patron.contacts.services import contact_channels_replace, contact_create
from patron.contacts.vcard import (
    CardData,
    Channel,
    ContactCard,
    VCardError,
    read_cards,
    write_vcard,
)
from patron.core.choices import Action, FieldAccess, Via
from patron.core.exceptions import PatronError, PermissionDenied, RecordNotFound
from patron.core.exports import export_rows, record_export
from patron.core.jobs import job_execute, job_progress, job_start
from patron.core.models import Job
from patron.core.values import normalize_email, normalize_phone
from patron.core.visibility import Principal, hidden_field_names, sensitive_field_access

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_EXPORT_CONTACTS = 10_000
# Cards are saved within the request, so a file holds at most this many.
MAX_IMPORT_CARDS = 1_000
# A file above either size is imported by a background job with progress, since saving its
# cards would outlast a request; the page and the API import smaller files at once.
BACKGROUND_MIN_CARDS = 200
BACKGROUND_MIN_BYTES = 1024 * 1024
MAX_BACKGROUND_CARDS = 10_000
# Cards committed together with the report so far (what a redelivered job resumes from).
JOB_CHUNK = 25
VCARD_IMPORT_KIND = "contacts.vcard_import"
VCARD_IMPORT_TASK = "contacts.vcard_import"
IMPORT_DIR = "imports/vcard"
EXPORT_CHUNK = 500

# Contact fields named by the vCard property they come from, for error messages.
PROPERTY_OF_FIELD = {
    "first_name": "N",
    "last_name": "N",
    "salutation": "N",
    "title": "TITLE",
    "department": "ORG",
    "account": "ORG",
    "language": "LANG",
    "time_zone": "TZ",
    "description": "NOTE",
    "birthdate": "BDAY",
    "email": "EMAIL",
    "phone": "TEL",
    "emails": "EMAIL",
    "phones": "TEL",
    "addresses": "ADR",
}


@dataclass
class ImportReport:
    created: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "skipped": self.skipped, "failed": self.failed}


class CardRejected(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# ---------- import ----------


def _channels(
    items: list[Channel], normalize: Any, value_key: str, errors: list[str], **kwargs: Any
) -> list[dict[str, Any]]:
    """Validated, de-duplicated entries; the most preferred one is primary."""
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in sorted(items, key=lambda i: i.pref):
        try:
            value = normalize(item.value, **kwargs)
        except ValueError as exc:
            errors.append(f"{item.prop} {exc}")
            continue
        if value not in seen:
            seen.add(value)
            cleaned.append({"kind": item.kind, value_key: value, "is_primary": not cleaned})
    return cleaned


def _service_errors(exc: PatronError) -> list[str]:
    if not exc.errors:
        return [exc.detail]
    messages: list[str] = []
    for name, texts in exc.errors.items():
        prop = PROPERTY_OF_FIELD.get(name.split(".", 1)[0], name)
        messages.extend(f"{prop}: {text}" for text in texts)
    return messages


def _account(user: Principal, card: CardData) -> Account | None:
    if not card.organisation:
        return None
    account = (
        Account.objects.visible_to(user)
        .filter(name__iexact=card.organisation)
        .order_by("id")
        .first()
    )
    if account is None:
        card.notes.append(
            f"ORG {card.organisation!r} matches no account you can see; the account was left empty."
        )
    return account


def _import_card(
    user: Principal, card: CardData, via: str, may_set_birthdate: bool
) -> dict[str, Any]:
    errors: list[str] = []
    if not card.last_name:
        errors.append("N: the card has no name (neither N nor FN).")
    region = next(
        (str(a["country"]) for a in card.addresses if a["is_primary"] and a["country"]), None
    )
    emails = _channels(card.emails, normalize_email, "email", errors)
    phones = _channels(card.phones, normalize_phone, "number", errors, region=region)
    if errors:
        raise CardRejected(errors)
    addresses = card.addresses
    if addresses and not any(a["is_primary"] for a in addresses):
        addresses[0]["is_primary"] = True
    addresses_checked = [{**a, "street": str(a["street"])[:300]} for a in addresses]
    fields: dict[str, Any] = {
        "first_name": card.first_name,
        "last_name": card.last_name,
        "salutation": card.salutation,
        "title": card.title,
        "department": card.department,
        "language": card.language,
        "time_zone": card.time_zone,
        "description": card.note,
        "account": _account(user, card),
    }
    if card.birthdate and may_set_birthdate:
        fields["birthdate"] = card.birthdate
    elif card.birthdate:
        card.notes.append("BDAY was left out: your role may not set birthdates.")
    try:
        with transaction.atomic():
            contact = contact_create(
                user=user, via=via, **{k: v for k, v in fields.items() if v not in ("", None)}
            )
            if emails or phones or addresses_checked:
                contact = contact_channels_replace(
                    user=user,
                    contact=contact,
                    emails=emails,
                    phones=phones,
                    addresses=addresses_checked,
                    via=via,
                )
    except PatronError as exc:
        # Includes field security refusals: they concern this card only.
        raise CardRejected(_service_errors(exc)) from None
    return {"id": contact.pk, "name": contact.full_name, "notes": card.notes}


def _existing_email(user: Principal, card: CardData) -> str:
    """The first of the card's emails that a contact the user can see already has."""
    wanted = []
    for item in card.emails:
        try:
            wanted.append(normalize_email(item.value))
        except ValueError:
            continue
    if not wanted:
        return ""
    match = (
        Contact.objects.visible_to(user)
        .filter(Q(email__in=wanted) | Q(emails__email__in=wanted))
        .values_list("email", flat=True)
        .first()
    )
    if match is None:
        return ""
    return match if match in wanted else wanted[0]


def count_cards(data: bytes) -> int:
    return data.upper().count(b"BEGIN:VCARD")


def _require_create(user: Principal) -> None:
    if not user.access_profile().may(Contact.object_type(), Action.CREATE):
        raise PermissionDenied("Your role may not create contacts.")


def _may_set_birthdate(user: Principal) -> bool:
    access = sensitive_field_access(user, Contact)
    return access.get("birthdate", FieldAccess.EDIT) == FieldAccess.EDIT


def _import_cards(
    user: Principal, cards: list[CardData], via: str, report: ImportReport, may_set_birthdate: bool
) -> None:
    for card in cards:
        duplicate = _existing_email(user, card)
        if duplicate:
            report.skipped.append(
                {
                    "card": card.number,
                    "name": card.display_name,
                    "reason": f"A contact with the email {duplicate} already exists.",
                }
            )
            continue
        try:
            report.created.append(_import_card(user, card, via, may_set_birthdate))
        except CardRejected as exc:
            report.failed.append(
                {"card": card.number, "name": card.display_name, "errors": exc.errors}
            )


def contacts_import_vcard(*, user: Principal, data: bytes, via: str) -> ImportReport:
    """Create a contact per card in ``data``; VCardError if the file is not vCards."""
    _require_create(user)
    found = count_cards(data)
    if found > MAX_IMPORT_CARDS:
        raise VCardError(
            f"The file holds {found:,} cards; import at most {MAX_IMPORT_CARDS:,} at a time "
            "(split the file)."
        )
    cards = read_cards(data)
    report = ImportReport()
    _import_cards(user, cards, via, report, _may_set_birthdate(user))
    return report


# ---------- import in the background (large files) ----------


def vcard_import_in_background(data: bytes) -> bool:
    """Whether ``data`` is too large to import within a request."""
    return len(data) > BACKGROUND_MIN_BYTES or count_cards(data) > BACKGROUND_MIN_CARDS


def vcard_import_start(*, user: Principal, data: bytes, filename: str) -> Job:
    """Check ``data`` now (a file that is not vCards starts nothing), keep it in the file
    storage the workers share, and start a Job that imports it card by card."""
    _require_create(user)
    found = count_cards(data)
    if found > MAX_BACKGROUND_CARDS:
        raise VCardError(
            f"The file holds {found:,} cards; import at most {MAX_BACKGROUND_CARDS:,} at a "
            "time (split the file)."
        )
    cards = read_cards(data)
    stored = default_storage.save(f"{IMPORT_DIR}/{uuid.uuid4().hex}.vcf", ContentFile(data))
    return job_start(
        kind=VCARD_IMPORT_KIND,
        user=user,
        params={"file": stored, "filename": filename[:200], "cards": len(cards)},
        task_name=VCARD_IMPORT_TASK,
    )


def _forget_upload(job: Job) -> None:
    """The uploaded file holds personal data: keep it no longer than the import needs it."""
    name = str(job.params.get("file") or "")
    if name and default_storage.exists(name):
        default_storage.delete(name)


def _run_import(job: Job) -> dict[str, Any]:
    """Import the job's cards in chunks, each committed with the report so far.

    A redelivered message resumes after the last committed chunk, so no card is imported
    twice; a chunk cut short by a lost worker is rolled back and done again.
    """
    total = int(job.params.get("cards") or 0)
    state = job.result or {}
    report = ImportReport(
        created=list(state.get("created", [])),
        skipped=list(state.get("skipped", [])),
        failed=list(state.get("failed", [])),
    )
    done = int(state.get("next", 0))
    user = job.created_by
    try:
        if done < total:
            if user is None or not user.is_active:
                raise PermissionDenied("The user who started this import can no longer sign in.")
            with default_storage.open(str(job.params["file"]), "rb") as upload:
                cards = read_cards(upload.read())
            may_set_birthdate = _may_set_birthdate(user)
            for start in range(done, len(cards), JOB_CHUNK):
                chunk = cards[start : start + JOB_CHUNK]
                with transaction.atomic():
                    _import_cards(user, chunk, Via.IMPORT, report, may_set_birthdate)
                    done = start + len(chunk)
                    job.result = {**report.as_dict(), "next": done}
                    Job.objects.filter(pk=job.pk).update(result=job.result)
                    job_progress(
                        job,
                        done=done,
                        total=len(cards),
                        message=f"{done:,} of {len(cards):,} cards read",
                    )
    except Exception:
        _forget_upload(job)
        raise
    _forget_upload(job)
    return {**report.as_dict(), "next": done}


def vcard_import_run(*, job_id: int) -> None:
    """The body of the background import task: safe to run again for the same job."""
    job_execute(job_id, _run_import)


def vcard_import_job_get(*, user: Principal, pk: Any) -> Job:
    """A vCard import job that ``user`` started (administrators see every one)."""
    job = Job.objects.filter(pk=pk, kind=VCARD_IMPORT_KIND).select_related("created_by").first()
    if job is None or not (job.created_by_id == user.pk or user.access_profile().is_admin):
        raise RecordNotFound(f"No vCard import with id {pk}.")
    return job


# ---------- export (read side) ----------


def contact_card(contact: Contact, *, hidden: frozenset[str]) -> ContactCard:
    """The card of a contact whose emails, phones and addresses are prefetched."""
    return ContactCard(
        pk=contact.pk,
        first_name=contact.first_name,
        last_name=contact.last_name,
        salutation=contact.salutation,
        title=contact.title,
        organisation=contact.account.name if contact.account_id and contact.account else "",
        department=contact.department,
        language=contact.language,
        time_zone=contact.time_zone,
        note=contact.description,
        birthdate=None if "birthdate" in hidden else contact.birthdate,
        updated_at=contact.updated_at,
        emails=tuple((e.kind, e.email, e.is_primary) for e in contact.emails.all()),
        phones=tuple((p.kind, p.number, p.is_primary) for p in contact.phones.all()),
        addresses=tuple(
            {
                "kind": a.kind,
                "street": a.street,
                "city": a.city,
                "region": a.region,
                "postal_code": a.postal_code,
                "country": a.country,
                "is_primary": a.is_primary,
            }
            for a in contact.addresses.all()
        ),
    )


def contact_vcard(contact: Contact, *, user: Principal) -> str:
    return write_vcard(contact_card(contact, hidden=hidden_field_names(user, Contact)))


def with_channels(rows: QuerySet[Contact]) -> QuerySet[Contact]:
    return rows.prefetch_related(
        Prefetch("emails", queryset=ContactEmail.objects.all()),
        Prefetch("phones", queryset=ContactPhone.objects.all()),
        Prefetch("addresses", queryset=ContactAddress.objects.all()),
    )


@dataclass(frozen=True)
class ListExport:
    rows: QuerySet[Contact]
    count: int
    too_many: bool


def contact_list_export(*, user: Principal, query: str) -> ListExport:
    """The exportable rows of the contact list ``query`` describes (filters and sort).

    Counting stops past the cap; a list within it is recorded as a security event.
    """
    if not user.access_profile().may(Contact.object_type(), Action.EXPORT):
        raise PermissionDenied("Your role may not export contacts.")
    state = QueryDict(query)
    rows = with_channels(export_rows(CONTACT_EXPORT, user, state.urlencode()))
    count = rows[: MAX_EXPORT_CONTACTS + 1].count()
    too_many = count > MAX_EXPORT_CONTACTS
    if not too_many:
        record_export(
            user, object_type=Contact.object_type(), query=query, file_format="vcard", rows=count
        )
    return ListExport(rows=rows, count=count, too_many=too_many)


def vcard_stream(rows: QuerySet[Contact], *, user: Principal) -> Iterator[bytes]:
    """The cards of ``rows`` as UTF-8, read in chunks so memory stays bounded."""
    hidden = hidden_field_names(user, Contact)
    for contact in rows.iterator(chunk_size=EXPORT_CHUNK):
        yield write_vcard(contact_card(contact, hidden=hidden)).encode("utf-8")
