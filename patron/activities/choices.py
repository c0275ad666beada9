from django.db import models


class ActivityKind(models.TextChoices):
    TASK = "task", "Task"
    APPOINTMENT = "appointment", "Appointment"
    CALL = "call", "Call"
    NOTE = "note", "Note"
    EMAIL = "email", "Email"


class TaskPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class CallDirection(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class CallOutcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NO_ANSWER = "no_answer", "No answer"
    VOICEMAIL = "voicemail", "Voicemail"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"


class AttendeeResponse(models.TextChoices):
    NEEDS_ACTION = "needs_action", "Needs action"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    TENTATIVE = "tentative", "Tentative"


class ReminderChannel(models.TextChoices):
    IN_APP = "in_app", "In Patron"
    EMAIL = "email", "Email"
    BOTH = "both", "In Patron and by email"
