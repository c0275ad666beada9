"""The read path for accounts and contacts."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from django.db.models import F, Prefetch, Q

from patron.contacts.models import (
    Account,
    AccountContactRelation,
    AccountTeamMember,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    TeamAccess,
)
from patron.core.choices import Action
from patron.core.exceptions import PermissionDenied, RecordNotFound
from patron.core.querysets import RecordQuerySet
from patron.core.visibility import (
    AccessProfile,
    Principal,
    can_access,
    register_visibility_rule,
)


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


# --- account team ----------------------------------------------------------------------------


def account_team_list(*, account: Account) -> list[AccountTeamMember]:
    return list(
        AccountTeamMember.objects.filter(account=account)
        .select_related("user", "added_by")
        .order_by("user__full_name", "id")
    )


def account_team_member_get(*, account: Account, pk: Any) -> AccountTeamMember:
    try:
        return AccountTeamMember.objects.select_related("user", "account").get(
            account=account, pk=pk
        )
    except (AccountTeamMember.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This account has no team member with id {pk}.") from None


def _team_account_ids(profile: AccessProfile, action: str) -> Any:
    memberships = AccountTeamMember.objects.filter(user_id=profile.user_id)
    if action in (Action.UPDATE, Action.DELETE):
        memberships = memberships.filter(access=TeamAccess.EDIT)
    return memberships.values("account_id")


def account_team_rule(profile: AccessProfile, action: str) -> Q:
    """Team members read the account; members with edit access also change it."""
    return Q(pk__in=_team_account_ids(profile, action))


def contact_team_rule(profile: AccessProfile, action: str) -> Q:
    """Team members see (and with edit access change) the contacts of their accounts."""
    return Q(account_id__in=_team_account_ids(profile, action))


def _membership_text(member: AccountTeamMember) -> str:
    return f"{member.get_team_role_display()} ({member.get_access_display().lower()})"


def account_team_explain(profile: AccessProfile, record: models.Model) -> list[str]:
    member = AccountTeamMember.objects.filter(user_id=profile.user_id, account_id=record.pk).first()
    if member is None:
        return []
    return [f"You are on the account team as {_membership_text(member)}."]


def contact_team_explain(profile: AccessProfile, record: models.Model) -> list[str]:
    account_id = getattr(record, "account_id", None)
    if account_id is None:
        return []
    member = (
        AccountTeamMember.objects.filter(user_id=profile.user_id, account_id=account_id)
        .select_related("account")
        .first()
    )
    if member is None:
        return []
    return [f"You are on the account team of {member.account} as {_membership_text(member)}."]


def register_visibility_rules() -> None:
    """Widen account and contact visibility to account teams (from AppConfig.ready)."""
    register_visibility_rule(Account, account_team_rule, account_team_explain)
    register_visibility_rule(Contact, contact_team_rule, contact_team_explain)


# --- contacts' relations to accounts ----------------------------------------------------------

RELATION_LIMIT = 100
ORG_CHART_LIMIT = 500


def account_relation_list(
    *,
    user: Principal,
    account: Account,
    limit: int = RELATION_LIMIT,
    current_on: datetime.date | None = None,
) -> list[AccountContactRelation]:
    """The account's relations to contacts ``user`` may see, current ones first.

    With ``current_on``, only the relations that have started and not ended by that day.
    """
    relations = AccountContactRelation.objects.filter(
        account=account, contact__in=Contact.objects.visible_to(user).values("pk")
    )
    if current_on is not None:
        relations = relations.filter(
            Q(start_date__isnull=True) | Q(start_date__lte=current_on),
            Q(end_date__isnull=True) | Q(end_date__gte=current_on),
        )
    return list(
        relations.select_related("contact", "reports_to").order_by(
            F("end_date").desc(nulls_first=True), "contact__last_name", "contact__first_name", "id"
        )[:limit]
    )


def contact_relation_list(*, user: Principal, contact: Contact) -> list[AccountContactRelation]:
    """The contact's relations to accounts ``user`` may see, the primary one first."""
    return list(
        AccountContactRelation.objects.filter(
            contact=contact, account__in=Account.objects.visible_to(user).values("pk")
        )
        .select_related("account", "reports_to")
        .order_by("-is_primary", F("end_date").desc(nulls_first=True), "account__name", "id")[
            :RELATION_LIMIT
        ]
    )


def relation_get(*, account: Account, pk: Any) -> AccountContactRelation:
    try:
        return AccountContactRelation.objects.select_related("account", "contact").get(
            account=account, pk=pk
        )
    except (AccountContactRelation.DoesNotExist, ValueError, TypeError):
        raise RecordNotFound(f"This account has no contact relation with id {pk}.") from None


@dataclass
class OrgChartNode:
    relation: AccountContactRelation
    reports: list[OrgChartNode] = field(default_factory=list)


def account_org_chart(
    *, user: Principal, account: Account, today: datetime.date
) -> tuple[list[OrgChartNode], bool]:
    """The reports-to trees of the account's current relations (visible contacts only).

    Returns the roots and whether the chart was cut at ORG_CHART_LIMIT people. Someone whose
    manager is not shown (not current, not visible, or none) is a root.
    """
    relations = account_relation_list(
        user=user, account=account, limit=ORG_CHART_LIMIT + 1, current_on=today
    )
    truncated = len(relations) > ORG_CHART_LIMIT
    nodes = {r.contact_id: OrgChartNode(r) for r in relations[:ORG_CHART_LIMIT]}
    roots: list[OrgChartNode] = []
    for node in nodes.values():
        boss = nodes.get(node.relation.reports_to_id or 0)
        if boss is None or boss is node:
            roots.append(node)
        else:
            boss.reports.append(node)
    return _break_loops(roots, nodes), truncated


