from django.db import models


class BillingType(models.TextChoices):
    ONE_TIME = "one_time", "One-time"
    RECURRING = "recurring", "Recurring"


class RecurringPeriod(models.TextChoices):
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"
    YEAR = "year", "Yearly"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SENT = "sent", "Sent to customer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


class TcoCategory(models.TextChoices):
    LICENCE = "licence", "Licence"
    MAINTENANCE = "maintenance", "Maintenance"
    SUPPORT = "support", "Support"
    TRAINING = "training", "Training"
    IMPLEMENTATION = "implementation", "Implementation"
    OTHER = "other", "Other"


class TcoRecurrence(models.TextChoices):
    ONE_TIME = "one_time", "Once, in the first year"
    YEARLY = "yearly", "Every year"
    MONTHLY = "monthly", "Every month"
