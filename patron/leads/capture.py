"""Web-to-lead capture: form configuration, spam checks, matching, double opt-in.

Every submission is recorded as a ``CaptureSubmission`` with its outcome (created, merged,
spam, rate limited, invalid) and the values sent, so nothing a visitor typed is lost.
Spam gets the same answer as success, so a bot learns nothing from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from patron.core.choices import Via
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.values import normalize_email, normalize_phone
from patron.core.visibility import require_admin
from patron.leads.choices import CaptureMatchAction, CaptureOutcome, LeadSource, OptInState
from patron.leads.models import CaptureForm, CaptureSubmission, Lead
from patron.leads.selectors import (
    account_by_domain,
    company_domain,
    contact_by_email,
    lead_settings,
    open_lead_by_email,
)
from patron.leads.services import lead_create, lead_system_update
from patron.users.models import User

CAPTURE_ADMIN_ONLY = "Only administrators set up lead capture forms."

# Lead fields a capture form can ask for, with their default labels.
CAPTURE_FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "company": "Company",
    "title": "Job title",
    "website": "Website",
    "industry": "Industry",
    "employee_count": "Number of employees",
    "city": "City",
    "region": "State or region",
    "postal_code": "Postal code",
    "country": "Country (two-letter code)",
    "language": "Language",
    "description": "Message",
}
# A field humans never see (hidden off-screen) and so leave empty; bots fill it in.
HONEYPOT_FIELD = "fax_number"
# A signed timestamp of when the form was served; a submission sooner than
# MIN_FILL_SECONDS after it is a bot.
FILL_TOKEN_FIELD = "form_token"
MIN_FILL_SECONDS = 3
RATE_WINDOW = timedelta(hours=1)
VALUE_LIMIT = 2000
OPT_IN_MAX_AGE = 60 * 60 * 24 * 30
_FILL_SALT = "patron.leads.capture.fill"
_OPT_IN_SALT = "patron.leads.capture.opt_in"
_SENDER_SALT = b"patron.leads.capture.sender"
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


# ---------- form configuration ----------


def _clean_fields(value: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        errors["fields"] = ["Choose the fields the form asks for."]
        return []
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        name = item.get("field") if isinstance(item, dict) else None
        if name not in CAPTURE_FIELDS:
            errors.setdefault("fields", []).append(
                f"Field {index + 1}: {name!r} is not a lead field a form can ask for; choose "
                f"from {', '.join(CAPTURE_FIELDS)}."
            )
            continue
        if name in seen:
            errors.setdefault("fields", []).append(f"{name} is on the form twice.")
            continue
        seen.add(name)
        label = str(item.get("label") or CAPTURE_FIELDS[name]).strip()[:100]
        cleaned.append({"field": name, "label": label, "required": bool(item.get("required"))})
    if "last_name" not in seen:
        errors.setdefault("fields", []).append("The form must ask for the last name.")
    for item in cleaned:
        if item["field"] == "last_name":
            item["required"] = True
    return cleaned


def _clean_origins(value: Any, errors: dict[str, list[str]]) -> list[str]:
    if value in (None, ""):
        return []
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list):
        errors["allowed_origins"] = ["List the origins, e.g. https://www.example.com."]
        return []
    origins: list[str] = []
    for item in items:
        origin = str(item).strip().lower().rstrip("/")
        if not _ORIGIN.match(origin):
            errors.setdefault("allowed_origins", []).append(
                f"{item!r} is not an origin; write scheme and host only, e.g. "
                "https://www.example.com (no path)."
            )
        elif origin not in origins:
            origins.append(origin)
    return origins


CONFIG_FIELDS = frozenset(
    {
        "name",
        "is_active",
        "fields",
        "double_opt_in",
        "match_action",
        "default_owner",
        "default_source",
        "default_campaign",
        "thank_you_message",
        "redirect_url",
        "allowed_origins",
        "max_submissions_per_hour",
    }
)


def _clean_config(data: Mapping[str, Any], instance: CaptureForm) -> dict[str, Any]:
    unknown = set(data) - CONFIG_FIELDS
    errors: dict[str, list[str]] = {name: ["Unknown setting."] for name in unknown}
    values = {k: v for k, v in data.items() if k in CONFIG_FIELDS}
    if "name" in values or not instance.pk:
        values["name"] = str(values.get("name") or "").strip()[:150]
        if not values["name"]:
            errors["name"] = ["Name the form (only admins see it)."]
    if "fields" in values or not instance.pk:
        values["fields"] = _clean_fields(values.get("fields"), errors)
    if "allowed_origins" in values:
        values["allowed_origins"] = _clean_origins(values["allowed_origins"], errors)
    if "match_action" in values and values["match_action"] not in CaptureMatchAction.values:
        errors["match_action"] = ["Choose one of: " + ", ".join(CaptureMatchAction.values) + "."]
    if "default_source" in values and values["default_source"] not in LeadSource.values:
        errors["default_source"] = ["Choose one of: " + ", ".join(LeadSource.values) + "."]
    owner = values.get("default_owner", instance.default_owner if instance.pk else None)
    if not isinstance(owner, User) or not owner.is_active:
        errors["default_owner"] = ["Choose an active user who owns new leads until routed."]
    if values.get("redirect_url"):
        try:
            URLValidator(schemes=["http", "https"])(values["redirect_url"])
        except Exception:
            errors["redirect_url"] = ["Enter a full web address starting with https://."]
    if "thank_you_message" in values:
        values["thank_you_message"] = str(values["thank_you_message"] or "").strip()[:500]
        if not values["thank_you_message"]:
            errors["thank_you_message"] = ["Write what visitors read after sending the form."]
    if "max_submissions_per_hour" in values:
        limit = values["max_submissions_per_hour"]
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            errors["max_submissions_per_hour"] = ["Use a whole number from 1 to 10000."]
    if "default_campaign" in values:
        values["default_campaign"] = str(values["default_campaign"] or "").strip()[:150]
    fields = values.get("fields", instance.fields)
    double = values.get("double_opt_in", instance.double_opt_in)
    if double and not any(f["field"] == "email" and f["required"] for f in fields or []):
        errors["double_opt_in"] = ["Double opt-in needs the email field, marked required."]
    if errors:
        raise ValidationFailed("The capture form was not saved.", errors=errors)
    return values


def new_form_key() -> str:
    return secrets.token_urlsafe(15)


def capture_form_create(*, user: User, data: Mapping[str, Any]) -> CaptureForm:
    require_admin(user, CAPTURE_ADMIN_ONLY)
    values = _clean_config(data, CaptureForm())
    form = CaptureForm(**values, key=new_form_key(), created_by=user)
    form.save()
    return form


def capture_form_update(*, user: User, form: CaptureForm, data: Mapping[str, Any]) -> CaptureForm:
    require_admin(user, CAPTURE_ADMIN_ONLY)
    values = _clean_config(data, form)
    for name, value in values.items():
        setattr(form, name, value)
    form.save()
    return form


def capture_form_new_key(*, user: User, form: CaptureForm) -> CaptureForm:
    """Give the form a new key: snippets with the old key stop working (after abuse)."""
    require_admin(user, CAPTURE_ADMIN_ONLY)
    form.key = new_form_key()
    form.save(update_fields=["key"])
    return form


# ---------- spam checks ----------


def sender_digest(address: str) -> str:
    """A keyed digest of the sender's IP address: rate limits without storing the address."""
    key = hmac.new(settings.SECRET_KEY.encode(), _SENDER_SALT, hashlib.sha256).digest()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def fill_token(form: CaptureForm, *, issued_at: float | None = None) -> str:
    """The signed time the form was served, for the minimum fill time."""
    moment = int(time.time() if issued_at is None else issued_at)
    return signing.dumps({"k": form.key, "t": moment}, salt=_FILL_SALT)


