"""The write path of every contact related list (see related_lists.py), and consent.

Whoever may edit a contact may change its related rows. Each write is one line in the
contact's change log ("Literature requests: — → Brochure (Email, 2025-01-02)"), so the
contact's history shows it, and emits ``contact.related_row_changed``.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from patron.contacts.choices import ConsentPurpose, ConsentStatus
from patron.contacts.consent import consent_change_record
from patron.contacts.models import Contact, ContactConsent
from patron.contacts.related_lists import CONSENTS, Errors, RelatedListSpec
from patron.contacts.services import contact_update
from patron.core import events, records
from patron.core.choices import Action, Via
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord
from patron.core.visibility import Principal, can_access

EVENT = "contact.related_row_changed"
# Filled in by the model or the service, never by the caller.
_MANAGED_FIELDS = ["contact", "created_at", "created_by"]


def _require_edit(user: Principal, spec: RelatedListSpec, contact: Contact) -> None:
    if not can_access(user, contact, Action.UPDATE):
        raise PermissionDenied(
            f"You may not edit {contact}, so you cannot change its "
            f"{spec.label_plural.lower()}; ask its owner to share it with edit access."
        )


def _reference(
    user: Principal, model_field: models.ForeignKey[Any, Any], value: Any, current_id: Any
) -> tuple[Any, str]:
    """The record a value (a record or an id) names, if the user may see it or it is the
    one already set; else a message for the field."""
    if value is None or value == "":
        return None, "" if model_field.null else "This field cannot be empty."
    target = model_field.related_model
    assert isinstance(target, type)
    assert issubclass(target, BusinessRecord)
    pk = value.pk if isinstance(value, models.Model) else value
    label = target._meta.verbose_name
    if not isinstance(pk, int) or isinstance(pk, bool):
        return None, f"Give the id of a {label}."
    found = target.objects.visible_to(user).filter(pk=pk).first()
    if found is None and pk == current_id:
        found = target.objects.filter(pk=pk).first()
    return found, "" if found else f"No {label} with id {pk} that you can see."


def _clean(user: Principal, spec: RelatedListSpec, row: Any, fields: dict[str, Any]) -> None:
    """Set ``fields`` on ``row`` and check them; ValidationFailed names every bad field."""
    unknown = sorted(set(fields) - set(spec.fields))
    if unknown:
        raise ValidationFailed(
            "Unknown fields.",
            errors={
                name: [
                    f"Not a field of {spec.label_plural.lower()}; use: {', '.join(spec.fields)}."
                ]
                for name in unknown
            },
        )
    errors: Errors = {}
    for name, value in fields.items():
        model_field = spec.model_field(name)
        if isinstance(model_field, models.ForeignKey):
            value, problem = _reference(user, model_field, value, getattr(row, model_field.attname))
            if problem:
                errors[name] = [problem]
        elif isinstance(model_field, models.CharField | models.TextField):
            value = "" if value is None else str(value).strip()
        setattr(row, name, value)
    try:
        row.full_clean(
            exclude=[*_MANAGED_FIELDS, *errors], validate_unique=False, validate_constraints=False
        )
    except DjangoValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name if name in spec.fields else "__all__", []).extend(messages)
    if not errors:
        for rule in spec.rules:
            for name, messages in rule(row).items():
                errors.setdefault(name, []).extend(messages)
    if not errors and spec.unique and _duplicate(spec, row):
        errors[spec.unique[-1]] = [spec.unique_message]
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)


def _duplicate(spec: RelatedListSpec, row: Any) -> bool:
    same = {name: getattr(row, name) for name in spec.unique}
    return (
        spec.model._default_manager.filter(contact_id=row.contact_id, **same)
        .exclude(pk=row.pk)
        .exists()
    )


def _save(spec: RelatedListSpec, row: Any) -> None:
    """Save ``row``; a twin written by a concurrent request is the same clear error."""
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        if not spec.unique:
            raise
        raise ValidationFailed(
            "Please correct the highlighted fields.",
            errors={spec.unique[-1]: [spec.unique_message]},
        ) from None


def _logged(
    *,
    user: Principal,
    spec: RelatedListSpec,
    contact: Contact,
    row: Any,
    action: str,
    before: str | None,
    after: str | None,
    via: str,
) -> None:
    records.log_change(
        contact, actor=user, via=via, action="update", changes={spec.label_plural: [before, after]}
    )
    events.emit(
        EVENT,
        pk=contact.pk,
        list=spec.key,
        row_id=row.pk,
        action=action,
        actor_id=getattr(user, "pk", None),
    )


def _after_write(
    *, user: Principal, spec: RelatedListSpec, contact: Contact, row: Any, via: str
) -> None:
    if spec is CONSENTS:
        consent_change_record(consent=row, user=user, via=via)
        _sync_email_opt_out(user=user, contact=contact, consent=row, via=via)


def _sync_email_opt_out(
    *, user: Principal, contact: Contact, consent: ContactConsent, via: str
) -> None:
    """Keep the contact's "opted out of email" flag telling the same as the latest
    marketing-email answer: withdrawn or denied opts out, granted opts back in."""
    if consent.purpose != ConsentPurpose.MARKETING_EMAIL:
        return
    opted_out = consent.status != ConsentStatus.GRANTED
    if contact.email_opt_out != opted_out:
        contact_update(user=user, contact=contact, email_opt_out=opted_out, via=via)


def related_row_create(
    *,
    user: Principal,
    spec: RelatedListSpec,
    contact: Contact,
    via: str = Via.UI,
    **fields: Any,
) -> Any:
    """Add a row to ``contact``'s list ``spec``; needs edit access to the contact."""
    _require_edit(user, spec, contact)
    row = spec.model(contact=contact, created_by_id=user.pk)
    _clean(user, spec, row, fields)
    with transaction.atomic():
        _save(spec, row)
        _logged(
            user=user,
            spec=spec,
            contact=contact,
            row=row,
            action="created",
            before=None,
            after=spec.describe(row),
            via=via,
        )
        _after_write(user=user, spec=spec, contact=contact, row=row, via=via)
    return row


