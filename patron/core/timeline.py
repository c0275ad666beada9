"""The 360° timeline: one list, newest first, of everything that happened to a record.

Apps contribute entries without anyone importing them: a *source*
(``register_timeline_source``) answers "the newest entries of these records before this
point" from its own indexed query, and a *scope* (``register_timeline_scope``) says which
records a record's timeline covers (an account: itself, its child accounts and their
contacts). A page asks every source for ``limit + 1`` entries, merges them by
(time desc, source key, id desc) and cuts, so a page costs the scope's queries plus one per
source, however many entries exist. The cursor is the last entry's (time, source, id),
signed so a tampered cursor is refused instead of paging from an arbitrary point.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from patron.core.choices import Action
from patron.core.exceptions import RecordNotFound, ValidationFailed
from patron.core.models import BusinessRecord, ChangeLogEntry
from patron.core.record_pages import record_detail_url
from patron.core.visibility import Principal

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
_CURSOR_SALT = "patron.timeline.cursor"

# The departments an entry can belong to; entries of no department (changes) show only
# when no department is chosen.
DEPARTMENTS: dict[str, str] = {"sales": "Sales", "marketing": "Marketing", "service": "Service"}


@dataclass(frozen=True)
class TimelineKind:
    """One kind of entry a source produces (``call``, ``order``...) and its department."""

    key: str
    label: str
    department: str = ""
    # A short mark shown before the entry (one or two characters, or an emoji).
    icon: str = ""


@dataclass(frozen=True)
class Target:
    """Records of one type a timeline covers: ids, or a ``values("pk")`` queryset that each
    source embeds as a subquery (so a scope costs no query per record)."""

    object_type: str
    ids: Collection[int] | QuerySet[Any]

    def model(self) -> type[BusinessRecord]:
        model: type[BusinessRecord] = apps.get_model(self.object_type)
        return model

    def content_type_id(self) -> int:
        # ContentType lookups are cached per process: no query after the first.
        content_type_id: int = ContentType.objects.get_for_model(self.model()).pk
        return content_type_id


@dataclass(frozen=True)
class Before:
    """Where a source's next entries start: strictly after the cursor in timeline order.

    ``ties`` says which entries at exactly ``at`` still come: ``all`` (the source sorts after
    the cursor's source), ``below`` (same source: ids below ``id``) or ``none``.
    """

    at: datetime.datetime
    id: int
    ties: str

    def q(self, at_field: str = "at", id_field: str = "id") -> Q:
        """The keyset predicate for a query whose rows have ``at_field`` and ``id_field``."""
        if self.ties == "all":
            return Q(**{f"{at_field}__lte": self.at})
        earlier = Q(**{f"{at_field}__lt": self.at})
        if self.ties == "none":
            return earlier
        return earlier | Q(**{at_field: self.at, f"{id_field}__lt": self.id})


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    kind: str
    department: str
    title: str
    summary: str
    url: str | None
    actor: str
    source: str
    id: int
    icon: str = ""
    badge: str = ""

    @property
    def department_label(self) -> str:
        return DEPARTMENTS.get(self.department, "")


# fetch(user, targets, before, limit, kinds): at most ``limit`` entries of ``kinds`` about
# ``targets`` that ``user`` may see, newest first (ties: highest id first), all before ``before``.
TimelineFetch = Callable[
    [Principal, list[Target], Before | None, int, frozenset[str]], list[TimelineEntry]
]
ScopeExpander = Callable[[Principal, BusinessRecord], list[Target]]


@dataclass(frozen=True)
class TimelineSource:
    """One app's entries: ``key`` orders it among equal times and names it in cursors.

    Filters reach ``fetch`` as the kinds to return: a department filter keeps the kinds of
    that department, so a source never needs to know about departments.
    """

    key: str
    kinds: tuple[TimelineKind, ...]
    fetch: TimelineFetch


_sources: dict[str, TimelineSource] = {}
_scopes: dict[str, ScopeExpander] = {}


def register_timeline_source(source: TimelineSource) -> None:
    """Add ``source``'s entries to every timeline (call from ``AppConfig.ready``)."""
    _sources[source.key] = source


def register_timeline_scope(object_type: str, expand: ScopeExpander) -> None:
    """Let ``object_type``'s timeline cover more records than itself (``AppConfig.ready``).

    ``expand`` must list only records the user may read: sources without visibility of
    their own (the change log) show whatever the targets hold.
    """
    _scopes[object_type] = expand


def timeline_kinds() -> dict[str, TimelineKind]:
    """Every registered kind by key, in source order (for filter controls)."""
    kinds: dict[str, TimelineKind] = {}
    for source in sorted(_sources.values(), key=lambda s: s.key):
        for kind in source.kinds:
            kinds.setdefault(kind.key, kind)
    return kinds


def timeline_scope(user: Principal, record: BusinessRecord) -> list[Target]:
    expand = _scopes.get(record.object_type())
    if expand is None:
        return [Target(record.object_type(), [record.pk])]
    return expand(user, record)


# ---------- filters and cursor ----------


@dataclass(frozen=True)
class TimelineFilters:
    kinds: frozenset[str] = frozenset()
    department: str = ""

    def kinds_of(self, source: TimelineSource) -> frozenset[str]:
        """The kinds to ask ``source`` for (empty: leave the source out)."""
        return frozenset(
            kind.key
            for kind in source.kinds
            if (not self.kinds or kind.key in self.kinds)
            and (not self.department or kind.department == self.department)
        )


def timeline_filters(*, kinds: Iterable[str] = (), department: str = "") -> TimelineFilters:
    """Validated filters; unknown kinds or departments are refused naming the choices."""
    known = timeline_kinds()
    chosen = frozenset(k for k in kinds if k)
    errors: dict[str, list[str]] = {}
    unknown = sorted(chosen - set(known))
    if unknown:
        errors["kind"] = [
            f"Unknown kind {', '.join(map(repr, unknown))}; choose from: {', '.join(known)}."
        ]
    if department and department not in DEPARTMENTS:
        errors["department"] = [f"Choose one of: {', '.join(DEPARTMENTS)}."]
    if errors:
        raise ValidationFailed("The timeline filters are not valid.", errors=errors)
    return TimelineFilters(kinds=chosen, department=department)


class InvalidTimelineCursor(ValidationFailed):
    status = 400
    title = "Invalid cursor"

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not valid. Load the timeline again without a cursor.",
            errors={"cursor": ["Use the next_cursor of a previous page, unchanged."]},
        )


