"""Choices of the leads app."""

from django.db import models


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    WORKING = "working", "Working"
    NURTURING = "nurturing", "Nurturing"
    QUALIFIED = "qualified", "Qualified"
    DISQUALIFIED = "disqualified", "Disqualified"


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    API = "api", "API"
    IMPORT = "import", "Import"
    REFERRAL = "referral", "Referral"
    EVENT = "event", "Event"
    PARTNER = "partner", "Partner"
    COLD_CALL = "cold_call", "Cold call"
    ADVERTISING = "advertising", "Advertising"
    OTHER = "other", "Other"


class DisqualificationReason(models.TextChoices):
    NO_BUDGET = "no_budget", "No budget"
    NO_NEED = "no_need", "No need"
    NO_AUTHORITY = "no_authority", "No authority"
    BAD_TIMING = "bad_timing", "Bad timing"
    COMPETITOR = "competitor", "Went with a competitor"
    UNREACHABLE = "unreachable", "Unreachable"
    SPAM = "spam", "Spam or fake"
    DUPLICATE = "duplicate", "Duplicate"
    OTHER = "other", "Other"


class OptInState(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Awaiting confirmation"
    CONFIRMED = "confirmed", "Confirmed"


class CaptureMatchAction(models.TextChoices):
    LINK = "link", "Create the lead and link it to matching contacts and accounts"
    MERGE = "merge", "Merge into a matching open lead, else create and link"
    CREATE = "create", "Always create a new lead"


class CaptureOutcome(models.TextChoices):
    CREATED = "created", "Created a lead"
    MERGED = "merged", "Merged into an open lead"
    SPAM = "spam", "Rejected as spam"
    RATE_LIMITED = "rate_limited", "Rejected: too many submissions"
    INVALID = "invalid", "Rejected: invalid fields"


class ScoringKind(models.TextChoices):
    FIT = "fit", "Fit (field condition)"
    BEHAVIOUR = "behaviour", "Behaviour (activity or event)"
