"""Record visibility compiled to SQL predicates, and its explanation.

Access to a record is the union of: administrator, org-wide default, owner, team, role
hierarchy (owners in roles below the user's), explicit shares, and predicates that other
apps register (account teams, territories, opportunity teams) through
``register_visibility_rule``. Each rule returns a ``Q`` so a list stays one query.

Compiled predicates and read-only access answers are remembered on the user's
``AccessProfile``, which lives on the request's user object: nothing is kept in module state,
so processes and requests share nothing and a new request starts afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections, models
from django.db.models import Exists, Expression, F, Q
from django.db.models.sql import Query

from patron.core.choices import Action, FieldAccess, OrgWideAccess, ShareAccess
from patron.core.exceptions import PermissionDenied
from patron.core.memo import RecentlyUsed


class Principal(Protocol):
    """What visibility needs to know about a user (users.User satisfies it)."""

    @property
    def pk(self) -> Any: ...

    @property
    def is_superuser(self) -> bool: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def role_id(self) -> int | None: ...

    def access_profile(self) -> AccessProfile: ...


@dataclass
class VisibilityMemo:
    """What one AccessProfile has worked out already during its request.

    ``predicates`` holds compiled ``Q``s by (object type, action): they depend only on the
    profile, because every rule returns lazy subqueries, so they stay right after writes.
    ``checks`` holds ``can_access_cached`` answers by (object type, pk, action, owner, team):
    they depend on rows, so ``can_access`` (the check every write path makes) and
    ``visible_to`` with a write action forget them all.
    """

    predicates: dict[tuple[str, str], Q | None] = field(default_factory=dict)
    checks: dict[tuple[str, Any, str, Any, Any], bool] = field(default_factory=dict)
    content_key: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class AccessProfile:
    """A user's role, hierarchy path, teams and object permissions, loaded once per request.

    ``sensitive_custom_keys`` (the keys of the active sensitive custom fields by object type)
    is loaded with the rest so field security needs no query of its own.
    """

    user_id: int
    is_admin: bool
    role_id: int | None
    role_path: str
    team_ids: frozenset[int]
    permissions: dict[str, frozenset[str]]
    org_defaults: dict[str, str]
    field_access: dict[tuple[str, str], str]
    sensitive_custom_keys: dict[str, frozenset[str]]
    memo: VisibilityMemo = field(default_factory=VisibilityMemo, compare=False, repr=False)

    def content_key(self) -> tuple[Any, ...]:
        """Everything the profile holds, as a hashable value: two profiles with equal keys
        compile every visibility predicate to the same SQL (rules depend on the profile
        alone and read no rows), so compiled SQL may be shared under this key."""
        if self.memo.content_key is None:
            self.memo.content_key = (
                self.user_id,
                self.is_admin,
                self.role_id,
                self.role_path,
                tuple(sorted(self.team_ids)),
                tuple(sorted((key, tuple(sorted(v))) for key, v in self.permissions.items())),
                tuple(sorted(self.org_defaults.items())),
                tuple(sorted(self.field_access.items())),
                tuple(
                    sorted((key, tuple(sorted(v))) for key, v in self.sensitive_custom_keys.items())
                ),
            )
        return self.memo.content_key

    def may(self, object_type: str, action: str) -> bool:
        return self.is_admin or action in self.permissions.get(object_type, frozenset())

    def org_default(self, object_type: str) -> str:
        return self.org_defaults.get(object_type, OrgWideAccess.PRIVATE)


@dataclass(frozen=True)
class ProfilePrincipal:
    """A Principal built from an AccessProfile, so a visibility rule of one model can ask
    which rows of another model the same user sees (``Model.objects.visible_to(...)``)."""

    profile: AccessProfile

    @property
    def is_active(self) -> bool:
        return True

    @property
    def pk(self) -> int:
        return self.profile.user_id

    @property
    def is_superuser(self) -> bool:
        return self.profile.is_admin

    @property
    def role_id(self) -> int | None:
        return self.profile.role_id

    def access_profile(self) -> AccessProfile:
        return self.profile


VisibilityRule = Callable[[AccessProfile, str], Q]
ExplainRule = Callable[[AccessProfile, models.Model], list[str]]

_rules: dict[str, list[tuple[VisibilityRule, ExplainRule | None]]] = {}


def register_visibility_rule(
    model: type[models.Model], rule: VisibilityRule, explain: ExplainRule | None = None
) -> None:
    """Let a higher app widen visibility of ``model`` (called from its AppConfig.ready).

    ``rule`` must depend only on the profile and the action and must return lazy subqueries,
    never rows it has read: its ``Q`` is compiled once per profile and reused for the rest of
    the request, after writes too.
    """
    _rules.setdefault(model._meta.label_lower, []).append((rule, explain))


def _write_actions() -> frozenset[str]:
    return frozenset({Action.UPDATE, Action.DELETE})


def visibility_filter(model: type[models.Model], user: Principal, action: str) -> Q | None:
    """A ``Q`` selecting the rows of ``model`` that ``user`` may ``action``; None means all.

    Compiled once per (model, action) for the user's access profile, then reused.
    """
    if not user.is_active:
        return Q(pk__in=[])
    profile = user.access_profile()
    key = (model._meta.label_lower, action)
    predicates = profile.memo.predicates
    if key not in predicates:
        predicates[key] = _compile(model, profile, action)
    return predicates[key]


class CompiledCondition(Expression):
    """A visibility predicate compiled to SQL once, placed in any query over its model.

    The SQL names the model's table where it refers to the row being checked; each query
    it is placed in gives that table its own alias (a subquery's ``U0``), which the
    ``pk`` column, resolved in that query, tells.
    """

    def __init__(self, sql: str, params: tuple[Any, ...], table_prefix: str, pk: Any = None):
        super().__init__(output_field=models.BooleanField())
        self.sql = sql
        self.params = params
        self.table_prefix = table_prefix
        self.pk = F("pk") if pk is None else pk

    def get_source_expressions(self) -> list[Any]:
        return [self.pk]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.pk,) = exprs

    def as_sql(
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        column_sql, _params = compiler.compile(self.pk)
        alias_prefix = column_sql[: column_sql.rindex(".") + 1]
        return self.sql.replace(self.table_prefix, alias_prefix), list(self.params)


# What visible_to places in a query, by (database, object type, action, profile content):
# a compiled condition, _ALL (no restriction) or _UNCOMPILED (use the Q). Bounded, since a
# process serves many users.
_ALL = "all"
_UNCOMPILED = "uncompiled"
_compiled_conditions: RecentlyUsed[CompiledCondition | str] = RecentlyUsed(2048)


def forget_compiled_conditions() -> None:
    """Drop every compiled condition (for tests that replace visibility rules)."""
    _compiled_conditions.clear()


def visibility_condition(
    model: type[models.Model], user: Principal, action: str, using: str
) -> Q | CompiledCondition | None:
    """``visibility_filter`` for a query on database ``using``, compiled to SQL once per
    process for each access profile content, so a request whose user's access is unchanged
    neither builds nor compiles the rules again: on an API list that was a quarter of the
    request (issue 8, benchmark 1).

    The SQL is a function of the profile alone (rules read no rows and return lazy
    subqueries), so a profile read afresh that differs in anything compiles anew, and the
    rows the subqueries read (shares, account teams) are read when the query runs.
    """
    if not user.is_active:
        return Q(pk__in=[])
    profile = user.access_profile()
    key = (using, model._meta.label_lower, action, profile.content_key())
    kept, known = _compiled_conditions.get(key)
    if not kept:
        condition = visibility_filter(model, user, action)
        known = _ALL if condition is None else _compiled(model, condition, using)
        _compiled_conditions.put(key, known)
    if known == _ALL:
        return None
    if isinstance(known, CompiledCondition):
        return known
    return visibility_filter(model, user, action)


def _compiled(model: type[models.Model], condition: Q, using: str) -> CompiledCondition | str:
    """``condition`` as SQL over ``model``'s table, or _UNCOMPILED when it cannot be placed
    in another query by renaming the table: it joins other tables, names the table inside
    a subquery (a correlated rule), or selects nothing or everything."""
    query = Query(model)
    query.add_q(condition)
    table = model._meta.db_table
    # A filter on a foreign key's id leaves an unused join entry behind (refcount 0).
    if {alias for alias, count in query.alias_refcount.items() if count} != {table}:
        return _UNCOMPILED
    compiler = query.get_compiler(using)
    try:
        sql, params = compiler.compile(query.where)
    except (EmptyResultSet, FullResultSet):
        return _UNCOMPILED
    prefix = f"{connections[using].ops.quote_name(table)}."
    if _named_in_subquery(sql, prefix):
        return _UNCOMPILED
    return CompiledCondition(sql, tuple(params), prefix)


def _named_in_subquery(sql: str, name: str) -> bool:
    """Whether ``name`` occurs inside a parenthesised SELECT of ``sql``."""
    subquery_depths: list[bool] = []
    index = 0
    while index < len(sql):
        if sql.startswith(name, index) and any(subquery_depths):
            return True
        char = sql[index]
        if char == "(":
            subquery_depths.append(sql[index + 1 : index + 7].upper() == "SELECT")
        elif char == ")" and subquery_depths:
            subquery_depths.pop()
        index += 1
    return False


def _compile(model: type[models.Model], profile: AccessProfile, action: str) -> Q | None:
    object_type = model._meta.label_lower
    if profile.is_admin:
        return None
    if not profile.may(object_type, action):
        return Q(pk__in=[])
    if action == Action.CREATE:
        return None
    default = profile.org_default(object_type)
    if default == OrgWideAccess.PUBLIC_READ_WRITE:
        return None
    if default == OrgWideAccess.PUBLIC_READ and action not in _write_actions():
        return None

    condition = Q(owner_id=profile.user_id)
    if profile.role_path and profile.role_id is not None:
        condition |= Q(owner_id__in=_users_below(profile.role_path, profile.role_id))
    if profile.team_ids:
        condition |= Q(team_id__in=profile.team_ids)
    condition |= Q(pk__in=_shared_ids(model, profile, action))
    for rule, _explain in _rules.get(object_type, []):
        condition |= rule(profile, action)
    return condition


def _users_below(role_path: str, role_id: int) -> Any:
    """The users in roles below the role ``role_id`` (at ``role_path``), as a subquery.

    A subquery rather than a join through the owner's role: the database computes it once
    per statement and tests each row's owner against it, where the join cost two index
    look-ups per row, which search pays on every candidate it checks (issue 8)."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        ._base_manager.filter(role__path__startswith=role_path)
        .exclude(role_id=role_id)
        .values("pk")
    )


