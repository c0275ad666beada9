"""One global search interface over registered models.

Apps register a describer per model (``register``) and their services call
``index_record`` / ``unindex_record`` inside the write transaction. Each record becomes one
``SearchEntry`` row; ``search`` matches the query against those rows with the database's own
index and keeps only records the user may read:

- SQLite: an FTS5 table with the trigram tokenizer over ``core_searchentry.text`` (kept in
  step by triggers, migration 0003), so any substring of 3+ characters is an index lookup.
- PostgreSQL: ``ILIKE`` served by a GIN ``gin_trgm_ops`` index for substrings, and a GIN
  ``to_tsvector('simple', text)`` index for word prefixes shorter than three characters.
- Queries whose every word is shorter than three characters match title prefixes through an
  index on the title (case-insensitive on both databases).

Hits rank exact title, title prefix, a word of the title, a word of the text, then anywhere;
title-prefix matches are fetched first and the rest ranked from at most MAX_CANDIDATES
candidates. Visibility (``visible_to(user)`` of each type, which also leaves out soft-deleted
records) is then checked on the best-ranked candidates only, in windows (the first 5 x the
limit, the next sized from the share the user could read), with one query over every type
present; each type's rules are compiled once per access profile and process (kept under
the profile's content, so a changed profile compiles afresh); a user who sees too few of the
capped candidates gets the rest ranked with visibility inside the statement
(``_best_visible``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Case, Expression, F, Subquery, Value, When
from django.db.models.expressions import RawSQL

from patron.core.choices import Action
from patron.core.memo import RecentlyUsed
from patron.core.models import SearchEntry
from patron.core.visibility import Principal

Describer = Callable[[Any], tuple[str, str, str]]
UrlBuilder = Callable[[int], str]
DependentsFinder = Callable[[Any], Iterable[models.Model]]

MIN_SUBSTRING = 3
MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
MAX_LIMIT = 100
# Matches ranked per query; beyond this a broad query ranks a sample (see _best).
MAX_CANDIDATES = 1000
# Ranked candidates checked for visibility first: limit x this, enough for a user who reads a
# fifth of them (a wide manager reads about a third); later windows are sized from the share
# of the checked ones the user could read, with the same margin (_next_window). Checking more
# ids in a window costs far less than another window (a round trip, planning the rules).
VISIBILITY_WINDOW_FACTOR = 5

_PHONE_QUERY = re.compile(r"^[\d\s()+\-./]+$")
_PLACEHOLDER = re.compile(r"\{(\d)\}")


@dataclass(frozen=True)
class SearchType:
    """How one model takes part in search (filled by ``register``)."""

    model: type[models.Model]
    describe: Describer
    url: UrlBuilder
    label: str
    prefetch: tuple[str, ...]
    dependents: DependentsFinder | None

    @property
    def object_type(self) -> str:
        return self.model._meta.label_lower

    @property
    def type_name(self) -> str:
        return self.model._meta.model_name or self.object_type


_registry: dict[str, SearchType] = {}


def register(
    model: type[models.Model],
    describe: Describer,
    *,
    url: UrlBuilder,
    label: str = "",
    prefetch: Sequence[str] = (),
    dependents: DependentsFinder | None = None,
) -> None:
    """Make ``model`` searchable.

    ``describe(record) -> (title, subtitle, searchable text)``. ``url(pk)`` gives the path
    of the record's page (e.g. ``lambda pk: reverse("leads:lead_detail", args=[pk])``).
    ``prefetch`` names the relations the describer reads, so a batch reindex does not query
    per row. ``dependents(record)`` gives records whose text quotes this record's title (a
    contact quotes its account's name); they are reindexed when that title changes.
    """
    if not hasattr(model._default_manager, "visible_to"):
        raise TypeError(f"{model._meta.label} needs a visible_to() manager to be searchable.")
    _registry[model._meta.label_lower] = SearchType(
        model=model,
        describe=describe,
        url=url,
        label=label or str(model._meta.verbose_name_plural).capitalize(),
        prefetch=tuple(prefetch),
        dependents=dependents,
    )


def registered_types() -> list[SearchType]:
    return list(_registry.values())


def _entry_values(search_type: SearchType, record: models.Model) -> dict[str, str]:
    title, subtitle, text = search_type.describe(record)
    return {"title": title[:300], "subtitle": subtitle[:300], "text": text}


def index_record(record: models.Model) -> None:
    """Write the search entry of ``record`` (call inside the service's transaction)."""
    search_type = _registry.get(record._meta.label_lower)
    if search_type is None:
        return
    values = _entry_values(search_type, record)
    content_type = ContentType.objects.get_for_model(type(record))
    previous_title = (
        SearchEntry.objects.filter(content_type=content_type, object_id=record.pk)
        .values_list("title", flat=True)
        .first()
    )
    SearchEntry.objects.update_or_create(
        content_type=content_type, object_id=record.pk, defaults=values
    )
    if (
        search_type.dependents is not None
        and previous_title is not None
        and previous_title != values["title"]
    ):
        index_records(search_type.dependents(record))


def index_records(records: Iterable[models.Model], *, batch_size: int = 500) -> int:
    """Write the entries of many records, a batch per statement; returns how many.

    Records of unregistered models are skipped; dependents are not followed.
    """
    done = 0
    batch: list[models.Model] = []
    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            done += _upsert(batch)
            batch = []
    if batch:
        done += _upsert(batch)
    return done


def _upsert(records: list[models.Model]) -> int:
    entries = []
    for record in records:
        search_type = _registry.get(record._meta.label_lower)
        if search_type is None:
            continue
        entries.append(SearchEntry(
            content_type=ContentType.objects.get_for_model(type(record)),
            object_id=record.pk,
            **_entry_values(search_type, record),
        ))
    SearchEntry.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["content_type", "object_id"],
        update_fields=["title", "subtitle", "text"],
    )
    return len(entries)


