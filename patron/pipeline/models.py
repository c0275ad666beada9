"""Pipelines and their stages, opportunities with contacts, competitors, team and splits,
stage history, playbooks, quotas and forecast adjustments.

Opportunities denormalise what analytics group by (is_closed, is_won, closed_on,
amount_org in the organisation's currency, stage_entered_at) so every report is one SQL
aggregate over indexed columns; the services keep these in step with the stage.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from patron.core.models import BusinessRecord
from patron.pipeline.choices import (
    ForecastCategory,
    OpportunityContactRoleKind,
    OpportunityTeamRole,
    SplitType,
    TeamAccess,
)


class Pipeline(models.Model):
    """A sales process with its own ordered stages (new business, renewals, partners...)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_pipeline",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(help_text="0 to 100 %")
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    # Days a deal is expected to stay; longer flags it as stale on the board.
    expected_days = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="uniq_stage_name"),
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="stage_probability_max_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.forecast_category in (ForecastCategory.CLOSED_WON, ForecastCategory.CLOSED_LOST)

    @property
    def is_won(self) -> bool:
        return self.forecast_category == ForecastCategory.CLOSED_WON


class LossReason(models.Model):
    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Opportunity(BusinessRecord):
    name = models.CharField(max_length=255)
    # Imported history has deals without an account; the services require one otherwise.
    account = models.ForeignKey(
        "contacts.Account",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities")
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # ``amount`` in the organisation's currency at the rate in force on the close date.
    amount_org = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    close_date = models.DateField()
    probability = models.PositiveSmallIntegerField()
    probability_is_manual = models.BooleanField(default=False)
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    next_step = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    loss_reason = models.ForeignKey(
        LossReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    loss_note = models.TextField(blank=True)
    # First engagement (the start of the sales cycle) and the close, for cycle-length reports.
    engaged_on = models.DateField(null=True, blank=True)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    closed_on = models.DateField(null=True, blank=True)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    playbook_version = models.ForeignKey(
        "pipeline.PlaybookVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    external_id = models.CharField(max_length=100, blank=True, db_index=True)

    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["pipeline", "stage", "close_date", "id"], name="opp_board"),
            models.Index(fields=["owner", "close_date"], name="opp_owner_close"),
            models.Index(fields=["is_closed", "closed_on"], name="opp_closed"),
            models.Index(fields=["close_date", "id"], name="opp_close_keyset"),
            models.Index(fields=["name", "id"], name="opp_name_keyset"),
        ]

    def __str__(self) -> str:
        return self.name


class OpportunityContact(models.Model):
    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="contacts")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="opportunity_roles"
    )
    role = models.CharField(max_length=30, choices=OpportunityContactRoleKind.choices)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "contact"], name="uniq_opp_contact")
        ]
        indexes = [models.Index(fields=["contact", "opportunity"], name="opp_contact_lookup")]


class OpportunityCompetitor(models.Model):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="competitors"
    )
    competitor = models.ForeignKey(
        "contacts.Competitor", on_delete=models.CASCADE, related_name="opportunities"
    )
    notes = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "competitor"], name="uniq_opp_competitor"
            )
        ]


class StageHistory(models.Model):
    """One move of an opportunity between stages (the first row is its creation)."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_history"
    )
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    probability = models.PositiveSmallIntegerField()
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    close_date = models.DateField()
    # Seconds spent in ``from_stage`` before this move.
    seconds_in_from_stage = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "stage history"
        indexes = [
            models.Index(fields=["opportunity", "changed_at"], name="stage_history_opp"),
            models.Index(fields=["to_stage", "changed_at"], name="stage_history_to"),
        ]


class OpportunityTeamMember(models.Model):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="team_members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="opportunity_teams"
    )
    role = models.CharField(max_length=30, choices=OpportunityTeamRole.choices)
    access = models.CharField(max_length=10, choices=TeamAccess.choices, default=TeamAccess.READ)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "user"], name="uniq_opp_team_member")
        ]
        indexes = [models.Index(fields=["user", "opportunity"], name="opp_team_user")]


class RevenueSplit(models.Model):
    """A share of an opportunity's credit; per split type the shares total 100 %."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="splits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    split_type = models.CharField(max_length=20, choices=SplitType.choices)
    percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "user", "split_type"], name="uniq_revenue_split"
            )
        ]


class Playbook(models.Model):
    """Best practice for one pipeline; its content lives in immutable versions."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="playbooks")
    name = models.CharField(max_length=100)
    active_version = models.ForeignKey(
        "pipeline.PlaybookVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="uniq_playbook_name")
        ]

    def __str__(self) -> str:
        return self.name


class PlaybookVersion(models.Model):
    """One published state of a playbook, never edited after publishing.

    ``definition`` holds per stage name: guidance, exit criteria (required fields and
    required checklist items), checklist, call script, email templates and the activity
    plan (tasks with day offsets); pipeline.playbooks validates and documents its shape.
    """

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(default=dict)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["playbook", "number"], name="uniq_playbook_version")
        ]


class ChecklistTick(models.Model):
    """A playbook checklist item done on an opportunity in a stage."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="checklist_ticks"
    )
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    item = models.CharField(max_length=255)
    playbook_version = models.ForeignKey(
        PlaybookVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "stage", "item"], name="uniq_checklist_tick"
            )
        ]


class Quota(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "period_start"], name="uniq_quota_period")
        ]


class ForecastAdjustment(models.Model):
    """A manager's figure for a subordinate's forecast category; the computed one is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    period_start = models.DateField()
    category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    computed_amount = models.DecimalField(max_digits=18, decimal_places=2)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["user", "period_start", "category", "created_at"],
                name="forecast_adjustment_lookup",
            )
        ]


class OpportunitySnapshot(models.Model):
    """An opportunity's forecast-relevant values at the start of a week (week-over-week)."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="+")
    taken_on = models.DateField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    forecast_category = models.CharField(max_length=20, choices=ForecastCategory.choices)
    amount_org = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    close_date = models.DateField()
    is_closed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["opportunity", "taken_on"], name="uniq_opportunity_snapshot"
            )
        ]
        indexes = [models.Index(fields=["taken_on", "owner"], name="snapshot_week_owner")]