def _shared_ids(model: type[models.Model], profile: AccessProfile, action: str) -> Any:
    from patron.core.models import RecordShare

    grantee = Q(user_id=profile.user_id)
    if profile.team_ids:
        grantee |= Q(team_id__in=profile.team_ids)
    if profile.role_id:
        grantee |= Q(role_id=profile.role_id)
    shares = RecordShare.objects.filter(
        grantee, content_type=ContentType.objects.get_for_model(model)
    )
    if action in _write_actions():
        shares = shares.filter(access=ShareAccess.EDIT)
    return shares.values("object_id")


def can_access(user: Principal, record: models.Model, action: str) -> bool:
    """Whether ``user`` may ``action`` one record (one indexed query), asked afresh.

    Services check with this before they write, so it also forgets every answer
    ``can_access_cached`` remembered: whatever the write changes (owner, team, shares,
    account team), a check after it asks the database again.
    """
    forget_access_checks(user)
    return _ask(user, record, action)


def can_access_cached(user: Principal, record: models.Model, action: str) -> bool:
    """``can_access`` for pages and templates: asked once per record and action per request.

    Not for services: they use ``can_access``, which forgets these answers.
    """
    return access_answers(user, record, (action,))[action]


def access_answers(
    user: Principal, record: models.Model, actions: Iterable[str]
) -> dict[str, bool]:
    """Whether ``user`` may do each of ``actions`` to ``record``, for pages and templates.

    The actions not answered yet in this request are asked in one query; the answers are
    remembered on the user's access profile, keyed by the record's owner and team too, so a
    page that asks again (a card checking edit access after the page did) runs no query.
    """
    if not user.is_active:
        return dict.fromkeys(actions, False)
    model = type(record)
    object_type = model._meta.label_lower
    owner_id, team_id = getattr(record, "owner_id", None), getattr(record, "team_id", None)
    checks = user.access_profile().memo.checks
    keys = {action: (object_type, record.pk, action, owner_id, team_id) for action in actions}
    asked: dict[str, Q] = {}
    for action, key in keys.items():
        if key in checks:
            continue
        condition = visibility_filter(model, user, action)
        if condition is None:
            checks[key] = True
        else:
            asked[action] = condition
    if asked:
        manager = model._base_manager
        names = {action: f"may_{index}" for index, action in enumerate(asked)}
        row = (
            manager.filter(pk=record.pk)
            .annotate(
                **{
                    names[action]: Exists(manager.filter(condition, pk=record.pk))
                    for action, condition in asked.items()
                }
            )
            .values_list(*names.values())
            .first()
        )
        for index, action in enumerate(asked):
            checks[keys[action]] = bool(row and row[index])
    return {action: checks[key] for action, key in keys.items()}


