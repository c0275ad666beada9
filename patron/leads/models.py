"""Leads, capture forms and their submissions, scoring rules and the learned score model."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patron.core.models import BusinessRecord
from patron.leads.choices import (
    CaptureMatchAction,
    CaptureOutcome,
    DisqualificationReason,
    LeadSource,
    LeadStatus,
    OptInState,
    ScoringKind,
)


class Lead(BusinessRecord):
    """A person (and their company) not yet qualified.

    Leads are archived (``archived_at``), never hard-deleted. ``owner`` always holds a user
    (the capture form's default owner until routing runs); ``queue`` is set while a routing
    queue owns the lead. ``routed_at`` is null until the lead has an owner or a queue by
    routing or by hand: the "never lost" sweep looks for such leads.
    """

    salutation = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    title = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    mobile = models.CharField(max_length=20, blank=True, help_text="E.164")
    language = models.CharField(max_length=10, blank=True)
    company = models.CharField(max_length=255, blank=True)
    website = models.URLField(blank=True)
    domain = models.CharField(max_length=255, blank=True, db_index=True)
    industry = models.CharField(max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    street = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 country code")
    description = models.TextField(blank=True)
    email_opt_out = models.BooleanField(default=False)
    # The record's id in the system it was imported from (Salesforce, HubSpot...): the
    # match key that re-imports use.
    external_id = models.CharField(max_length=100, blank=True, db_index=True)

    source = models.CharField(max_length=20, choices=LeadSource.choices, default=LeadSource.OTHER)
    source_detail = models.CharField(max_length=255, blank=True)
    # A plain reference until the campaigns app exists (issue 5).
    campaign = models.CharField(max_length=150, blank=True)
    status = models.CharField(
        max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW, db_index=True
    )
    disqualification_reason = models.CharField(
        max_length=20, choices=DisqualificationReason.choices, blank=True
    )
    disqualification_note = models.TextField(blank=True)

    score = models.IntegerField(default=0, db_index=True)
    score_fit = models.IntegerField(default=0)
    score_behaviour = models.IntegerField(default=0)
    score_probability = models.FloatField(null=True, blank=True)
    # {"rules": [{"rule_id", "label", "points"}], "model": [{"feature", "label", "effect"}]}
    score_explanation = models.JSONField(default=dict, blank=True)

    queue = models.ForeignKey(
        "routing.RoutingQueue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    routed_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    first_response_seconds = models.PositiveIntegerField(null=True, blank=True)
    deadline_breaches = models.PositiveSmallIntegerField(default=0)
    last_breach_at = models.DateTimeField(null=True, blank=True)

    opt_in_state = models.CharField(
        max_length=20, choices=OptInState.choices, default=OptInState.NOT_REQUIRED
    )
    opt_in_confirmed_at = models.DateTimeField(null=True, blank=True)
    capture_form = models.ForeignKey(
        "leads.CaptureForm", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    converted_at = models.DateTimeField(null=True, blank=True)
    converted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    converted_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Opportunities live in pipeline, above leads: a plain id filled by pipeline's conversion step.
    converted_opportunity_id = models.PositiveBigIntegerField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True, db_index=True)

    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset({"annual_revenue"})

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status"], name="lead_owner_status_idx"),
            models.Index(fields=["last_name", "first_name", "id"], name="lead_name_idx"),
            models.Index(
                fields=["first_response_due_at"],
                name="lead_response_due_idx",
                condition=Q(first_responded_at__isnull=True, converted_at__isnull=True),
            ),
            models.Index(
                fields=["created_at"], name="lead_unrouted_idx", condition=Q(routed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.company})" if self.company else name

    @property
    def is_converted(self) -> bool:
        return self.converted_at is not None


class CaptureForm(models.Model):
    """A web-to-lead form: its key is public (in the embed snippet), never a secret."""

    name = models.CharField(max_length=150)
    key = models.CharField(max_length=40, unique=True)
    is_active = models.BooleanField(default=True)
    # [{"field": "email", "label": "Work email", "required": true}] in display order.
    fields = models.JSONField(default=list)
    double_opt_in = models.BooleanField(default=False)
    match_action = models.CharField(
        max_length=10, choices=CaptureMatchAction.choices, default=CaptureMatchAction.LINK
    )
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    default_source = models.CharField(
        max_length=20, choices=LeadSource.choices, default=LeadSource.WEB_FORM
    )
    default_campaign = models.CharField(max_length=150, blank=True)
    thank_you_message = models.CharField(max_length=500, default="Thank you, we will be in touch.")
    redirect_url = models.URLField(blank=True)
    # Origins allowed to post from the browser (CORS); empty means same origin only.
    allowed_origins = models.JSONField(default=list, blank=True)
    max_submissions_per_hour = models.PositiveIntegerField(
        default=20, help_text="Per sender address"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CaptureSubmission(models.Model):
    """Every submission, kept for rate limiting, opt-in confirmation and troubleshooting."""

    form = models.ForeignKey(CaptureForm, on_delete=models.CASCADE, related_name="submissions")
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    received_at = models.DateTimeField(default=timezone.now)
    # A keyed digest of the sender address: enough to rate-limit, not to identify.
    sender_digest = models.CharField(max_length=64)
    outcome = models.CharField(max_length=20, choices=CaptureOutcome.choices)
    detail = models.JSONField(default=dict, blank=True)
    opt_in_token_digest = models.CharField(max_length=64, blank=True, db_index=True)
    opt_in_confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(
                fields=["form", "sender_digest", "received_at"], name="lead_capture_rate_idx"
            )
        ]


class LeadSettings(models.Model):
    """The organisation's lead-handling policy (one row)."""

    assign_within_minutes = models.PositiveIntegerField(default=5)
    first_response_minutes = models.PositiveIntegerField(default=60)
    # Public mail domains beyond the built-in list that never match an account.
    extra_public_domains = models.JSONField(default=list, blank=True)
    hot_score = models.IntegerField(default=50, help_text="Score at which a lead counts as hot")
    model_refit_days = models.PositiveSmallIntegerField(default=7)
    updated_at = models.DateTimeField(auto_now=True)


class ScoringRule(models.Model):
    """Points added (or subtracted) when a field condition holds or a behaviour occurs."""

    name = models.CharField(max_length=150)
    kind = models.CharField(max_length=10, choices=ScoringKind.choices)
    # Fit: a lead field, an operator and a value. Behaviour: an event type such as
    # "activity.call", "activity.email", "email.opened", "web.visit".
    field = models.CharField(max_length=100, blank=True)
    operator = models.CharField(max_length=20, blank=True)
    value = models.JSONField(default=None, null=True, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    points = models.IntegerField()
    max_points = models.IntegerField(
        null=True, blank=True, help_text="Cap for repeated behaviour events"
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]


class BehaviourEvent(models.Model):
    """One scored behaviour of a lead; unique per source so a replayed event scores once."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="behaviour_events")
    event_type = models.CharField(max_length=100)
    source_key = models.CharField(max_length=150)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "source_key"], name="uniq_lead_behaviour")
        ]


class ScoreModel(models.Model):
    """A logistic model learned from converted and disqualified leads.

    Kept as plain coefficients (no pickle), so loading it never runs code.
    """

    trained_at = models.DateTimeField(default=timezone.now)
    sample_count = models.PositiveIntegerField()
    converted_count = models.PositiveIntegerField()
    disqualified_count = models.PositiveIntegerField()
    # {"feature_name": {"label": "...", "coefficient": 0.4}, ...} plus encoding details.
    features = models.JSONField(default=dict)
    intercept = models.FloatField(default=0.0)
    metrics = models.JSONField(default=dict, blank=True)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="uniq_current_score_model"
            )
        ]