@dataclass(frozen=True)
class Position:
    at: datetime.datetime
    source: str
    id: int


def encode_cursor(entry: TimelineEntry) -> str:
    return signing.dumps(
        [entry.at.isoformat(), entry.source, entry.id], salt=_CURSOR_SALT, compress=True
    )


def decode_cursor(token: str) -> Position:
    try:
        payload = signing.loads(token, salt=_CURSOR_SALT)
    except signing.BadSignature:
        raise InvalidTimelineCursor() from None
    if not isinstance(payload, list) or len(payload) != 3:
        raise InvalidTimelineCursor()
    at_text, source, entry_id = payload
    at = parse_datetime(at_text) if isinstance(at_text, str) else None
    if at is None or at.tzinfo is None or not isinstance(source, str):
        raise InvalidTimelineCursor()
    if not isinstance(entry_id, int) or isinstance(entry_id, bool):
        raise InvalidTimelineCursor()
    return Position(at=at, source=source, id=entry_id)


def _before(position: Position | None, source_key: str) -> Before | None:
    """Where ``source_key``'s entries continue after ``position`` (order: source key asc)."""
    if position is None:
        return None
    if source_key == position.source:
        return Before(position.at, position.id, "below")
    return Before(position.at, position.id, "all" if source_key > position.source else "none")


# ---------- the page ----------


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


def timeline_record(*, user: Principal, object_type: str, pk: Any) -> BusinessRecord:
    """The business record whose timeline ``user`` asks for; RecordNotFound when it does not
    exist, is not a business record, or the user may not read it (ids reveal nothing)."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        raise RecordNotFound(f"There is no kind of record called {object_type!r}.") from None
    if not issubclass(model, BusinessRecord):
        raise RecordNotFound(f"{object_type!r} records have no timeline.")
    try:
        record: BusinessRecord | None = (
            model.objects.visible_to(user, Action.READ).filter(pk=pk).first()
        )
    except (ValueError, TypeError):
        record = None
    if record is None:
        raise RecordNotFound(f"No {model._meta.verbose_name} with id {pk} that you can see.")
    return record


def timeline_page(
    *,
    user: Principal,
    record: BusinessRecord,
    filters: TimelineFilters | None = None,
    cursor: str = "",
    limit: int = DEFAULT_LIMIT,
) -> TimelinePage:
    """The newest ``limit`` entries of ``record``'s timeline after ``cursor``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            "The page size is not valid.", errors={"limit": [f"Use 1 to {MAX_LIMIT}."]}
        )
    filters = filters or TimelineFilters()
    position = decode_cursor(cursor) if cursor else None
    targets = timeline_scope(user, record)
    entries: list[TimelineEntry] = []
    for source in sorted(_sources.values(), key=lambda s: s.key):
        kinds = filters.kinds_of(source)
        if kinds and targets:
            before = _before(position, source.key)
            entries.extend(source.fetch(user, targets, before, limit + 1, kinds))
    # Two stable sorts give (at desc, source asc, id desc) without float timestamps.
    entries.sort(key=lambda e: (e.source, -e.id))
    entries.sort(key=lambda e: e.at, reverse=True)
    if len(entries) <= limit:
        return TimelinePage(entries=entries, next_cursor=None)
    shown = entries[:limit]
    return TimelinePage(entries=shown, next_cursor=encode_cursor(shown[-1]))


