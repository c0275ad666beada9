from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db import models

from patron.core.choices import Action

if TYPE_CHECKING:
    from patron.core.visibility import Principal

_M = TypeVar("_M", bound=models.Model)


class RecordQuerySet(models.QuerySet[_M]):
    def visible_to(self, user: Principal, action: str = Action.READ) -> RecordQuerySet[_M]:
        """Rows ``user`` may act on, as one SQL predicate (never a per-row check)."""
        from patron.core.visibility import visibility_filter

        condition = visibility_filter(self.model, user, action)
        if condition is None:
            return self
        return self.filter(condition)

    def alive(self) -> RecordQuerySet[_M]:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> RecordQuerySet[_M]:
        return self.filter(deleted_at__isnull=False)
