"""Workflows (versioned definitions, runs and step runs), approval processes and webhooks.

A workflow's definition (trigger, condition tree, steps) is JSON on its version, validated by
the trigger and step registries when saved, so the same definition travels through the UI
builder and the API unchanged.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patron.automation.choices import (
    ApprovalStatus,
    ApprovalTaskStatus,
    ApproverKind,
    DecisionMode,
    DeliveryStatus,
    EscalationAction,
    RunStatus,
    StepStatus,
    VersionState,
)


class Workflow(models.Model):
    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    # The record type the workflow acts on ("pipeline.opportunity"); blank for schedule or
    # inbound-webhook workflows that act on no record.
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    is_enabled = models.BooleanField(default=True)
    active_version = models.ForeignKey(
        "automation.WorkflowVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Inbound-webhook trigger: only a digest of the secret URL's token is kept.
    inbound_token_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(
        max_length=10, choices=VersionState.choices, default=VersionState.DRAFT
    )
    # {"type": "record_updated", ...type-specific keys}
    trigger = models.JSONField(default=dict)
    # {"all": [...]} / {"any": [...]} / {"not": {...}} / {"field", "op", "value"}; {} = always.
    conditions = models.JSONField(default=dict, blank=True)
    # [{"id": "s1", "type": "create_task", "config": {...}}]; branch steps nest their own lists.
    steps = models.JSONField(default=list)
    # Schedule triggers: when the active version fires next.
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="uniq_workflow_version"),
            models.UniqueConstraint(
                fields=["workflow"],
                condition=Q(state="active"),
                name="uniq_workflow_active_version",
            ),
            models.UniqueConstraint(
                fields=["workflow"], condition=Q(state="draft"), name="uniq_workflow_draft"
            ),
        ]


class WorkflowRun(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs")
    trigger_type = models.CharField(max_length=40)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    # One run per triggering occurrence: a redelivered event or a retried task finds it.
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING)
    is_test = models.BooleanField(default=False)
    # Workflow ids that led to this run, for loop detection.
    chain = models.JSONField(default=list, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # Where to continue: the path of the next step, e.g. [2, "then", 0].
    cursor = models.JSONField(default=list, blank=True)
    resume_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["resume_at"],
                name="automation_run_resume_idx",
                condition=Q(status="waiting"),
            ),
            models.Index(fields=["object_type", "object_id"], name="automation_run_record_idx"),
            models.Index(fields=["workflow", "-created_at"], name="automation_run_workflow_idx"),
        ]


class StepRun(models.Model):
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="step_runs")
    step_id = models.CharField(max_length=50)
    step_type = models.CharField(max_length=40)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=20, choices=StepStatus.choices)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_id", "attempt"], name="uniq_step_run_attempt"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_retry_at"],
                name="automation_step_retry_idx",
                condition=Q(status="retry_scheduled"),
            )
        ]


class ApprovalProcess(models.Model):
    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    object_type = models.CharField(max_length=100, db_index=True)
    # A condition tree in the workflow format; {} = every record may be submitted.
    entry_conditions = models.JSONField(default=dict, blank=True)
    lock_record = models.BooleanField(default=True, help_text="No edits while pending")
    allow_recall = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["object_type", "position", "id"]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    process = models.ForeignKey(ApprovalProcess, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=150)
    # Skip this step unless the record matches (workflow condition format); {} = always.
    conditions = models.JSONField(default=dict, blank=True)
    approver_kind = models.CharField(max_length=10, choices=ApproverKind.choices)
    approver_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approver_role = models.ForeignKey(
        "users.Role", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approver_queue = models.ForeignKey(
        "routing.RoutingQueue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_mode = models.CharField(
        max_length=10, choices=DecisionMode.choices, default=DecisionMode.FIRST
    )
    timeout_hours = models.PositiveIntegerField(null=True, blank=True)
    escalation = models.CharField(
        max_length=20, choices=EscalationAction.choices, default=EscalationAction.NONE
    )
    escalate_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["process", "position", "id"]


class ApprovalRequest(models.Model):
    process = models.ForeignKey(ApprovalProcess, on_delete=models.PROTECT, related_name="requests")
    current_step = models.ForeignKey(
        ApprovalStep, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    object_type = models.CharField(max_length=100)
    object_id = models.PositiveBigIntegerField()
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    workflow_run = models.ForeignKey(
        WorkflowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id"],
                condition=Q(status="pending"),
                name="uniq_pending_approval_per_record",
            )
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="approval_record_idx"),
        ]


class ApprovalTask(models.Model):
    """One approver's part in one step of a request."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="tasks")
    step = models.ForeignKey(ApprovalStep, on_delete=models.PROTECT, related_name="+")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=ApprovalTaskStatus.choices, default=ApprovalTaskStatus.PENDING
    )
    comment = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    escalated_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set once the step's escalation ran for this task, so the scheduler never repeats it.
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "id"]
        indexes = [
            models.Index(fields=["approver", "status"], name="approval_task_inbox_idx"),
            models.Index(
                fields=["due_at"],
                name="approval_task_due_idx",
                condition=Q(status="pending"),
            ),
        ]


class ApprovalHistory(models.Model):
    """What happened to a request, in order: the record's timeline and the audit trail."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="history")
    object_type = models.CharField(max_length=100)
    object_id = models.PositiveBigIntegerField()
    # submitted, approved, rejected, step_approved, escalated, reminded, recalled
    action = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    step_name = models.CharField(max_length=150, blank=True)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request", "at", "id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"], name="approval_history_idx"),
        ]


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=150)
    target_url = models.URLField(max_length=500)
    # Event names ("lead.converted", "opportunity.stage_changed"); ["*"] for every event.
    event_types = models.JSONField(default=list)
    # Kept to sign each payload; shown to the admin once, when created or rotated.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=100)
    # The event's id, sent in the payload so receivers can deduplicate retries.
    event_id = models.UUIDField()
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="uniq_webhook_delivery_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(status__in=["pending", "retrying"]),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log_idx"),
        ]


class WebhookAllowedHost(models.Model):
    """A private or loopback host an admin allows webhooks to reach (refused by default)."""

    host = models.CharField(max_length=255, unique=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
