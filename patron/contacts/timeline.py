"""Which records the 360° timeline of an account or a contact covers.

An account's timeline covers the account, its child accounts (the whole subtree, up to
SCOPE_ACCOUNT_LIMIT accounts) and the contacts of those accounts, primary or through a
relation; a contact's covers the contact. Only records the user may read are covered, so
sources without visibility of their own (the change log) never show a hidden record. The
subtree walk is one query; everything else is subqueries that the sources embed.
"""

from __future__ import annotations

from django.db.models import Q

from patron.contacts.models import Account, AccountContactRelation, Contact
from patron.contacts.selectors import _descendant_rows
from patron.core.models import BusinessRecord
from patron.core.timeline import Target, register_timeline_scope
from patron.core.visibility import Principal

# Bounds the ids a timeline query carries; deeper or wider trees show the first accounts
# breadth first (the account itself always).
SCOPE_ACCOUNT_LIMIT = 1000


def account_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    assert isinstance(record, Account)
    subtree_ids = [row[0] for row in _descendant_rows(record, SCOPE_ACCOUNT_LIMIT)]
    accounts = Account.objects.visible_to(user).filter(pk__in=subtree_ids).values("pk")
    related = AccountContactRelation.objects.filter(account_id__in=subtree_ids).values("contact_id")
    contacts = (
        Contact.objects.visible_to(user)
        .filter(Q(account_id__in=subtree_ids) | Q(pk__in=related))
        .values("pk")
    )
    return [Target(Account.object_type(), accounts), Target(Contact.object_type(), contacts)]


def contact_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    return [Target(Contact.object_type(), [record.pk])]


def register_timeline_scopes() -> None:
    register_timeline_scope(Account.object_type(), account_scope)
    register_timeline_scope(Contact.object_type(), contact_scope)