def forget_access_checks(user: Principal) -> None:
    """Drop the answers ``can_access_cached`` remembered for ``user`` (before a write)."""
    if user.is_active:
        user.access_profile().memo.checks.clear()


def _ask(user: Principal, record: models.Model, action: str) -> bool:
    condition = visibility_filter(type(record), user, action)
    if condition is None:
        return True
    manager = type(record)._base_manager
    return manager.filter(condition, pk=record.pk).exists()


def explain_access(user: Principal, record: Any, *, shares: list[Any] | None = None) -> list[str]:
    """Plain-language reasons why ``user`` can see ``record`` (empty when they cannot).

    ``shares`` are the record's RecordShare rows when the caller has loaded them already.
    """
    profile = user.access_profile()
    object_type = type(record)._meta.label_lower
    if profile.is_admin:
        return ["You are an administrator, who can see every record."]
    if not profile.may(object_type, Action.READ):
        return []
    reasons: list[str] = []
    default = profile.org_default(object_type)
    if default in (OrgWideAccess.PUBLIC_READ, OrgWideAccess.PUBLIC_READ_WRITE):
        label = OrgWideAccess(default).label.lower()
        reasons.append(f"The organisation-wide default for this kind of record is {label}.")
    owner = getattr(record, "owner", None)
    if record.owner_id == profile.user_id:
        reasons.append("You own this record.")
    elif owner is not None and owner.role_id and profile.role_path:
        owner_path = owner.role.path if owner.role else ""
        if owner_path.startswith(profile.role_path) and owner.role_id != profile.role_id:
            reasons.append(
                f"The owner, {owner}, is in the role {owner.role}, which is below your role "
                "in the hierarchy."
            )
    if getattr(record, "team_id", None) and record.team_id in profile.team_ids:
        reasons.append(f"You are a member of the record's team, {record.team}.")
    from patron.core.models import RecordShare

    if shares is None:
        shares = list(
            RecordShare.objects.filter(
                content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
            ).select_related("user", "team", "role")
        )
    for share in shares:
        via = None
        if share.user_id == profile.user_id:
            via = "you"
        elif share.team_id in profile.team_ids:
            via = f"your team {share.team}"
        elif share.role_id and share.role_id == profile.role_id:
            via = f"your role {share.role}"
        if via:
            reasons.append(f"The record is shared with {via} ({share.get_access_display()}).")
    for _rule, explain in _rules.get(object_type, []):
        if explain is not None:
            reasons.extend(explain(profile, record))
    return reasons


