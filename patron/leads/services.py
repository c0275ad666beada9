"""The write path for leads; views, the API, capture, conversion and routing all call these.

Leads are archived, never deleted; a converted lead is read-only (``LeadReadOnly``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from patron.core import events, records, search
from patron.core.choices import Action, FieldAccess, Via
from patron.core.custom_fields import clean_custom_values
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.values import email_domain, normalize_domain, normalize_email, normalize_phone
from patron.core.visibility import Principal, sensitive_field_access
from patron.leads.choices import DisqualificationReason, LeadStatus
from patron.leads.models import Lead

# Fields people edit (forms, API, imports); the rest are kept by the system (scores,
# routing, first response, opt-in, matches, conversion, archiving).
LEAD_FIELDS = frozenset(
    {
        "salutation",
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "mobile",
        "language",
        "company",
        "website",
        "domain",
        "industry",
        "employee_count",
        "annual_revenue",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "description",
        "email_opt_out",
        "external_id",
        "source",
        "source_detail",
        "campaign",
        "status",
        "disqualification_reason",
        "disqualification_note",
        "owner",
        "team",
        "queue",
    }
)
# The statuses a lead moves through before it is converted or disqualified, in order.
STATUS_PATH = (
    LeadStatus.NEW,
    LeadStatus.WORKING,
    LeadStatus.NURTURING,
    LeadStatus.QUALIFIED,
)


# Set by capture when it creates a lead; never accepted from forms or the API.
SYSTEM_CREATE_FIELDS = frozenset(
    {
        "opt_in_state",
        "capture_form",
        "matched_contact",
        "matched_account",
    }
)


class LeadReadOnly(ValidationFailed):
    """A write to a converted lead: nothing is changed."""

    status = 409
    title = "Lead already converted"

    def __init__(self, lead: Lead) -> None:
        super().__init__(
            f"The lead {lead} was converted on {lead.converted_at:%Y-%m-%d} and is read-only; "
            "change the account, contact or opportunity it became instead.",
            errors={"lead": ["This lead was converted and can no longer be changed."]},
        )


def _refuse_converted(lead: Lead) -> None:
    if lead.converted_at is not None:
        raise LeadReadOnly(lead)


def _check_field_security(user: Principal, fields: dict[str, Any]) -> None:
    access = sensitive_field_access(user, Lead)
    names = [*fields, *(f"custom.{key}" for key in fields.get("custom") or {})]
    blocked = [name for name in names if access.get(name, FieldAccess.EDIT) != FieldAccess.EDIT]
    if blocked:
        raise PermissionDenied(
            "You may not change these fields: " + ", ".join(blocked) + ".",
            errors={name: ["You do not have edit access to this field."] for name in blocked},
        )


def _field_values(instance: Lead) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _model_errors(probe: Lead) -> dict[str, list[str]]:
    exclude = {"owner", "team", "queue", "created_by", "deleted_by", "custom", "capture_form"}
    exclude |= {"matched_contact", "matched_account", "converted_by", "converted_account"}
    exclude |= {"converted_contact"}
    try:
        probe.full_clean(exclude=sorted(exclude), validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        return {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    return {}


def _text(value: Any) -> str:
    return str(value or "").strip()


def clean_lead(data: dict[str, Any], *, instance: Lead) -> dict[str, Any]:
    """Validated values of ``data`` for ``instance`` (errors keyed by field)."""
    unknown = set(data) - LEAD_FIELDS - {"custom"}
    if unknown:
        raise ValidationFailed(
            "Unknown fields.",
            errors={name: ["This field does not exist or is kept by Patron."] for name in unknown},
        )
    errors: dict[str, list[str]] = {}
    cleaned = dict(data)
    if "last_name" in cleaned or not instance.pk:
        cleaned["last_name"] = _text(cleaned.get("last_name", instance.last_name))
        if not cleaned["last_name"]:
            errors["last_name"] = ["Enter the lead's last name."]
    for name in ("first_name", "company", "title", "campaign", "city", "region"):
        if name in cleaned:
            cleaned[name] = _text(cleaned[name])
    if cleaned.get("email"):
        try:
            cleaned["email"] = normalize_email(cleaned["email"])
        except ValueError as exc:
            errors["email"] = [str(exc)]
    country = _text(cleaned.get("country", instance.country)).upper()
    if "country" in cleaned:
        if country and not (len(country) == 2 and country.isalpha()):
            errors["country"] = [
                f"{cleaned['country']!r} is not a country code; use two letters, e.g. DE or US."
            ]
        cleaned["country"] = country
    for name in ("phone", "mobile"):
        if cleaned.get(name):
            try:
                cleaned[name] = normalize_phone(cleaned[name], country or None)
            except ValueError as exc:
                errors[name] = [str(exc)]
    if cleaned.get("domain"):
        cleaned["domain"] = normalize_domain(cleaned["domain"])
    elif cleaned.get("website"):
        cleaned["domain"] = normalize_domain(cleaned["website"])
    elif cleaned.get("email") and "email" not in errors and not instance.domain:
        cleaned["domain"] = email_domain(cleaned["email"])
    status = cleaned.get("status", instance.status)
    if status == LeadStatus.DISQUALIFIED:
        reason = cleaned.get("disqualification_reason", instance.disqualification_reason)
        if not reason:
            errors["disqualification_reason"] = ["Say why the lead is disqualified."]
    elif "status" in cleaned:
        cleaned.setdefault("disqualification_reason", "")
    if "custom" in cleaned:
        merged, custom_errors = clean_custom_values(
            Lead.object_type(), cleaned["custom"] or {}, existing=instance.custom
        )
        cleaned["custom"] = merged
        errors.update(custom_errors)
    elif not instance.pk:
        _, custom_errors = clean_custom_values(Lead.object_type(), {})
        errors.update(custom_errors)
    probe = Lead(**{**_field_values(instance), **cleaned})
    for name, messages in _model_errors(probe).items():
        errors.setdefault(name, messages)
    if errors:
        raise ValidationFailed("Please correct the highlighted fields.", errors=errors)
    return cleaned


def _status_event(lead: Lead, before: str, *, actor: Any) -> None:
    if lead.status != before:
        events.emit(
            "lead.status_changed",
            pk=lead.pk,
            actor_id=getattr(actor, "pk", None),
            old=before,
            new=lead.status,
        )
        if lead.status == LeadStatus.DISQUALIFIED:
            events.emit(
                "lead.disqualified",
                pk=lead.pk,
                actor_id=getattr(actor, "pk", None),
                reason=lead.disqualification_reason,
            )


def lead_create(*, user: Principal | None, data: dict[str, Any], via: str = Via.UI) -> Lead:
    """Create a lead; ``user`` None is the system (capture), which needs an ``owner``."""
    if user is not None:
        if not user.access_profile().may(Lead.object_type(), Action.CREATE):
            raise PermissionDenied("Your role may not create leads.")
        _check_field_security(user, {k: v for k, v in data.items() if v not in (None, "")})
    values = dict(data)
    system = {k: values.pop(k) for k in list(values) if k in SYSTEM_CREATE_FIELDS}
    if user is not None:
        values.setdefault("owner", user)
    cleaned = clean_lead(values, instance=Lead())
    if cleaned.get("owner") is None:
        raise ValidationFailed("A lead needs an owner.", errors={"owner": ["Choose the owner."]})
    with transaction.atomic():
        lead = records.record_create(Lead(**cleaned, **system), actor=user, via=via)
        search.index_record(lead)
    return lead


def lead_update(
    *,
    user: Principal | None,
    lead: Lead,
    data: dict[str, Any],
    expected_version: int | None = None,
    via: str = Via.UI,
) -> Lead:
    _refuse_converted(lead)
    if user is not None:
        _check_field_security(user, data)
    cleaned = clean_lead(data, instance=lead)
    before = lead.status
    with transaction.atomic():
        lead = records.record_update(
            lead, changes=cleaned, actor=user, via=via, expected_version=expected_version
        )
        search.index_record(lead)
        _status_event(lead, before, actor=user)
    return lead


def lead_system_update(
    *, lead: Lead, changes: dict[str, Any], actor: Any = None, via: str = Via.SYSTEM
) -> Lead:
    """Write fields Patron keeps (routing, deadlines, scores, opt-in, matches) without
    validation of user input, at the lead's current version, with the change logged."""
    _refuse_converted(lead)
    current = Lead.all_objects.get(pk=lead.pk)
    with transaction.atomic():
        return records.record_update(current, changes=changes, actor=actor, via=via)


