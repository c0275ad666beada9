"""The lead-handling policy (LeadSettings) and the leads-at-risk selector built on it.

Settings are one row, read with ``lead_settings`` and changed by administrators only with
``lead_settings_update``, which validates every field and names what is wrong.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from patron.activities.models import ActivityLink
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, ValidationFailed
from patron.core.jobs import enqueue
from patron.core.values import normalize_domain
from patron.core.visibility import Principal
from patron.leads.choices import LeadStatus
from patron.leads.models import Lead, LeadSettings

# (field, lowest, highest) of the whole-number settings.
NUMBER_LIMITS: dict[str, tuple[int, int]] = {
    "assign_within_minutes": (1, 24 * 60),
    "first_response_minutes": (1, 14 * 24 * 60),
    "hot_score": (-10_000, 10_000),
    "model_refit_days": (1, 365),
}
SETTING_FIELDS = (*NUMBER_LIMITS, "extra_public_domains")
MAX_EXTRA_DOMAINS = 500
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

# The task that scores every open lead again (leads.tasks; named here to avoid an import
# cycle with scoring, which reads these settings).
RESCORE_TASK = "leads.rescore_leads"

# Leads at risk: how close a first-response deadline counts as "due soon", and how long
# without any change or activity counts as "untouched", unless the list asks otherwise.
DEFAULT_DUE_WITHIN_MINUTES = 15
DEFAULT_UNTOUCHED_DAYS = 7


def lead_settings() -> LeadSettings:
    """The organisation's lead-handling policy (the single row, created on first use)."""
    row, _ = LeadSettings.objects.get_or_create(pk=1)
    return row


def first_response_due(now: datetime.datetime, policy: LeadSettings) -> datetime.datetime:
    return now + datetime.timedelta(minutes=policy.first_response_minutes)


def _whole(value: Any, name: str, errors: dict[str, list[str]]) -> int | None:
    low, high = NUMBER_LIMITS[name]
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        number = int(text) if re.fullmatch(r"-?\d+", text) else None
    if number is None:
        errors[name] = [f"Enter a whole number between {low} and {high}."]
        return None
    if not low <= number <= high:
        errors[name] = [f"Enter a number between {low} and {high} (got {number})."]
        return None
    return number


def clean_domains(value: Any, errors: dict[str, list[str]]) -> list[str]:
    """A list of domains from a list or from text (one per line or comma-separated)."""
    if isinstance(value, str):
        items: list[Any] = [part for part in re.split(r"[\s,;]+", value) if part]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        errors["extra_public_domains"] = ["Give a list of domains such as mail.example."]
        return []
    cleaned: list[str] = []
    bad: list[str] = []
    for item in items:
        domain = normalize_domain(str(item)) if isinstance(item, str) else ""
        if not domain or not _DOMAIN.match(domain):
            bad.append(str(item))
        elif domain not in cleaned:
            cleaned.append(domain)
    if bad:
        errors["extra_public_domains"] = [
            "Not a domain: " + ", ".join(repr(b) for b in bad[:10]) + " (write e.g. mail.example)."
        ]
    elif len(cleaned) > MAX_EXTRA_DOMAINS:
        errors["extra_public_domains"] = [f"At most {MAX_EXTRA_DOMAINS} domains."]
    return cleaned


def lead_settings_update(*, user: Principal, **values: Any) -> LeadSettings:
    """Change the policy; only the given fields change. Administrators only."""
    if not user.access_profile().is_admin:
        raise PermissionDenied("Only administrators may change the lead settings.")
    unknown = sorted(set(values) - set(SETTING_FIELDS))
    errors: dict[str, list[str]] = {
        name: [f"Not a lead setting; settings are: {', '.join(SETTING_FIELDS)}."]
        for name in unknown
    }
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name in NUMBER_LIMITS:
            cleaned[name] = _whole(value, name, errors)
        elif name == "extra_public_domains":
            cleaned[name] = clean_domains(value, errors)
    if errors:
        raise ValidationFailed(
            "The lead settings were not saved: " + ", ".join(sorted(errors)) + ".", errors=errors
        )
    with transaction.atomic():
        row, _ = LeadSettings.objects.select_for_update().get_or_create(pk=1)
        hot_before = row.hot_score
        for name, value in cleaned.items():
            setattr(row, name, value)
        row.save()
        if row.hot_score != hot_before:
            # Whether a lead is hot is stored with its score.
            enqueue(RESCORE_TASK)
    return row


