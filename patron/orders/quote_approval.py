"""Who runs quote discount approval: a backend registered from above, else the built-in rule.

Orders sits below automation, so automation's approval engine plugs in here in
``AppConfig.ready`` (``register_quote_approval_backend``). Without a backend the built-in
behaviour applies: the owner's managers are notified and the first to decide is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from patron.orders.models import Quote
    from patron.users.models import User


class QuoteApprovalBackend(Protocol):
    def submit(self, *, user: Any, quote: Quote, via: str) -> None:
        """Start the approval of ``quote`` (already "waiting for approval"); raise
        ValidationFailed when nobody can approve it (the caller's transaction rolls back)."""

    def decide(self, *, user: Any, quote: Quote, approve: bool, note: str, via: str) -> None:
        """Record ``user``'s decision; the backend sets the quote's status through
        ``quote_services.quote_record_decision`` once the approval ends. Raise
        PermissionDenied when ``user`` is not an approver."""

    def approvers(self, quote: Quote) -> list[User]:
        """The users who may decide on ``quote`` now."""


_backend: list[QuoteApprovalBackend] = []


def register_quote_approval_backend(backend: QuoteApprovalBackend) -> None:
    _backend[:] = [backend]


def quote_approval_backend() -> QuoteApprovalBackend | None:
    return _backend[0] if _backend else None