def unindex_record(record: models.Model) -> None:
    SearchEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
    ).delete()


def reindex(
    model: type[models.Model],
    *,
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Rebuild every entry of ``model`` in batches (imports, restores); returns rows indexed.

    Live records are upserted; entries of records that are gone or soft-deleted are removed.
    """
    search_type = _registry[model._meta.label_lower]
    manager = model._default_manager
    done = 0
    last_pk: Any = None
    while True:
        batch_query = manager.order_by("pk").prefetch_related(*search_type.prefetch)
        if last_pk is not None:
            batch_query = batch_query.filter(pk__gt=last_pk)
        batch = list(batch_query[:batch_size])
        if not batch:
            break
        done += _upsert(batch)
        last_pk = batch[-1].pk
        if on_batch is not None:
            on_batch(done)
    SearchEntry.objects.filter(content_type=ContentType.objects.get_for_model(model)).exclude(
        object_id__in=manager.values("pk")
    ).delete()
    return done


@dataclass(frozen=True)
class Hit:
    object_type: str
    pk: int
    title: str
    subtitle: str
    url: str
    type_name: str
    type_label: str


@dataclass(frozen=True)
class ParsedQuery:
    """The user's query reduced to what is matched: lower-cased terms, or phone digits."""

    phrase: str
    terms: tuple[str, ...]

    @property
    def long_terms(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) >= MIN_SUBSTRING)

    @property
    def short_terms(self) -> tuple[str, ...]:
        return tuple(t for t in self.terms if len(t) < MIN_SUBSTRING)


def parse_query(query: str) -> ParsedQuery:
    """Lower-case and split the query; a phone number in any format becomes its digits."""
    printable = "".join(ch if ch.isprintable() else " " for ch in (query or "")[:MAX_QUERY_LENGTH])
    text = " ".join(printable.split()).lower()
    digits = re.sub(r"\D", "", text)
    if text and _PHONE_QUERY.match(text) and len(digits) >= MIN_SUBSTRING:
        return ParsedQuery(phrase=digits, terms=(digits,))
    words = list(dict.fromkeys(text.split()))
    # Stray punctuation ("acme &") would match too little; keep it only when it is all there is.
    terms = [w for w in words if any(ch.isalnum() for ch in w)] or words
    return ParsedQuery(phrase=text, terms=tuple(terms[:MAX_TERMS]))


