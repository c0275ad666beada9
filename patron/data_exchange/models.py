"""Data management: imports (with what each row did, for errors, resumption and revert),
duplicate rules, candidate groups and merges, and privacy (GDPR) requests.

Consent lives with the contact (``contacts.ContactConsent``) because marketing reads it too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from patron.data_exchange.choices import (
    DuplicateAction,
    DuplicateGroupStatus,
    ImportMode,
    ImportStatus,
    PrivacyRequestKind,
    PrivacyRequestStatus,
    RowOutcome,
)


class ImportMapping(models.Model):
    """A saved column mapping for one object type, reused by later imports."""

    name = models.CharField(max_length=120)
    object_type = models.CharField(max_length=100)
    # {"<column header>": "<field name>"}; headers left out are ignored.
    columns = models.JSONField(default=dict, blank=True)
    # {"<field name>": "<value>"} for fields no column fills.
    defaults = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.CREATE)
    match_key = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["object_type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "name"], name="import_mapping_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    """One uploaded file and what importing it did; its Job shows the progress bar."""

    object_type = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED, db_index=True
    )
    file = models.FileField(upload_to="imports/")
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    # Detected (or chosen) reading options: encoding, delimiter, sheet, header row.
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.ForeignKey(
        ImportMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    columns = models.JSONField(default=dict, blank=True)
    defaults = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.CREATE)
    match_key = models.CharField(max_length=100, blank=True)
    job = models.OneToOneField(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    # Rows up to this number are done: a restarted worker resumes after it.
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    reverted_at = models.DateTimeField(null=True, blank=True)
    # Records the revert left alone because they changed after the import finished.
    reverted_kept = models.PositiveIntegerField(default=0)
    reverted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        # The history of a non-administrator: their own runs, newest first.
        indexes = [
            models.Index(fields=["created_by", "created_at", "id"], name="import_run_user_history")
        ]

    def __str__(self) -> str:
        return self.file_name


class ImportRow(models.Model):
    """What one data row of an import did: the record it touched, the values it replaced
    (for revert) or why it failed (for the error file)."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=RowOutcome.choices)
    object_id = models.BigIntegerField(null=True, blank=True)
    previous_values = models.JSONField(null=True, blank=True)
    # The row as read from the file, kept for failed rows only (the error file).
    raw = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "row_number"], name="import_row_once")
        ]
        indexes = [models.Index(fields=["run", "outcome"], name="import_row_outcome")]


class DuplicateRule(models.Model):
    """How records of one object type are recognised as the same: exact keys and/or fuzzy
    name matching, and what happens on create and import."""

    object_type = models.CharField(max_length=100)
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    # Exact keys compared after normalising: "email", "phone", "domain" or a field name.
    exact_keys = models.JSONField(default=list, blank=True)
    # Fields whose text is compared with rapidfuzz; empty for exact-only rules.
    fuzzy_fields = models.JSONField(default=list, blank=True)
    threshold = models.PositiveSmallIntegerField(default=90)
    action = models.CharField(
        max_length=10, choices=DuplicateAction.choices, default=DuplicateAction.WARN
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["object_type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "name"], name="duplicate_rule_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class DuplicateGroup(models.Model):
    """Records a rule found to be probably the same, waiting for a merge or a dismissal."""

    object_type = models.CharField(max_length=100, db_index=True)
    rule = models.ForeignKey(
        DuplicateRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="groups"
    )
    # What the members share (the normalised key, or the best-matching names).
    match_key = models.CharField(max_length=300, blank=True)
    similarity = models.PositiveSmallIntegerField(default=100)
    status = models.CharField(
        max_length=10,
        choices=DuplicateGroupStatus.choices,
        default=DuplicateGroupStatus.OPEN,
        db_index=True,
    )
    found_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-similarity", "-found_at", "-id"]


class DuplicateGroupMember(models.Model):
    group = models.ForeignKey(DuplicateGroup, on_delete=models.CASCADE, related_name="members")
    object_id = models.BigIntegerField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "object_id"], name="duplicate_member_once")
        ]


class MergeRecord(models.Model):
    """One merge: who kept which values, what was re-linked, and the merged-away records as
    they were, so a merge can be explained later."""

    object_type = models.CharField(max_length=100, db_index=True)
    survivor_id = models.BigIntegerField(db_index=True)
    merged_ids = models.JSONField(default=list)
    # {"<field>": <id of the record whose value was kept>}
    field_choices = models.JSONField(default=dict, blank=True)
    # {"<id>": {<field>: <value>, ...}} of each merged-away record before the merge.
    merged_snapshots = models.JSONField(default=dict, blank=True)
    # {"<app.model.field>": <rows re-linked>}
    relinked = models.JSONField(default=dict, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-merged_at", "-id"]


class PrivacyRequest(models.Model):
    """A data subject's request (export, erase, anonymise), who handled it and what it did."""

    kind = models.CharField(max_length=10, choices=PrivacyRequestKind.choices)
    status = models.CharField(
        max_length=10,
        choices=PrivacyRequestStatus.choices,
        default=PrivacyRequestStatus.RECEIVED,
        db_index=True,
    )
    subject_email = models.EmailField(blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What was found, exported, erased or anonymised: counts per object, never the values.
    summary = models.JSONField(default=dict, blank=True)
    archive = models.FileField(upload_to="privacy/", blank=True)
    job = models.OneToOneField(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