def _break_loops(roots: list[OrgChartNode], nodes: dict[int, OrgChartNode]) -> list[OrgChartNode]:
    """Show people caught in a reports-to loop (from old data) as roots rather than lose them."""
    reached: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        reached.add(node.relation.contact_id)
        stack.extend(node.reports)
    for contact_id, node in nodes.items():
        if contact_id not in reached:
            boss = nodes[node.relation.reports_to_id or 0]
            boss.reports.remove(node)
            roots.append(node)
            stack = [node]
            while stack:
                current = stack.pop()
                reached.add(current.relation.contact_id)
                stack.extend(current.reports)
    return roots


# --- account hierarchy -------------------------------------------------------------------------

HIERARCHY_LIMIT = 500
SUBTREE_LIMIT = 10_000


@dataclass
class HierarchyNode:
    id: int
    name: str
    parent_id: int | None
    depth: int
    visible: bool = True
    children: list[HierarchyNode] = field(default_factory=list)


@dataclass
class AccountHierarchy:
    ancestors: list[HierarchyNode]
    root: HierarchyNode
    shown: int
    truncated: bool
    subtree_ids: list[int]
    subtree_truncated: bool


def _tree_rows(sql: str, params: list[Any]) -> list[tuple[int, str, int | None, int]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], row[2], row[3]) for row in cursor.fetchall()]


# Account._meta.db_table, spelled out so the SQL is a constant.
_DESCENDANTS_SQL = (
    "WITH RECURSIVE tree(id, name, parent_id, depth) AS ("
    " SELECT id, name, parent_id, 0 FROM contacts_account WHERE id = %s"
    " UNION ALL"
    " SELECT a.id, a.name, a.parent_id, tree.depth + 1 FROM contacts_account a"
    " JOIN tree ON a.parent_id = tree.id"
    " WHERE a.deleted_at IS NULL AND tree.depth < %s"
    ") SELECT id, name, parent_id, depth FROM tree LIMIT %s"
)
_ANCESTORS_SQL = (
    "WITH RECURSIVE up(id, name, parent_id, depth) AS ("
    " SELECT id, name, parent_id, 0 FROM contacts_account WHERE id = %s"
    " UNION ALL"
    " SELECT a.id, a.name, a.parent_id, up.depth + 1 FROM contacts_account a"
    " JOIN up ON a.id = up.parent_id WHERE up.depth < %s"
    ") SELECT id, name, parent_id, depth FROM up WHERE depth > 0 ORDER BY depth DESC"
)


def _descendant_rows(account: Account, limit: int) -> list[tuple[int, str, int | None, int]]:
    """(id, name, parent_id, depth) of the account and its live descendants, breadth first.

    The depth cap bounds the walk even if bad data ever held a cycle.
    """
    return _tree_rows(_DESCENDANTS_SQL, [account.pk, SUBTREE_LIMIT, limit])


def _ancestor_rows(account: Account) -> list[tuple[int, str, int | None, int]]:
    """The account's ancestors, the root first (deleted ones too: they still link the chain)."""
    return _tree_rows(_ANCESTORS_SQL, [account.pk, HIERARCHY_LIMIT])


def account_hierarchy(*, user: Principal, account: Account) -> AccountHierarchy:
    """Ancestors (root first) and the descendants tree of ``account`` in three queries.

    Accounts ``user`` may not see keep their place in the tree without their name. The tree
    shows at most HIERARCHY_LIMIT accounts; roll-ups use up to SUBTREE_LIMIT.
    """
    rows = _descendant_rows(account, SUBTREE_LIMIT + 1)
    subtree_truncated = len(rows) > SUBTREE_LIMIT
    rows = rows[:SUBTREE_LIMIT]
    ancestors = [HierarchyNode(*row) for row in _ancestor_rows(account)]
    shown_rows = sorted(rows, key=lambda row: (row[3], row[1].lower(), row[0]))
    shown_rows = shown_rows[:HIERARCHY_LIMIT]
    nodes = {row[0]: HierarchyNode(*row) for row in shown_rows}
    check_ids = [n.id for n in nodes.values() if n.id != account.pk]
    check_ids += [a.id for a in ancestors]
    visible = set(
        Account.objects.visible_to(user).filter(pk__in=check_ids).values_list("pk", flat=True)
    )
    for node in [*nodes.values(), *ancestors]:
        node.visible = node.id == account.pk or node.id in visible
    for node in sorted(nodes.values(), key=lambda n: (n.name.lower(), n.id)):
        parent = nodes.get(node.parent_id or 0)
        if parent is not None and node.id != account.pk:
            parent.children.append(node)
    return AccountHierarchy(
        ancestors=ancestors,
        root=nodes[account.pk],
        shown=len(nodes),
        truncated=len(rows) > len(nodes),
        subtree_ids=[row[0] for row in rows],
        subtree_truncated=subtree_truncated,
    )