def search(
    user: Principal,
    query: str,
    *,
    limit: int = 20,
    object_types: Sequence[str] | None = None,
) -> list[Hit]:
    """The records matching ``query`` that ``user`` may read, best matches first.

    ``object_types`` limits the search to those types ("contacts.account", ...). The number
    of queries does not grow with the hits: two rankings, a visibility check per window
    (usually one), plus the user's access profile and the content types, both cached.
    """
    parsed = parse_query(query)
    limit = max(1, min(limit, MAX_LIMIT))
    if not parsed.terms or not user.is_active:
        return []
    types = [
        t for t in _registry.values()
        if (object_types is None or t.object_type in object_types)
        and user.access_profile().may(t.object_type, Action.READ)
    ]
    if not types:
        return []
    content_types = ContentType.objects.get_for_models(*(t.model for t in types))
    types_by_ct = {content_types[t.model].pk: t for t in types}
    matching = _matching(parsed).filter(content_type_id__in=list(types_by_ct))
    checker = _VisibilityChecker(user, types_by_ct)

    rows: list[_Row] = []
    checked: list[int] = []
    if parsed.long_terms:
        # Titles starting with the query rank first; look them up on their own so that a
        # broad query cannot crowd them out of the capped candidates.
        prefix = matching.filter(_title_prefix(parsed.phrase))
        rows, checked = _best_visible(prefix, parsed.phrase, limit, checker)
    if len(rows) < limit:
        rest = matching.exclude(id__in=checked) if checked else matching
        more, _ = _best_visible(rest, parsed.phrase, limit - len(rows), checker)
        rows += more

    hits = []
    for _entry_id, content_type_id, object_id, title, subtitle in rows:
        search_type = types_by_ct[content_type_id]
        hits.append(
            Hit(
                object_type=search_type.object_type,
                pk=object_id,
                title=title,
                subtitle=subtitle,
                url=search_type.url(object_id),
                type_name=search_type.type_name,
                type_label=search_type.label,
            )
        )
    return hits


def matching_ids(model: type[models.Model], query: str) -> models.QuerySet[SearchEntry, Any]:
    """The ids of ``model``'s records whose search text matches ``query``, as a subquery.

    Lists filter their "contains" box through this so that it is served by the search index
    (trigram GIN / FTS5) instead of an unindexed ``ILIKE '%...%'`` scan of the table.
    Visibility is not applied here: the list's own queryset already carries it.
    """
    parsed = parse_query(query)
    if not parsed.terms:
        return SearchEntry.objects.none().values("object_id")
    content_type = ContentType.objects.get_for_model(model)
    return _matching(parsed).filter(content_type=content_type).values("object_id")


_Row = tuple[int, int, int, str, str]


def _best(
    entries: models.QuerySet[SearchEntry], phrase: str, limit: int = MAX_CANDIDATES
) -> list[_Row]:
    """The ``limit`` best-ranked of at most MAX_CANDIDATES of ``entries`` (one query).

    Ranking reads every candidate, so a query matching most of a large table ranks a sample
    instead of all of it; exact and prefix title matches are fetched separately beforehand.
    """
    candidates = entries.values("id")[:MAX_CANDIDATES]
    if connection.vendor == "postgresql":
        # ARRAY() makes the candidates an InitPlan, computed first. As an IN semi-join the
        # planner could instead sort every entry by rank and probe the candidates per row
        # (issue 8, docs/performance.md).
        chosen = SearchEntry.objects.filter(
            _condition("{0} = ANY(ARRAY{1})", F("id"), Subquery(candidates))
        )
    else:
        chosen = SearchEntry.objects.filter(id__in=candidates)
    return list(
        chosen.annotate(search_rank=_rank(phrase))
        .order_by("search_rank", "title", "id")
        .values_list("id", "content_type_id", "object_id", "title", "subtitle")[:limit]
    )


_CompiledReadable = tuple[str, tuple[Any, ...]] | None
# Compiled readable SELECTs by (database, content type, access profile content); a few
# hundred users' worth of the largest (activities') is a few MB.
_readable_sql_cache: RecentlyUsed[_CompiledReadable] = RecentlyUsed(512)


def forget_compiled_visibility() -> None:
    """Drop every compiled readable SELECT (for tests that replace visibility rules)."""
    _readable_sql_cache.clear()


