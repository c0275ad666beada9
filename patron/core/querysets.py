from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db import models

from patron.core.choices import Action

if TYPE_CHECKING:
    from patron.core.visibility import Principal

_M = TypeVar("_M", bound=models.Model)


class RecordQuerySet(models.QuerySet[_M]):
    def visible_to(self, user: Principal, action: str = Action.READ) -> RecordQuerySet[_M]:
        """Rows ``user`` may act on, as one SQL predicate (never a per-row check).

        Asking for rows to change is a write path, like ``can_access``: it forgets the
        per-request answers pages remembered, so none outlives the write.
        """
        from patron.core.visibility import forget_access_checks, visibility_condition

        if action in (Action.UPDATE, Action.DELETE):
            forget_access_checks(user)
        condition = visibility_condition(self.model, user, action, self.db)
        if condition is None:
            return self
        return self.filter(condition)

    def alive(self) -> RecordQuerySet[_M]:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> RecordQuerySet[_M]:
        return self.filter(deleted_at__isnull=False)
