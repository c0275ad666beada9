"""The routing engine's tables: pools, members, agents' availability, rules, queues and the log.

Capacity counters live on the member row so one ``SELECT ... FOR UPDATE`` of the member both
checks and takes capacity; ``RoutedItem`` holds one row per routed item, so an item can never
be assigned twice.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patron.routing.choices import DecisionKind, SkillKind, Strategy


class RoutingQueue(models.Model):
    """A named queue that owns items until someone takes them ("Inbound leads - EMEA").

    A queue can be a pool member (routing to a team's queue) and is where items of a pool wait
    when no member fits.
    """

    name = models.CharField(max_length=150, unique=True)
    description = models.CharField(max_length=300, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="routing_queues", blank=True
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pool(models.Model):
    name = models.CharField(max_length=150, unique=True)
    description = models.CharField(max_length=300, blank=True)
    object_type = models.CharField(
        max_length=100, help_text="Routable object type, e.g. leads.lead"
    )
    strategy = models.CharField(
        max_length=30, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    queue = models.ForeignKey(
        RoutingQueue,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pools",
        help_text="Owns the items that wait because no member fits",
    )
    relax_skills_after_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Drop minimum skill levels after waiting this long"
    )
    # Persistent round-robin pointer: the position of the last member assigned.
    last_position = models.IntegerField(default=-1)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentAvailability(models.Model):
    """A user's availability for routing in every pool: away flag and working hours."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routing_availability"
    )
    is_away = models.BooleanField(default=False)
    away_until = models.DateTimeField(null=True, blank=True)
    # {"mon": [["09:00", "17:30"]], ...} in the user's time zone; empty means always available.
    working_hours = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class PoolMember(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    queue = models.ForeignKey(
        RoutingQueue, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)
    weight = models.PositiveSmallIntegerField(default=1)
    max_open_items = models.PositiveIntegerField(null=True, blank=True)
    max_items_per_day = models.PositiveIntegerField(null=True, blank=True)
    is_paused = models.BooleanField(default=False)
    # Counters checked and taken under the member's row lock.
    open_items = models.PositiveIntegerField(default=0)
    assigned_today = models.PositiveIntegerField(default=0)
    assigned_on = models.DateField(null=True, blank=True)
    # Smooth weighted round robin's running weight.
    current_weight = models.IntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pool", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(queue__isnull=True))
                | (Q(user__isnull=True) & Q(queue__isnull=False)),
                name="routing_member_user_xor_queue",
            ),
            models.UniqueConstraint(fields=["pool", "user"], name="uniq_routing_pool_user"),
            models.UniqueConstraint(fields=["pool", "queue"], name="uniq_routing_pool_queue"),
        ]


class MemberSkill(models.Model):
    member = models.ForeignKey(PoolMember, on_delete=models.CASCADE, related_name="skills")
    kind = models.CharField(max_length=20, choices=SkillKind.choices)
    value = models.CharField(max_length=100)
    level = models.PositiveSmallIntegerField(default=1, help_text="1 (basic) to 5 (expert)")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "kind", "value"], name="uniq_member_skill")
        ]


class AssignmentRule(models.Model):
    """Ordered per object type; the first active rule whose conditions hold picks the pool."""

    object_type = models.CharField(max_length=100)
    name = models.CharField(max_length=150)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    # {"match": "all"|"any", "conditions": [{"field": "country", "op": "in", "value": [...]}]}
    conditions = models.JSONField(default=dict, blank=True)
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="rules")
    strategy = models.CharField(
        max_length=30, choices=Strategy.choices, blank=True, help_text="Blank: the pool's strategy"
    )
    # [{"kind": "language", "value": "de", "min_level": 3}]
    required_skills = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["object_type", "position", "id"]


class RoutedItem(models.Model):
    """The current assignment of one routed item: one row per item, ever."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    pool = models.ForeignKey(
        Pool, null=True, blank=True, on_delete=models.SET_NULL, related_name="routed_items"
    )
    member = models.ForeignKey(
        PoolMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="routed_items"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        RoutingQueue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="routed_items",
    )
    is_open = models.BooleanField(default=True)
    # Set while the item waits in its pool's queue for a member who fits.
    waiting_since = models.DateTimeField(null=True, blank=True)
    required_skills = models.JSONField(default=list, blank=True)
    rule = models.ForeignKey(
        AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    strategy = models.CharField(max_length=30, choices=Strategy.choices, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"], name="uniq_routed_item")
        ]
        indexes = [
            models.Index(
                fields=["pool", "waiting_since"],
                name="routing_waiting_idx",
                condition=Q(waiting_since__isnull=False),
            )
        ]


class AssignmentDecision(models.Model):
    """Why an item went where it went: who was considered and why others were skipped."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    pool = models.ForeignKey(
        Pool, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    strategy = models.CharField(max_length=30, choices=Strategy.choices, blank=True)
    assigned_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_queue = models.ForeignKey(
        RoutingQueue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_queue = models.ForeignKey(
        RoutingQueue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # [{"member_id": 1, "user_id": 2, "queue_id": null, "outcome": "chosen"|"skipped"|"eligible",
    #   "reason": "off_hours", "detail": "..."}]
    considered = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "-created_at"],
                name="routing_decision_item_idx",
            ),
            # The log page: newest first, keyset-paged on (created_at, id).
            models.Index(fields=["-created_at", "-id"], name="routing_decision_recent_idx"),
        ]
