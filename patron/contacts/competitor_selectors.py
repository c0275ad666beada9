"""The read path for competitors and their presence at accounts."""

from __future__ import annotations

from typing import Any

from patron.contacts.models import Account, AccountCompetitor, Competitor
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import Principal, can_access

# A related list on a detail page shows at most this many rows.
LINK_LIMIT = 100


def competitor_list(*, user: Principal) -> RecordQuerySet[Competitor]:
    return Competitor.objects.visible_to(user).select_related("owner")


def competitor_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Competitor:
    try:
        competitor = Competitor.objects.select_related("owner", "owner__role", "team").get(pk=pk)
    except (Competitor.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No competitor with id {pk}.") from None
    if not can_access(user, competitor, Action.READ):
        # Records a user may not read are reported as missing, so ids reveal nothing.
        raise RecordNotFound(f"No competitor with id {pk}.")
    if action != Action.READ and not can_access(user, competitor, action):
        raise PermissionDenied(
            f"You may not {action} this competitor; ask its owner or an administrator to share "
            "it with edit access."
        )
    return competitor


def account_competitor_list(
    *, user: Principal, account: Account, limit: int = LINK_LIMIT
) -> list[AccountCompetitor]:
    """The competitors present at ``account`` that ``user`` may see, by name (one query)."""
    return list(
        AccountCompetitor.objects.filter(
            account=account, competitor__in=Competitor.objects.visible_to(user).values("pk")
        )
        .select_related("competitor")
        .order_by("competitor__name", "id")[:limit]
    )


def competitor_account_list(
    *, user: Principal, competitor: Competitor, limit: int = LINK_LIMIT
) -> list[AccountCompetitor]:
    """The accounts ``user`` may see where ``competitor`` is present, by name (one query)."""
    return list(
        AccountCompetitor.objects.filter(
            competitor=competitor, account__in=Account.objects.visible_to(user).values("pk")
        )
        .select_related("account")
        .order_by("account__name", "id")[:limit]
    )


def account_competitor_get(*, account: Account, pk: Any) -> AccountCompetitor:
    try:
        return AccountCompetitor.objects.select_related("account", "competitor").get(
            account=account, pk=pk
        )
    except (AccountCompetitor.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This account lists no competitor entry with id {pk}.") from None
