"""Choices of the routing engine."""

from django.db import models


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    WEIGHTED_ROUND_ROBIN = "weighted_round_robin", "Weighted round robin"
    LEAST_BUSY = "least_busy", "Least busy"
    SKILLS = "skills", "Skills-based"
    TERRITORY = "territory", "Territory match"
    OWNER_AFFINITY = "owner_affinity", "Existing owner first"
    FIRST_AVAILABLE = "first_available", "First available"


class SkillKind(models.TextChoices):
    LANGUAGE = "language", "Language"
    REGION = "region", "Region"
    PRODUCT = "product", "Product"
    DEAL_SIZE = "deal_size", "Deal-size band"
    CUSTOM = "custom", "Custom"


class DecisionKind(models.TextChoices):
    AUTOMATIC = "automatic", "Assigned by a rule"
    QUEUED = "queued", "Waiting in the pool's queue"
    FROM_QUEUE = "from_queue", "Assigned from the pool's queue"
    MANUAL = "manual", "Reassigned by hand"
    DEADLINE = "deadline", "Reassigned after a missed deadline"
    NO_RULE = "no_rule", "No rule matched"


class SkipReason(models.TextChoices):
    PAUSED = "paused", "Paused in this pool"
    AWAY = "away", "Away"
    OFF_HOURS = "off_hours", "Outside working hours"
    FULL_OPEN = "full_open", "At open-item capacity"
    FULL_DAY = "full_day", "At daily capacity"
    MISSING_SKILL = "missing_skill", "Lacks a required skill or level"
    NOT_IN_TERRITORY = "not_in_territory", "Not in the item's territory"
    EXCLUDED = "excluded", "Excluded (current assignee on a deadline breach)"
    INACTIVE = "inactive", "Inactive user"