class _VisibilityChecker:
    """Which of some entries' records ``user`` may read: one query over every type present.

    Each type's rules are compiled to SQL once per search and reused by every window and
    by both rankings: building and compiling the predicates of a user with a role subtree,
    teams, shares and territories cost more than running them (issue 8, benchmark 2).
    """

    def __init__(self, user: Principal, types_by_ct: dict[int, SearchType]) -> None:
        self.user = user
        self.types_by_ct = types_by_ct

    def _readable_ids_sql(self, content_type_id: int) -> _CompiledReadable:
        """The SELECT of the type's readable primary keys (as ``search_pk``), with its params;
        None when the rules select nothing.

        Kept per process under the access profile's content: the SQL is a function of the
        profile alone (the rules read no rows), so a profile read afresh that differs in
        anything (a team, a role, a permission) compiles anew and none is ever stale."""
        key = (
            connection.alias,
            content_type_id,
            self.user.access_profile().content_key(),
        )
        kept, known = _readable_sql_cache.get(key)
        if kept:
            return known
        model = self.types_by_ct[content_type_id].model
        readable = (
            model._default_manager.visible_to(self.user)  # type: ignore[attr-defined]
            .order_by()
            .annotate(search_pk=F("pk"))
            .values_list("search_pk")
        )
        compiled: _CompiledReadable
        try:
            compiled = readable.query.sql_with_params()
        except EmptyResultSet:
            compiled = None
        _readable_sql_cache.put(key, compiled)
        return compiled

    def readable(self, rows: Sequence[_Row]) -> set[tuple[int, int]]:
        ids_by_ct: dict[int, list[int]] = {}
        for _entry_id, content_type_id, object_id, _title, _subtitle in rows:
            ids_by_ct.setdefault(content_type_id, []).append(object_id)
        # The readable SELECT is a plain subquery, which both databases flatten, so the ids
        # filter drives it through the primary key. One SELECT per type joined with UNION ALL.
        # Only compiled SQL and integers are formatted in; every value is a parameter.
        parts: list[str] = []
        params: list[Any] = []
        for ct, ids in ids_by_ct.items():
            compiled = self._readable_ids_sql(ct)
            if compiled is None:
                continue
            sql, sql_params = compiled
            params += sql_params
            if connection.vendor == "postgresql":
                ids_sql = "= ANY(%s)"
                params.append(ids)
            else:
                ids_sql = f"IN ({', '.join(['%s'] * len(ids))})"
                params += ids
            parts.append(
                f"SELECT {int(ct)}, readable.search_pk FROM ({sql}) readable"  # noqa: S608
                f" WHERE readable.search_pk {ids_sql}"
            )
        if not parts:
            return set()
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            return {(int(ct), int(pk)) for ct, pk in cursor.fetchall()}

    def condition(self) -> Case:
        """The same rules inside a statement: an EXISTS by primary key per type.

        A CASE rather than OR-ed conditions: the text index drives the query and visibility
        is checked per candidate (an OR on content_type_id would let the planner scan every
        entry of a type instead). Each EXISTS wraps the type's readable SELECT compiled for
        the windows, which both databases flatten so the key drives it; building the rules
        again as querysets cost more than the statement (issue 8, benchmark 2)."""
        readable_when = []
        for ct in self.types_by_ct:
            compiled = self._readable_ids_sql(ct)
            if compiled is None:
                continue
            sql, params = compiled
            readable_when.append(
                When(
                    content_type_id=ct,
                    then=_condition(
                        "EXISTS(SELECT 1 FROM {1} readable WHERE readable.search_pk = {0})",
                        F("object_id"),
                        # SQL Django compiled from the rules; every value in it is a parameter.
                        RawSQL(sql, params),  # noqa: S611
                    ),
                )
            )
        return Case(*readable_when, default=Value(False), output_field=models.BooleanField())


def _best_visible(
    entries: models.QuerySet[SearchEntry], phrase: str, limit: int, checker: _VisibilityChecker
) -> tuple[list[_Row], list[int]]:
    """The ``limit`` best-ranked readable entries, and the ids of the entries checked.

    The candidates are ranked first, without visibility; the user's visibility rules then
    run on the best of them only, in windows, until ``limit`` are readable. Checking
    every candidate inside the ranking statement cost seconds for a user with a wide role
    subtree, whose rules are an expensive predicate per row (issue 8, benchmark 2). When the
    capped candidates hold too few readable records (a user who sees little, a broad
    query), the rest are ranked with visibility in the statement, so such a user's
    candidates are as many readable records as anyone's.
    """
    ranked = _best(entries, phrase)
    found: list[_Row] = []
    start, window = 0, limit * VISIBILITY_WINDOW_FACTOR
    while start < len(ranked) and len(found) < limit:
        batch = ranked[start : start + window]
        readable = checker.readable(batch)
        found += [row for row in batch if (row[1], row[2]) in readable]
        start += len(batch)
        window = _next_window(limit - len(found), readable_share=len(found) / start)
    checked = [row[0] for row in ranked[:start]]
    if len(ranked) == MAX_CANDIDATES and len(found) < min(limit, len(ranked)):
        rest = entries.exclude(id__in=checked).filter(checker.condition())
        found += _best(rest, phrase, limit - len(found))
    return found[:limit], checked


