"""The read path of the contact related lists: one contact's rows, and rows across contacts.

Rows have no visibility of their own: whoever may see the contact sees its rows. The
cross-contact list is therefore restricted with ``contact__in`` a subquery of the visible
contacts, one SQL statement however many rows there are.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from patron.contacts.models import Contact
from patron.contacts.related_lists import RelatedListSpec
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.visibility import Principal, can_access


def contact_rows(*, spec: RelatedListSpec, contact: Contact) -> QuerySet[Any]:
    """The rows of ``contact`` (which the caller got from ``contact_get``) in list order."""
    rows: QuerySet[Any] = spec.model._default_manager.filter(contact=contact)
    if spec.related:
        rows = rows.select_related(*spec.related)
    return rows.order_by(*spec.sorts[spec.default_sort])


def related_contact_get(*, user: Principal, pk: Any, action: str = Action.READ) -> Contact:
    """The contact whose lists are read (or changed, ``action`` update): one query, without
    the emails, phones and addresses the contact page loads. A contact the user may not see
    is reported as missing."""
    contact = Contact.objects.visible_to(user).filter(pk=pk).first()
    if contact is None:
        raise RecordNotFound(f"No contact with id {pk}.")
    if action != Action.READ and not can_access(user, contact, action):
        raise PermissionDenied(
            f"You may not change {contact}'s lists; ask its owner to share it with edit access."
        )
    return contact


def related_row_get(*, spec: RelatedListSpec, contact: Contact, pk: Any) -> Any:
    """One row of ``contact``'s list; RecordNotFound when it has no such row."""
    try:
        return contact_rows(spec=spec, contact=contact).get(pk=pk)
    except (spec.model.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(
            f"{contact} has no {spec.label.lower()} with id {pk}; it may have been removed."
        ) from None


def related_list(
    *, user: Principal, spec: RelatedListSpec, action: str = Action.READ
) -> QuerySet[Any]:
    """The rows of every contact ``user`` may ``action`` (read, or export for CSV)."""
    visible = Contact.objects.visible_to(user, action).values("pk")
    rows: QuerySet[Any] = spec.model._default_manager.filter(contact__in=visible)
    return rows.select_related("contact", *spec.related)
