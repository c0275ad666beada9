"""Platform models with no domain nouns: records, access policy, logs, jobs, settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from patron.core.choices import (
    Action,
    CustomFieldType,
    FieldAccess,
    JobStatus,
    OrgWideAccess,
    SecurityEventKind,
    ShareAccess,
    Via,
)
from patron.core.querysets import RecordQuerySet

if TYPE_CHECKING:
    from patron.core.visibility import Principal


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True


_M = TypeVar("_M", bound=models.Model)


class AllRecordsManager(models.Manager[_M]):
    """Every row, soft-deleted ones included (recycle bin, restore, base manager)."""

    def get_queryset(self) -> RecordQuerySet[_M]:
        return RecordQuerySet(self.model, using=self._db)

    def visible_to(self, user: Principal, action: str = Action.READ) -> RecordQuerySet[_M]:
        return self.get_queryset().visible_to(user, action)

    def deleted(self) -> RecordQuerySet[_M]:
        return self.get_queryset().deleted()


class RecordManager(AllRecordsManager[_M]):
    """Default manager: soft-deleted rows are left out."""

    def get_queryset(self) -> RecordQuerySet[_M]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class BusinessRecord(TimeStampedModel):
    """Base of every business record: owner, team, version, soft delete, custom fields.

    Writes go through services (see core.records); nothing here has save() logic.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=True
    )
    team = models.ForeignKey(
        "users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    custom = models.JSONField(default=dict, blank=True)

    objects: ClassVar[RecordManager[Self]] = RecordManager()
    all_objects: ClassVar[AllRecordsManager[Self]] = AllRecordsManager()

    # Field names that field-level security treats as sensitive.
    SENSITIVE_FIELDS: ClassVar[frozenset[str]] = frozenset()
    # Fields the change log ignores (bookkeeping, not business data).
    UNTRACKED_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"id", "created_at", "updated_at", "version", "deleted_at", "deleted_by", "created_by"}
    )

    class Meta:
        abstract = True
        base_manager_name = "all_objects"
        default_manager_name = "objects"

    @classmethod
    def object_type(cls) -> str:
        return cls._meta.label_lower


class OrganizationSettings(models.Model):
    """The single row of organisation-wide settings."""

    name = models.CharField(max_length=200, default="My organisation")
    default_currency = models.CharField(max_length=3, default="USD")
    time_zone = models.CharField(max_length=64, default="UTC")
    fiscal_year_start_month = models.PositiveSmallIntegerField(default=1)
    # Forecasts group close dates by month or by fiscal quarter.
    forecast_period = models.CharField(
        max_length=10, choices=[("month", "Month"), ("quarter", "Quarter")], default="quarter"
    )
    logo = models.FileField(upload_to="organisation/", blank=True)
    require_two_factor_for_admins = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "organisation settings"
        verbose_name_plural = "organisation settings"

    def __str__(self) -> str:
        return self.name


class OrgWideDefault(models.Model):
    """Baseline record visibility for one object type."""

    object_type = models.CharField(max_length=100, unique=True)
    access = models.CharField(
        max_length=20, choices=OrgWideAccess.choices, default=OrgWideAccess.PRIVATE
    )

    def __str__(self) -> str:
        return f"{self.object_type}: {self.access}"


class ObjectPermission(models.Model):
    """What a role may do with one object type."""

    role = models.ForeignKey("users.Role", on_delete=models.CASCADE, related_name="permissions")
    object_type = models.CharField(max_length=100)
    can_create = models.BooleanField(default=False)
    can_read = models.BooleanField(default=False)
    can_update = models.BooleanField(default=False)
    can_delete = models.BooleanField(default=False)
    can_export = models.BooleanField(default=False)
    can_import = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["role", "object_type"], name="uniq_role_object_perm")
        ]

    def __str__(self) -> str:
        return f"{self.role_id}:{self.object_type}"


class FieldPermission(models.Model):
    """Field-level security: how a role sees one sensitive field."""

    role = models.ForeignKey(
        "users.Role", on_delete=models.CASCADE, related_name="field_permissions"
    )
    object_type = models.CharField(max_length=100)
    field = models.CharField(max_length=100)
    access = models.CharField(max_length=10, choices=FieldAccess.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["role", "object_type", "field"], name="uniq_role_field_perm"
            )
        ]


class RecordShare(models.Model):
    """An explicit share of one record with a user, a team or a role."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="record_shares",
    )
    team = models.ForeignKey(
        "users.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.ForeignKey(
        "users.Role", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    access = models.CharField(max_length=10, choices=ShareAccess.choices, default=ShareAccess.READ)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, team__isnull=True, role__isnull=True)
                    | models.Q(user__isnull=True, team__isnull=False, role__isnull=True)
                    | models.Q(user__isnull=True, team__isnull=True, role__isnull=False)
                ),
                name="share_has_exactly_one_grantee",
            )
        ]


class ChangeLogEntry(models.Model):
    """One change to one business record: which fields moved from what to what."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.UI)
    action = models.CharField(max_length=10)
    changes = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["content_type", "object_id", "-at"])]
        ordering = ["-at", "-id"]


class SecurityEvent(models.Model):
    kind = models.CharField(max_length=30, choices=SecurityEventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    email = models.CharField(max_length=254, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]


class Job(models.Model):
    """A user-visible background job whose progress pages show as a progress bar."""

    kind = models.CharField(max_length=50)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    result_file = models.FileField(upload_to="jobs/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker running the job holds it until ``lease_expires_at`` (renewed with each
    # progress report), so a message the broker delivers again meanwhile backs off.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.status == JobStatus.DONE else None
        return min(100, round(100 * self.progress_done / self.progress_total))


class ScheduledSend(models.Model):
    """When a periodic task was last sent by any scheduler, so that a second scheduler
    started by mistake does not send it again within the same period."""

    name = models.CharField(max_length=200, unique=True)
    last_sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class CustomFieldDefinition(models.Model):
    """An admin-defined field on one object type; values live in the record's ``custom``."""

    object_type = models.CharField(max_length=100)
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=20, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    lookup_object_type = models.CharField(max_length=100, blank=True)
    required = models.BooleanField(default=False)
    sensitive = models.BooleanField(default=False)
    help_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["object_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "key"], name="uniq_custom_field_key")
        ]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.key}"


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed for repeats."""

    key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key")]


class SavedView(models.Model):
    """A named list query (filters, sort, columns) a user keeps for one object type."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    object_type = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    columns = models.JSONField(default=list, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SearchEntry(models.Model):
    """The text of one record that global search matches against (see core.search)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.BigIntegerField()
    title = models.CharField(max_length=300)
    subtitle = models.CharField(max_length=300, blank=True)
    text = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"], name="uniq_search_entry_record"
            )
        ]


class Notification(models.Model):
    """A message for one user in the app (the bell in the layout): reminders, assignments.

    ``dedupe_key`` makes delivery idempotent: a task that runs twice notifies once.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=50)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "read_at", "created_at"], name="notification_inbox")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="uniq_notification_dedupe",
            )
        ]

    def __str__(self) -> str:
        return self.title


class ExchangeRate(models.Model):
    """How many units of the organisation's currency one unit of ``currency`` is worth from
    ``valid_from`` on (the latest rate on or before a date applies)."""

    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="uniq_exchange_rate"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="exchange_rate_positive"),
        ]
        ordering = ["currency", "-valid_from"]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} from {self.valid_from}"
