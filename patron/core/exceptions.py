"""Domain errors that views and the API translate into clear messages or problem documents."""

from __future__ import annotations


class PatronError(Exception):
    """Base of errors a user can act on."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class RecordNotFound(PatronError):
    status = 404
    title = "Not found"


class PermissionDenied(PatronError):
    status = 403
    title = "Permission denied"


class ValidationFailed(PatronError):
    status = 422
    title = "Validation failed"


class VersionConflict(PatronError):
    """A save based on a stale version; nothing was written."""

    status = 412
    title = "Version conflict"

    def __init__(self, detail: str, *, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version


class RecordLocked(ValidationFailed):
    """A write refused because the record is locked (e.g. pending approval); nothing changed."""

    status = 409
    title = "Record locked"


class DuplicateFound(ValidationFailed):
    """A create refused because the record probably exists already; nothing was written.

    ``matches`` describe the existing records (id, label, url, rule, action, similarity,
    match_key); ``can_confirm`` is False when a rule blocks, True when the user may go ahead.
    """

    status = 409
    title = "Possible duplicate"

    def __init__(
        self,
        detail: str,
        *,
        matches: list[dict[str, object]],
        can_confirm: bool,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail, errors=errors)
        self.matches = matches
        self.can_confirm = can_confirm


class BrokerUnavailable(PatronError):
    """The task broker refused a job: nothing was queued, the caller may try again."""

    status = 503
    title = "Service unavailable"