def lead_set_status(*, user: Principal, lead: Lead, status: str, via: str = Via.UI) -> Lead:
    if status not in LeadStatus.values:
        raise ValidationFailed(
            "Unknown status.",
            errors={"status": ["Choose one of: " + ", ".join(LeadStatus.values) + "."]},
        )
    if status == LeadStatus.DISQUALIFIED:
        raise ValidationFailed(
            "Disqualify the lead with a reason.",
            errors={"status": ["Use “Disqualify” and say why."]},
        )
    return lead_update(user=user, lead=lead, data={"status": status}, via=via)


def lead_disqualify(
    *, user: Principal, lead: Lead, reason: str, note: str = "", via: str = Via.UI
) -> Lead:
    if not reason:
        raise ValidationFailed(
            "Say why the lead is disqualified.",
            errors={"reason": ["Choose a reason."]},
        )
    if reason not in DisqualificationReason.values:
        raise ValidationFailed(
            "Unknown reason.",
            errors={"reason": ["Choose one of: " + ", ".join(DisqualificationReason.values)]},
        )
    return lead_update(
        user=user,
        lead=lead,
        data={
            "status": LeadStatus.DISQUALIFIED,
            "disqualification_reason": reason,
            "disqualification_note": _text(note),
        },
        via=via,
    )


def lead_archive(*, user: Principal, lead: Lead, via: str = Via.UI) -> Lead:
    """Hide the lead from default lists; it stays searchable with the Archived filter."""
    _refuse_converted(lead)
    if lead.archived_at is not None:
        return lead
    with transaction.atomic():
        lead = records.record_update(
            lead, changes={"archived_at": timezone.now()}, actor=user, via=via
        )
        events.emit("lead.archived", pk=lead.pk, actor_id=getattr(user, "pk", None))
    return lead


def lead_restore(*, user: Principal, lead: Lead, via: str = Via.UI) -> Lead:
    _refuse_converted(lead)
    if lead.archived_at is None:
        return lead
    with transaction.atomic():
        lead = records.record_update(lead, changes={"archived_at": None}, actor=user, via=via)
        events.emit("lead.restored", pk=lead.pk, actor_id=getattr(user, "pk", None))
    return lead
