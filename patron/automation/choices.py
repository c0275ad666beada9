"""Choices of the automation app: workflows, runs, approvals and webhooks."""

from django.db import models


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    LOOP_STOPPED = "loop_stopped", "Stopped: loop detected"


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Skipped"
    WAITING = "waiting", "Waiting"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    FAILED = "failed", "Failed"
    SIMULATED = "simulated", "Simulated (test mode)"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RECALLED = "recalled", "Recalled"


class ApproverKind(models.TextChoices):
    USER = "user", "A user"
    ROLE = "role", "Everyone in a role"
    MANAGER = "manager", "The submitter's manager"
    QUEUE = "queue", "Members of a queue"


class DecisionMode(models.TextChoices):
    FIRST = "first", "First response decides"
    UNANIMOUS = "unanimous", "Everyone must approve"


class EscalationAction(models.TextChoices):
    NONE = "none", "Only remind"
    APPROVER_MANAGER = "approver_manager", "Add the approver's manager"
    USER = "user", "Add a named user"
    APPROVE = "approve", "Approve automatically"
    REJECT = "reject", "Reject automatically"


class ApprovalTaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ESCALATED = "escalated", "Escalated"
    CANCELLED = "cancelled", "No longer needed"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Gave up"