def _next_window(missing: int, *, readable_share: float) -> int:
    """How many more ranked candidates to check for ``missing`` readable ones.

    Sized from the share of the candidates checked so far that the user could read, with a
    margin of VISIBILITY_WINDOW_FACTOR, so a user who sees a few of them needs one more
    window, not several growing ones; when they read none, every remaining candidate.
    """
    if readable_share == 0:
        return MAX_CANDIDATES
    return math.ceil(missing / readable_share * VISIBILITY_WINDOW_FACTOR)


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Sql(Expression):
    """Constant SQL with ``{0}``, ``{1}``... standing for the compiled ``sources``.

    Columns are given as ``F()`` so they take the table alias of whatever query (or subquery)
    uses the expression; every user-supplied value is a ``Value()``, i.e. a bound parameter.
    """

    def __init__(self, sql: str, *sources: Any, output_field: models.Field[Any, Any]) -> None:
        super().__init__(output_field=output_field)
        self.sql = sql
        self.sources = list(sources)

    def get_source_expressions(self) -> list[Any]:
        return self.sources

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.sources = list(exprs)

    def as_sql(
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        compiled = [compiler.compile(source) for source in self.sources]
        params: list[Any] = []

        def place(match: re.Match[str]) -> str:
            sql, source_params = compiled[int(match.group(1))]
            params.extend(source_params)
            return str(sql)

        return _PLACEHOLDER.sub(place, self.sql), params


def _condition(sql: str, *sources: Any) -> _Sql:
    return _Sql(sql, *sources, output_field=models.BooleanField())


def _title_prefix(phrase: str) -> _Sql:
    """Title starts with ``phrase``, through the case-insensitive title index (migration 0003)."""
    prefix = Value(_like_escape(phrase) + "%")
    if connection.vendor == "postgresql":
        return _condition("lower({0}) LIKE {1}", F("title"), prefix)
    return _condition("{0} LIKE {1} ESCAPE '\\'", F("title"), prefix)


def _matching(parsed: ParsedQuery) -> models.QuerySet[SearchEntry]:
    """Entries matching every term, each predicate served by an index."""
    entries = SearchEntry.objects.all()
    long_terms, short_terms = parsed.long_terms, parsed.short_terms
    if not long_terms:
        return entries.filter(_title_prefix(parsed.phrase))
    if connection.vendor == "postgresql":
        for term in long_terms:
            entries = entries.filter(
                _condition("{0} ILIKE {1}", F("text"), Value(f"%{_like_escape(term)}%"))
            )
        for term in short_terms:
            entries = entries.filter(_condition(
                "to_tsvector('simple', {0}) @@ to_tsquery('simple', quote_literal({1}) || ':*')",
                F("text"), Value(term),
            ))
        return entries
    match = " AND ".join('"' + term.replace('"', '""') + '"' for term in long_terms)
    entries = entries.filter(_condition(
        "{0} IN (SELECT rowid FROM core_searchentry_fts WHERE core_searchentry_fts MATCH {1})",
        F("id"), Value(match),
    ))
    for term in short_terms:
        entries = entries.filter(_condition(
            "' ' || {0} LIKE {1} ESCAPE '\\'", F("text"), Value(f"% {_like_escape(term)}%")
        ))
    return entries


def _rank(phrase: str) -> _Sql:
    """0 exact title, 1 title prefix, 2 word in title, 3 word in text, 4 anywhere else."""
    escaped = _like_escape(phrase)
    return _Sql(
        "CASE WHEN lower({0}) = {2} THEN 0"
        " WHEN lower({0}) LIKE {3} ESCAPE '\\' THEN 1"
        " WHEN ' ' || lower({0}) LIKE {4} ESCAPE '\\' THEN 2"
        " WHEN ' ' || lower({1}) LIKE {4} ESCAPE '\\' THEN 3"
        " ELSE 4 END",
        F("title"), F("text"), Value(phrase), Value(f"{escaped}%"), Value(f"% {escaped}%"),
        output_field=models.IntegerField(),
    )
