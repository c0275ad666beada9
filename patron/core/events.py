"""Cross-app reactions: ``emit`` after commit instead of Django signals.

Handlers are registered by higher apps in ``AppConfig.ready`` (automation, webhooks, ...).
Delivery happens after the surrounding transaction commits, so a rolled-back change never
triggers anything.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], None]
_handlers: dict[str, list[Handler]] = {}


def subscribe(event: str, handler: Handler) -> None:
    """Call ``handler(event, payload)`` after commit for ``event`` ("*" for every event)."""
    _handlers.setdefault(event, []).append(handler)


def emit(event: str, **payload: Any) -> None:
    # Handlers run in the context of the code that emitted (context variables included), so
    # a subscriber can tell which workflow's step caused the event (loop detection).
    context = contextvars.copy_context()

    def deliver() -> None:
        for handler in [*_handlers.get(event, []), *_handlers.get("*", [])]:
            try:
                handler(event, payload)
            except Exception:
                # One broken subscriber must not undo a committed change or block others.
                logger.exception("event handler %r failed for %s", handler, event)

    transaction.on_commit(lambda: context.run(deliver))