def _fill_problem(form: CaptureForm, token: str) -> str:
    """Why the fill token marks a bot ("" when it is fine)."""
    try:
        payload = signing.loads(token, salt=_FILL_SALT)
    except signing.BadSignature:
        return "bad_token"
    if not isinstance(payload, dict) or payload.get("k") != form.key:
        return "bad_token"
    issued = payload.get("t")
    if not isinstance(issued, int) or time.time() - issued < MIN_FILL_SECONDS:
        return "too_fast"
    return ""


def _submitted_values(data: Mapping[str, Any]) -> dict[str, str]:
    """What was sent, truncated, for the submission record (never the spam-check fields)."""
    kept: dict[str, str] = {}
    for name, value in list(data.items())[:40]:
        if name in (FILL_TOKEN_FIELD,):
            continue
        kept[str(name)[:50]] = str(value if value is not None else "")[:VALUE_LIMIT]
    return kept


# ---------- submitting ----------


@dataclass
class CaptureResult:
    outcome: str
    submission: CaptureSubmission
    lead: Lead | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """What the visitor is told: spam is "accepted" too, so bots learn nothing."""
        return self.outcome in (CaptureOutcome.CREATED, CaptureOutcome.MERGED, CaptureOutcome.SPAM)


def _record(
    form: CaptureForm, digest: str, outcome: str, detail: dict[str, Any], lead: Lead | None = None
) -> CaptureSubmission:
    return CaptureSubmission.objects.create(
        form=form, sender_digest=digest, outcome=outcome, detail=detail, lead=lead
    )