# --- leads at risk ----------------------------------------------------------------------------


class RiskReason:
    UNROUTED = "unrouted"
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    UNTOUCHED = "untouched"

    CHOICES: tuple[tuple[str, str], ...] = (
        (UNROUTED, "Not assigned in time"),
        (OVERDUE, "First response overdue"),
        (DUE_SOON, "First response due soon"),
        (UNTOUCHED, "Untouched"),
    )
    LABELS: dict[str, str] = dict(CHOICES)


@dataclass(frozen=True)
class RiskWindow:
    """The moments the risk conditions compare with, worked out once per request."""

    now: datetime.datetime
    assign_by: datetime.datetime  # created before this and still unrouted: late
    due_soon_until: datetime.datetime
    untouched_since: datetime.datetime

    @classmethod
    def build(
        cls,
        *,
        policy: LeadSettings,
        due_within_minutes: int = DEFAULT_DUE_WITHIN_MINUTES,
        untouched_days: int = DEFAULT_UNTOUCHED_DAYS,
        now: datetime.datetime | None = None,
    ) -> RiskWindow:
        moment = now or timezone.now()
        return cls(
            now=moment,
            assign_by=moment - datetime.timedelta(minutes=policy.assign_within_minutes),
            due_soon_until=moment + datetime.timedelta(minutes=due_within_minutes),
            untouched_since=moment - datetime.timedelta(days=untouched_days),
        )


def open_leads(queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """Leads still to be worked: not converted, disqualified or archived."""
    return queryset.filter(converted_at__isnull=True, archived_at__isnull=True).exclude(
        status=LeadStatus.DISQUALIFIED
    )


def recent_activity(window: RiskWindow) -> Exists:
    """Whether an activity was logged on the lead since the untouched cut-off."""
    return Exists(
        ActivityLink.objects.filter(
            content_type=ContentType.objects.get_for_model(Lead),
            object_id=OuterRef("pk"),
            activity__created_at__gte=window.untouched_since,
        )
    )


def risk_condition(reason: str, window: RiskWindow) -> Q:
    """The SQL condition of one reason; ``untouched`` needs the ``recently_active`` annotation."""
    awaiting = Q(first_responded_at__isnull=True, first_response_due_at__isnull=False)
    if reason == RiskReason.UNROUTED:
        return Q(routed_at__isnull=True, created_at__lte=window.assign_by)
    if reason == RiskReason.OVERDUE:
        return awaiting & Q(first_response_due_at__lte=window.now)
    if reason == RiskReason.DUE_SOON:
        return awaiting & Q(
            first_response_due_at__gt=window.now, first_response_due_at__lte=window.due_soon_until
        )
    if reason == RiskReason.UNTOUCHED:
        return Q(updated_at__lt=window.untouched_since, recently_active=False)
    raise ValueError(f"Unknown risk reason {reason!r}.")


def at_risk_candidates(*, user: Principal, action: str = Action.READ) -> QuerySet[Lead]:
    """The open leads ``user`` may see; ``policy_filters.AtRiskFilter`` keeps those at risk."""
    return open_leads(Lead.objects.visible_to(user, action)).select_related("owner", "queue")


def risk_reasons(lead: Lead, window: RiskWindow) -> list[str]:
    """Why one listed lead is at risk, worked out from the columns already loaded."""
    reasons = []
    due = lead.first_response_due_at
    if lead.routed_at is None and lead.created_at <= window.assign_by:
        reasons.append(RiskReason.UNROUTED)
    if lead.first_responded_at is None and due is not None:
        if due <= window.now:
            reasons.append(RiskReason.OVERDUE)
        elif due <= window.due_soon_until:
            reasons.append(RiskReason.DUE_SOON)
    if lead.updated_at < window.untouched_since and not getattr(lead, "recently_active", True):
        reasons.append(RiskReason.UNTOUCHED)
    return reasons
