"""The read path for accounts and contacts."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from patron.contacts.models import Account, Contact, ContactAddress, ContactEmail, ContactPhone
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import Principal, can_access


def account_list(*, user: Principal) -> RecordQuerySet[Account]:
    return Account.objects.visible_to(user).select_related("owner", "parent")


def contact_list(*, user: Principal) -> RecordQuerySet[Contact]:
    return Contact.objects.visible_to(user).select_related("owner", "account")


def _get(model: Any, queryset: Any, *, user: Principal, pk: Any, action: str) -> Any:
    try:
        record = queryset.get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"No {model._meta.verbose_name} with id {pk}.") from None
    if not can_access(user, record, Action.READ):
        # Records a user may not read are reported as missing, so ids reveal nothing.
        raise RecordNotFound(f"No {model._meta.verbose_name} with id {pk}.")
    if action != Action.READ and not can_access(user, record, action):
        raise PermissionDenied(
            f"You may not {action} this {model._meta.verbose_name}; ask its owner or an "
            "administrator to share it with edit access."
        )
    return record


def account_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Account:
    queryset = Account.objects.select_related("owner", "owner__role", "parent", "team")
    record: Account = _get(Account, queryset, user=user, pk=pk, action=action)
    return record


def contact_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Contact:
    queryset = Contact.objects.select_related(
        "owner", "owner__role", "account", "team"
    ).prefetch_related(
        Prefetch("emails", queryset=ContactEmail.objects.all()),
        Prefetch("phones", queryset=ContactPhone.objects.all()),
        Prefetch("addresses", queryset=ContactAddress.objects.all()),
    )
    record: Contact = _get(Contact, queryset, user=user, pk=pk, action=action)
    return record


def contact_duplicates(
    *, email: str = "", phone: str = "", exclude_pk: int | None = None
) -> list[Contact]:
    """Contacts whose normalised email or phone matches (for the duplicate warning)."""
    from django.db.models import Q

    condition = Q()
    if email:
        condition |= Q(email__iexact=email) | Q(emails__email__iexact=email)
    if phone:
        condition |= Q(phone=phone) | Q(phones__number=phone)
    if not condition:
        return []
    queryset = Contact.objects.filter(condition).distinct()
    if exclude_pk:
        queryset = queryset.exclude(pk=exclude_pk)
    return list(queryset[:5])
