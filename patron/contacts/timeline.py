"""Which records the 360° timeline of an account or a contact covers.

An account's timeline covers the account, its child accounts (the whole subtree, up to
SCOPE_ACCOUNT_LIMIT accounts, breadth first) and the contacts of those accounts, primary or
through a relation; a contact's covers the contact. Only records the user may read are
covered, so sources without visibility of their own (the change log) never show a hidden
record.

The scope is one query: the subtree walk of the hierarchy selectors, the visibility of
accounts and contacts, as a list of ids. Sources then filter on plain id lists, which keeps
their SQL short (and quick to build); a scope of more than SCOPE_ID_LIMIT records is handed
to them as subqueries instead, so no query ever carries an unbounded list.
"""

from __future__ import annotations

from django.db.models import Q, Value
from django.db.models.expressions import RawSQL

from patron.contacts.models import Account, AccountContactRelation, Contact
from patron.contacts.selectors import _DESCENDANTS_SQL, SUBTREE_LIMIT
from patron.core.models import BusinessRecord
from patron.core.timeline import Target, register_timeline_scope
from patron.core.visibility import Principal

SCOPE_ACCOUNT_LIMIT = 1000
SCOPE_ID_LIMIT = 2000
_ACCOUNT, _CONTACT = 0, 1


def _subtree(account: Account) -> RawSQL:
    """The ids of ``account`` and its live descendants, as a subquery."""
    # Constant SQL from the hierarchy selectors; the values go in as parameters.
    return RawSQL(  # noqa: S611
        f"SELECT id FROM ({_DESCENDANTS_SQL}) subtree",  # noqa: S608
        (account.pk, SUBTREE_LIMIT, SCOPE_ACCOUNT_LIMIT),
    )


def account_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    assert isinstance(record, Account)
    subtree = _subtree(record)
    accounts = Account.objects.visible_to(user).filter(pk__in=subtree)
    related = AccountContactRelation.objects.filter(account_id__in=subtree).values("contact_id")
    contacts = Contact.objects.visible_to(user).filter(
        Q(account_id__in=subtree) | Q(pk__in=related)
    )
    pairs = list(
        accounts.annotate(type=Value(_ACCOUNT))
        .values_list("pk", "type")
        .union(contacts.annotate(type=Value(_CONTACT)).values_list("pk", "type"), all=True)[
            : SCOPE_ID_LIMIT + 1
        ]
    )
    if len(pairs) > SCOPE_ID_LIMIT:
        return [
            Target(Account.object_type(), accounts.values("pk")),
            Target(Contact.object_type(), contacts.values("pk")),
        ]
    return [
        Target(Account.object_type(), [pk for pk, kind in pairs if kind == _ACCOUNT]),
        Target(Contact.object_type(), [pk for pk, kind in pairs if kind == _CONTACT]),
    ]


def contact_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    return [Target(Contact.object_type(), [record.pk])]


def register_timeline_scopes() -> None:
    register_timeline_scope(Account.object_type(), account_scope)
    register_timeline_scope(Contact.object_type(), contact_scope)