def sensitive_field_access(user: Principal, model: type[models.Model]) -> dict[str, str]:
    """How ``user`` may see each sensitive field of ``model`` (no query: the access profile
    knows the sensitive custom fields).

    Fields not in the result are not sensitive: everyone with access to the record edits them.
    """
    object_type = model._meta.label_lower
    profile = user.access_profile()
    sensitive = set(getattr(model, "SENSITIVE_FIELDS", frozenset()))
    sensitive |= {
        f"custom.{key}" for key in profile.sensitive_custom_keys.get(object_type, frozenset())
    }
    if profile.is_admin:
        return dict.fromkeys(sensitive, FieldAccess.EDIT)
    return {
        name: profile.field_access.get((object_type, name), FieldAccess.HIDDEN)
        for name in sensitive
    }


def hidden_field_names(user: Principal, model: type[models.Model]) -> frozenset[str]:
    """The sensitive fields (``name`` or ``custom.<key>``) ``user`` may not see at all."""
    return frozenset(
        name
        for name, access in sensitive_field_access(user, model).items()
        if access == FieldAccess.HIDDEN
    )


def field_access(user: Principal, model: type[models.Model], field: str) -> str:
    """How ``user`` may see a field: edit, read_only or hidden (only sensitive fields vary)."""
    return sensitive_field_access(user, model).get(field, FieldAccess.EDIT)


def require_admin(user: Any, refusal: str) -> Any:
    """``user``, who must administer the organisation, else PermissionDenied(``refusal``).

    ``refusal`` says what only administrators may do, so the message tells the user whom to ask.
    """
    if not getattr(user, "is_admin", False):
        raise PermissionDenied(refusal)
    return user
