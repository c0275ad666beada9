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
from patron.core.exceptions import RecordNotFound
from patron.core.visibility import Principal


def contact_rows(*, spec: RelatedListSpec, contact: Contact) -> QuerySet[Any]:
    """The rows of ``contact`` (which the caller got from ``contact_get``) in list order."""
    rows: QuerySet[Any] = spec.model._default_manager.filter(contact=contact).select_related(
        *spec.related
    )
    return rows.order_by(*spec.sorts[spec.default_sort])


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