def _own_row(spec: RelatedListSpec, contact: Contact, row: Any) -> None:
    if not isinstance(row, spec.model) or row.contact_id != contact.pk:
        raise RecordNotFound(f"{contact} has no such {spec.label.lower()}.")


def related_row_update(
    *,
    user: Principal,
    spec: RelatedListSpec,
    contact: Contact,
    row: Any,
    via: str = Via.UI,
    **fields: Any,
) -> Any:
    """Change ``fields`` of one row of ``contact``'s list ``spec``; the others are kept."""
    _own_row(spec, contact, row)
    _require_edit(user, spec, contact)
    before = spec.describe(row)
    # Checked on a copy so a refused change leaves the caller's row as it was.
    changed = copy.copy(row)
    _clean(user, spec, changed, fields)
    after = spec.describe(changed)
    with transaction.atomic():
        _save(spec, changed)
        if after != before:
            _logged(
                user=user,
                spec=spec,
                contact=contact,
                row=changed,
                action="updated",
                before=before,
                after=after,
                via=via,
            )
        _after_write(user=user, spec=spec, contact=contact, row=changed, via=via)
    return changed


def related_row_delete(
    *, user: Principal, spec: RelatedListSpec, contact: Contact, row: Any, via: str = Via.UI
) -> None:
    """Remove one row of ``contact``'s list ``spec`` (for good: the change log keeps what it
    said)."""
    _own_row(spec, contact, row)
    _require_edit(user, spec, contact)
    before = spec.describe(row)
    with transaction.atomic():
        row_id = row.pk
        row.delete()
        row.pk = row_id
        _logged(
            user=user,
            spec=spec,
            contact=contact,
            row=row,
            action="deleted",
            before=before,
            after=None,
            via=via,
        )


def consent_record(
    *,
    user: Principal,
    contact: Contact,
    purpose: str,
    status: str,
    source: str,
    recorded_at: datetime.datetime | None = None,
    evidence: str = "",
    via: str = Via.UI,
) -> ContactConsent:
    """Record the contact's answer for ``purpose`` (who, what, when, how), replacing any
    earlier answer for it. A marketing-email answer also sets the contact's email opt-out."""
    values = {
        "status": status,
        "source": source,
        "recorded_at": recorded_at or timezone.now(),
        "evidence": evidence,
    }
    existing = ContactConsent.objects.filter(contact=contact, purpose=purpose).first()
    if existing is None:
        created: ContactConsent = related_row_create(
            user=user, spec=CONSENTS, contact=contact, via=via, purpose=purpose, **values
        )
        return created
    updated: ContactConsent = related_row_update(
        user=user, spec=CONSENTS, contact=contact, row=existing, via=via, **values
    )
    return updated