# ---------- the change log as a source ----------

CHANGE_KIND = TimelineKind("change", "Change", "", "✎")
_ACTION_WORDS = {
    "create": "created",
    "update": "changed",
    "delete": "moved to the recycle bin",
    "restore": "restored",
    "merge": "merged duplicates into",
    "merge_away": "merged away",
}
_SUMMARY_FIELDS = 5


def _targets_q(targets: list[Target], ct_field: str, id_field: str) -> Q:
    condition = Q(pk__in=[])
    for target in targets:
        condition |= Q(**{ct_field: target.content_type_id(), f"{id_field}__in": target.ids})
    return condition


def _field_label(model: type[BusinessRecord], name: str) -> str:
    if name.startswith("custom."):
        return name.removeprefix("custom.").replace("_", " ").capitalize()
    try:
        return str(getattr(model._meta.get_field(name), "verbose_name", name)).capitalize()
    except FieldDoesNotExist:
        return name


def _change_summary(entry: ChangeLogEntry, model: type[BusinessRecord]) -> str:
    """The fields an update changed, by label; never their values, so fields hidden from
    the user by field-level security reveal nothing here."""
    if entry.action != "update" or not isinstance(entry.changes, dict):
        return ""
    names = list(entry.changes)
    labels = [_field_label(model, name) for name in names[:_SUMMARY_FIELDS]]
    more = len(names) - _SUMMARY_FIELDS
    return "Changed " + ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def _record_names(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Names of the records behind change entries: one query per type of record."""
    names: dict[tuple[int, int], str] = {}
    by_type: dict[int, set[int]] = {}
    for content_type_id, object_id in pairs:
        by_type.setdefault(content_type_id, set()).add(object_id)
    for content_type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None or not issubclass(model, BusinessRecord):
            continue
        for row in model.all_objects.filter(pk__in=ids):
            names[(content_type_id, row.pk)] = str(row)
    return names


def change_log_fetch(
    user: Principal,
    targets: list[Target],
    before: Before | None,
    limit: int,
    kinds: frozenset[str],
) -> list[TimelineEntry]:
    """Changes to the targets: who created, changed, deleted or restored what.

    Change rows have no visibility of their own: scopes list only records the user can
    see, so the changes shown are those of records the user can open.
    """
    candidates = ChangeLogEntry.objects.filter(_targets_q(targets, "content_type_id", "object_id"))
    if before is not None:
        candidates = candidates.filter(before.q("at", "id"))
    # Sort only (at, id), then load the page's rows: the change JSON of thousands of
    # entries never goes through the sort.
    page_ids = candidates.order_by("-at", "-id").values("pk")[:limit]
    rows = ChangeLogEntry.objects.filter(pk__in=page_ids).select_related("actor")
    page = list(rows.order_by("-at", "-id"))
    names = _record_names({(row.content_type_id, row.object_id) for row in page})
    entries = []
    for row in page:
        model = ContentType.objects.get_for_id(row.content_type_id).model_class()
        if model is None or not issubclass(model, BusinessRecord):
            continue
        label = str(model._meta.verbose_name)
        name = names.get((row.content_type_id, row.object_id), f"#{row.object_id}")
        actor = str(row.actor) if row.actor is not None else "System"
        entries.append(
            TimelineEntry(
                at=row.at,
                kind=CHANGE_KIND.key,
                department=CHANGE_KIND.department,
                title=f"{actor} {_ACTION_WORDS.get(row.action, row.action)} the {label} {name}",
                summary=_change_summary(row, model),
                url=record_detail_url(model.object_type(), row.object_id),
                actor=actor,
                source="changes",
                id=row.pk,
                icon=CHANGE_KIND.icon,
                badge=CHANGE_KIND.label,
            )
        )
    return entries


def register_change_log_source() -> None:
    register_timeline_source(TimelineSource("changes", (CHANGE_KIND,), change_log_fetch))
