from django.db import models


class Via(models.TextChoices):
    """Where a change came from, recorded in the change log."""

    UI = "ui", "User interface"
    API = "api", "API"
    IMPORT = "import", "Import"
    WORKFLOW = "workflow", "Workflow"
    SYSTEM = "system", "System"


class Action(models.TextChoices):
    CREATE = "create", "Create"
    READ = "read", "Read"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    EXPORT = "export", "Export"
    IMPORT = "import", "Import"


class OrgWideAccess(models.TextChoices):
    PRIVATE = "private", "Private"
    PUBLIC_READ = "public_read", "Public read only"
    PUBLIC_READ_WRITE = "public_read_write", "Public read/write"


class ShareAccess(models.TextChoices):
    READ = "read", "Read"
    EDIT = "edit", "Read and edit"


class FieldAccess(models.TextChoices):
    HIDDEN = "hidden", "Hidden"
    READ_ONLY = "read_only", "Read only"
    EDIT = "edit", "Read and edit"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SecurityEventKind(models.TextChoices):
    LOGIN = "login", "Login"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGIN_THROTTLED = "login_throttled", "Login throttled"
    LOGOUT = "logout", "Logout"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    EXPORT = "export", "Export"
    PERMISSION_CHANGE = "permission_change", "Permission change"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    TWO_FACTOR_ENABLED = "2fa_enabled", "Two-factor enabled"
    TWO_FACTOR_DISABLED = "2fa_disabled", "Two-factor disabled"
    TWO_FACTOR_FAILED = "2fa_failed", "Two-factor code rejected"
    PRIVACY_REQUEST = "privacy_request", "Privacy request"


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    MONEY = "money", "Money"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"
    BOOLEAN = "boolean", "Yes/no"
    LOOKUP = "lookup", "Lookup"
