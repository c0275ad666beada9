from django.db import models


class ImportMode(models.TextChoices):
    CREATE = "create", "Create only"
    UPDATE = "update", "Update only"
    UPSERT = "upsert", "Create or update (upsert)"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    MAPPED = "mapped", "Mapped"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    REVERTING = "reverting", "Reverting"
    REVERTED = "reverted", "Reverted"


class RowOutcome(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    # Waiting for a record further down the file (a parent account); retried at the end.
    DEFERRED = "deferred", "Waiting for a later row"


class DuplicateAction(models.TextChoices):
    BLOCK = "block", "Block the save"
    WARN = "warn", "Warn, let the user save anyway"
    REPORT = "report", "Allow and report"


class DuplicateGroupStatus(models.TextChoices):
    OPEN = "open", "Open"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Not duplicates"


class PrivacyRequestKind(models.TextChoices):
    EXPORT = "export", "Export everything held"
    ERASE = "erase", "Erase"
    ANONYMISE = "anonymise", "Anonymise"


class PrivacyRequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