def _clean_values(
    form: CaptureForm, data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for item in form.fields:
        name, label = item["field"], item["label"]
        raw = data.get(name)
        text = str(raw).strip() if raw is not None else ""
        if not text:
            if item.get("required"):
                errors[name] = [f"{label} is required."]
            continue
        if len(text) > VALUE_LIMIT:
            errors[name] = [f"{label} is too long (at most {VALUE_LIMIT} characters)."]
            continue
        try:
            if name == "email":
                values[name] = normalize_email(text)
            elif name in ("phone", "mobile"):
                country = str(data.get("country") or "").strip().upper() or None
                values[name] = normalize_phone(text, country)
            elif name == "employee_count":
                if not text.isdigit():
                    raise ValueError(f"{label} is a whole number, e.g. 50.")
                values[name] = int(text)
            elif name == "website" and not re.match(r"^https?://", text):
                values[name] = f"https://{text}"
            else:
                values[name] = text
        except ValueError as exc:
            errors[name] = [f"{label}: {exc}"]
    return values, errors


def _opt_in_token(submission: CaptureSubmission) -> str:
    return signing.dumps(submission.pk, salt=_OPT_IN_SALT)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _send_opt_in(
    form: CaptureForm,
    lead: Lead,
    submission: CaptureSubmission,
    confirm_url: Callable[[str], str],
) -> None:
    token = _opt_in_token(submission)
    submission.opt_in_token_digest = _digest(token)
    submission.save(update_fields=["opt_in_token_digest"])
    link = confirm_url(token)
    name = lead.first_name or lead.last_name
    body = (
        f"Hello {name},\n\n"
        f"please confirm that you want us to contact you at {lead.email}:\n\n{link}\n\n"
        "If you did not fill in our form, ignore this message and you will not hear from us."
    )
    recipient = lead.email
    transaction.on_commit(
        lambda: send_mail(
            f"Please confirm your request ({form.name})",
            body,
            None,
            [recipient],
            fail_silently=False,
        )
    )


def _merge_blanks(lead: Lead, values: dict[str, Any], matches: dict[str, Any]) -> Lead:
    changes = {k: v for k, v in {**values, **matches}.items() if v and not getattr(lead, k)}
    if not changes:
        return lead
    return lead_system_update(lead=lead, changes=changes, via=Via.API)


def _matches(email: str) -> dict[str, Any]:
    """The contact with this email and its account, else the account with its company
    domain (public mail domains never match)."""
    contact = contact_by_email(email)
    if contact is not None:
        return {"matched_contact": contact, "matched_account": contact.account}
    domain = company_domain(email, settings=lead_settings()) if email else ""
    account = account_by_domain(domain)
    return {"matched_account": account} if account is not None else {}


def capture_submit(
    *,
    form: CaptureForm,
    data: Mapping[str, Any],
    sender_address: str,
    confirm_url: Callable[[str], str],
    require_fill_token: bool,
    via: str = Via.API,
) -> CaptureResult:
    """Take one submission of ``form``; the result says what happened (always recorded)."""
    digest = sender_digest(sender_address)
    sent = _submitted_values(data)
    since = timezone.now() - RATE_WINDOW
    recent = CaptureSubmission.objects.filter(
        form=form, sender_digest=digest, received_at__gte=since
    ).count()
    if recent >= form.max_submissions_per_hour:
        submission = _record(form, digest, CaptureOutcome.RATE_LIMITED, {"values": sent})
        return CaptureResult(CaptureOutcome.RATE_LIMITED, submission)
    spam_reason = ""
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        spam_reason = "honeypot"
    else:
        token = str(data.get(FILL_TOKEN_FIELD) or "")
        if token:
            spam_reason = _fill_problem(form, token)
        elif require_fill_token:
            spam_reason = "no_token"
    if spam_reason:
        submission = _record(
            form, digest, CaptureOutcome.SPAM, {"values": sent, "reason": spam_reason}
        )
        return CaptureResult(CaptureOutcome.SPAM, submission)
    values, errors = _clean_values(form, data)
    if errors:
        submission = _record(
            form, digest, CaptureOutcome.INVALID, {"values": sent, "errors": errors}
        )
        return CaptureResult(CaptureOutcome.INVALID, submission, errors=errors)
    email = values.get("email", "")
    matches = _matches(email) if form.match_action != CaptureMatchAction.CREATE else {}
    try:
        with transaction.atomic():
            existing = None
            if form.match_action == CaptureMatchAction.MERGE:
                existing = open_lead_by_email(email)
            if existing is not None:
                lead = _merge_blanks(existing, values, matches)
                outcome = CaptureOutcome.MERGED
            else:
                lead = _create_lead(form, values, matches, via=via)
                outcome = CaptureOutcome.CREATED
            submission = _record(form, digest, outcome, {"values": sent}, lead=lead)
            if form.double_opt_in and lead.opt_in_state != OptInState.CONFIRMED:
                _send_opt_in(form, lead, submission, confirm_url)
    except ValidationFailed as exc:
        # A value the lead itself refuses (a malformed website, say): recorded, not lost.
        submission = _record(
            form, digest, CaptureOutcome.INVALID, {"values": sent, "errors": exc.errors}
        )
        return CaptureResult(CaptureOutcome.INVALID, submission, errors=exc.errors)
    return CaptureResult(outcome, submission, lead=lead)


def _create_lead(
    form: CaptureForm, values: dict[str, Any], matches: dict[str, Any], *, via: str
) -> Lead:
    data: dict[str, Any] = {
        **values,
        **matches,
        "owner": form.default_owner,
        "source": form.default_source,
        "source_detail": form.name[:255],
        "campaign": form.default_campaign,
        "capture_form": form,
    }
    if form.double_opt_in:
        data["opt_in_state"] = OptInState.PENDING
        # No marketing email until the person confirms the address is theirs.
        data["email_opt_out"] = True
    return lead_create(user=None, data=data, via=via)


def capture_confirm_opt_in(*, token: str) -> Lead | None:
    """Confirm the address of the submission behind ``token`` (clicking twice is harmless).

    Returns the lead (None if it was removed since); RecordNotFound for a bad link.
    """
    problem = (
        "This confirmation link is not valid or has expired. Fill in the form again to get a "
        "new one."
    )
    try:
        pk = signing.loads(token, salt=_OPT_IN_SALT, max_age=OPT_IN_MAX_AGE)
    except signing.BadSignature:
        raise RecordNotFound(problem) from None
    submission = (
        CaptureSubmission.objects.filter(pk=pk, opt_in_token_digest=_digest(token))
        .select_related("lead")
        .first()
    )
    if submission is None:
        raise RecordNotFound(problem)
    lead = submission.lead
    with transaction.atomic():
        if submission.opt_in_confirmed_at is None:
            submission.opt_in_confirmed_at = timezone.now()
            submission.save(update_fields=["opt_in_confirmed_at"])
        pending = lead is not None and lead.opt_in_state != OptInState.CONFIRMED
        # A converted lead is read-only; its submission still records the confirmation.
        if lead is not None and pending and lead.converted_at is None:
            lead = lead_system_update(
                lead=lead,
                changes={
                    "opt_in_state": OptInState.CONFIRMED,
                    "opt_in_confirmed_at": submission.opt_in_confirmed_at,
                    "email_opt_out": False,
                },
                via=Via.API,
            )
    return lead


def origin_allowed(form: CaptureForm, origin: str) -> bool:
    """Whether a browser on ``origin`` may post this form through the API."""
    if not origin:
        return False
    parts = urlsplit(origin.lower())
    return f"{parts.scheme}://{parts.netloc}" in (form.allowed_origins or [])
