"""Territory models (planning, active, archived), their territory trees, rules, members,
quotas, and the assignment of records (accounts, leads) to territories."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patron.territories.choices import MemberRole, ModelState, RuleField, RuleOperator


class TerritoryModel(models.Model):
    """One version of the territory design; at most one is active at a time."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=ModelState.choices, default=ModelState.PLANNING)
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    # When the rules last changed and when assignments were last computed from them, so the
    # comparison can say that a planning model's preview is out of date.
    rules_changed_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=Q(state=ModelState.ACTIVE),
                name="territories_one_active_model",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_stale(self) -> bool:
        return self.assigned_at is None or self.assigned_at < self.rules_changed_at


class Territory(models.Model):
    model = models.ForeignKey(TerritoryModel, on_delete=models.CASCADE, related_name="territories")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    priority = models.IntegerField(default=0)
    # Materialised path of ids ("12.40.") so a subtree is one LIKE 'prefix%'.
    path = models.CharField(max_length=500, blank=True, db_index=True)
    depth = models.PositiveSmallIntegerField(default=0)
    # The territory of another model this one was copied from: the comparison of a planning
    # model with the active one treats the two as the same territory.
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="territories_name_per_model")
        ]

    def __str__(self) -> str:
        return self.name


class TerritoryRule(models.Model):
    """One condition: ``field`` is one of ``values`` (case-insensitive) or between ``low`` and
    ``high`` inclusive. Rules of one field are OR'ed, different fields AND'ed."""

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=20, choices=RuleField.choices)
    operator = models.CharField(max_length=10, choices=RuleOperator.choices)
    values = models.JSONField(default=list, blank=True)
    low = models.CharField(max_length=40, blank=True)
    high = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["territory_id", "field", "id"]


class TerritoryMember(models.Model):
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="territory_memberships"
    )
    role = models.CharField(max_length=20, choices=MemberRole.choices, default=MemberRole.SALES_REP)

    class Meta:
        ordering = ["territory_id", "role", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "user"], name="territories_member_once_per_territory"
            )
        ]
        indexes = [models.Index(fields=["user", "role"])]


class TerritoryAssignment(models.Model):
    """Which territory of a model a record belongs to; a manual one survives re-runs."""

    model = models.ForeignKey(TerritoryModel, on_delete=models.CASCADE, related_name="assignments")
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="assignments")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    assigned_at = models.DateTimeField(default=timezone.now)
    is_manual = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "content_type", "object_id"],
                name="territories_one_assignment_per_model",
            )
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["territory", "content_type", "object_id"]),
        ]


class TerritoryQuota(models.Model):
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="quotas")
    period_start = models.DateField()
    period_end = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["territory_id", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["territory", "period_start"], name="territories_quota_per_period"
            )
        ]
