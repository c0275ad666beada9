"""The import registry: which object types can be imported, their fields, match keys,
related-record resolvers and how a batch of rows is written.

Apps register an ``ImportSpec`` from their own ``imports.py`` (called in ``AppConfig.ready``),
so data_exchange never imports them and later apps join without changes there.

Two write paths:

- the batch path (``BatchWriter``, the default for business records whose save has no side
  effects beyond the change log, search and events): one ``bulk_create`` / ``bulk_update`` per
  batch, the change log written with one ``bulk_create``, search entries indexed in bulk,
  events emitted per record after commit (``via=import``);
- the service path (``ImportSpec.create_one`` / ``update_one``): the app's own services row by
  row, for objects whose save derives values (opportunity stages, users, price book entries).
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from patron.core import events, search
from patron.core.choices import Action, Via
from patron.core.models import BusinessRecord, ChangeLogEntry
from patron.core.records import check_write_guards, diff, event_name, snapshot
from patron.core.values import normalize_domain, normalize_email, normalize_phone

# Field types the converters understand.
TEXT = "text"
EMAIL = "email"
PHONE = "phone"
URL = "url"
DOMAIN = "domain"
INTEGER = "integer"
DECIMAL = "decimal"
DATE = "date"
DATETIME = "datetime"
BOOLEAN = "boolean"
CHOICE = "choice"
RELATED = "related"
COUNTRY = "country"

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x", "on", "ja", "oui", "t", "checked"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "nein", "non", "f", "", "unchecked"})
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$")
_NUMBER_JUNK = re.compile(r"[\s$€£¥%']")
# Columns of a change log row written by ``insert_rows``.
CHANGE_LOG_FIELDS = ("content_type_id", "object_id", "actor_id", "via", "action", "changes", "at")


class Unmatched(str):
    """``resolve_related``'s message for a text that no record matches (several matching
    records get a plain string): the record may still come, e.g. further down the file."""


class RowError(ValueError):
    """A value of one row that cannot be imported; ``field`` names the target field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ImportField:
    """One importable field: the model field name (or ``custom.<key>``), how to read it."""

    name: str
    label: str
    type: str = TEXT
    required: bool = False
    # Header names that map to this field automatically (case and punctuation ignored),
    # including Salesforce and HubSpot export headers.
    aliases: tuple[str, ...] = ()
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    # For RELATED fields: the registered resolver's name.
    resolver: str = ""
    help: str = ""


@dataclass(frozen=True)
class MatchKey:
    """A way to find the existing record a row updates (email, domain, external id...)."""

    name: str
    label: str
    # Model field compared; values are normalised with ``type`` first.
    lookup: str
    type: str = TEXT
    case_insensitive: bool = False


@dataclass(frozen=True)
class Resolver:
    """Finds related records by what a file says about them (a name, an email, a code).

    ``lookups`` are tried in order, each ``(model field, how the value is normalised)``;
    ``case_insensitive`` lookups compare lower-cased. Business-record targets are limited to
    the records the importing user may read.
    """

    name: str
    label: str
    model: type[models.Model]
    lookups: tuple[tuple[str, str], ...]
    case_insensitive: frozenset[str] = frozenset()
    # Extra filter for candidates (e.g. active stages of the default pipeline).
    queryset: Callable[[Any], models.QuerySet[Any]] | None = None
    # Value written when resolved: the instance (default) or its pk.
    label_field: str = "name"


@dataclass
class WriteResult:
    """What writing one batch did; ``previous`` is keyed by the row's index in the batch."""

    created: dict[int, models.Model] = field(default_factory=dict)
    updated: dict[int, models.Model] = field(default_factory=dict)
    previous: dict[int, dict[str, Any]] = field(default_factory=dict)
    unchanged: dict[int, models.Model] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


CreateOne = Callable[[Any, dict[str, Any]], models.Model]
UpdateOne = Callable[[Any, models.Model, dict[str, Any]], models.Model]
AfterWrite = Callable[[Any, list[models.Model], list[models.Model]], None]
RemoveMany = Callable[[Any, list[int]], None]
Prepare = Callable[[Any, dict[str, Any], models.Model | None], dict[str, Any]]


@dataclass
class ImportSpec:
    object_type: str
    label: str
    label_plural: str
    model: type[models.Model]
    fields: tuple[ImportField, ...]
    match_keys: tuple[MatchKey, ...] = ()
    # Presets: {"salesforce": {"Header": "field"}, "hubspot": {...}}.
    presets: dict[str, dict[str, str]] = field(default_factory=dict)
    # Row-level derivations/validations after conversion (raise RowError); gets the user,
    # the converted values and the existing record on update.
    prepare: Prepare | None = None
    # The service path: when set, rows are written one by one through the app's services.
    create_one: CreateOne | None = None
    update_one: UpdateOne | None = None
    # Batch path hook: keep denormalised rows in step (e.g. a contact's primary email row).
    after_write: AfterWrite | None = None
    # How a revert removes records an import created (default: soft delete, or delete).
    remove: RemoveMany | None = None
    # Permission check when the model is not a business record (admin-only objects).
    admin_only: bool = False
    # Relations the search describer reads, prefetched before indexing a batch.
    search_prefetch: tuple[str, ...] = ()
    # Keys the duplicate rules read, from the converted values (field -> contract key).
    duplicate_keys: dict[str, str] = field(default_factory=dict)

    def field_map(self) -> dict[str, ImportField]:
        return {f.name: f for f in self.fields}

    def match_key_map(self) -> dict[str, MatchKey]:
        return {k.name: k for k in self.match_keys}

    @property
    def is_business_record(self) -> bool:
        return issubclass(self.model, BusinessRecord)

    def may_import(self, user: Any) -> bool:
        if self.admin_only or not self.is_business_record:
            return bool(getattr(user, "is_superuser", False) or getattr(user, "is_admin", False))
        return bool(user.access_profile().may(self.object_type, Action.IMPORT))

    def queryset(self, user: Any, action: str) -> models.QuerySet[Any]:
        if self.is_business_record:
            model: Any = self.model
            return model.objects.visible_to(user, action)  # type: ignore[no-any-return]
        return self.model._default_manager.all()


_specs: dict[str, ImportSpec] = {}
_resolvers: dict[str, Resolver] = {}


def register_import(spec: ImportSpec) -> None:
    """Add (or replace) an importable object type; apps call this from ``ready()``."""
    _specs[spec.object_type] = spec


def register_resolver(resolver: Resolver) -> None:
    _resolvers[resolver.name] = resolver


def import_spec(object_type: str) -> ImportSpec | None:
    return _specs.get(object_type)


def import_specs() -> list[ImportSpec]:
    return sorted(_specs.values(), key=lambda s: str(s.label_plural))


def resolver(name: str) -> Resolver:
    return _resolvers[name]


# ---------- header matching ----------


def header_key(text: str) -> str:
    """``"E-mail Address"`` -> ``"emailaddress"``: case, accents, spaces, punctuation ignored."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def suggest_mapping(spec: ImportSpec, headers: Sequence[str]) -> dict[str, str]:
    """{header: field} for headers that match a field's name, label or alias; each field once."""
    index: dict[str, str] = {}
    for f in spec.fields:
        for text in (f.name, str(f.label), *f.aliases):
            index.setdefault(header_key(text), f.name)
    taken: set[str] = set()
    suggested: dict[str, str] = {}
    for header in headers:
        name = index.get(header_key(header))
        if name and name not in taken:
            suggested[header] = name
            taken.add(name)
    return suggested


# ---------- converters ----------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value).strip()


_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m/%d/%y")
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M",
)


def parse_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"“{text}” is not a date; write it as YYYY-MM-DD, e.g. 2027-03-31.")


def parse_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        result = value
    elif isinstance(value, datetime.date):
        result = datetime.datetime.combine(value, datetime.time())
    else:
        text = _text(value)
        try:
            result = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _DATETIME_FORMATS:
                try:
                    result = datetime.datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
            else:
                try:
                    result = datetime.datetime.combine(parse_date(text), datetime.time())
                except ValueError:
                    raise ValueError(
                        f"“{text}” is not a date and time; write it as YYYY-MM-DD HH:MM."
                    ) from None
    if timezone.is_naive(result):
        result = timezone.make_aware(result)
    return result


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    text = _NUMBER_JUNK.sub("", _text(value))
    if text.count(",") and text.count("."):
        text = (
            text.replace(",", "")
            if text.rfind(".") > text.rfind(",")
            else text.replace(".", "").replace(",", ".")
        )
    elif text.count(",") == 1 and len(text.split(",")[1]) != 3:
        text = text.replace(",", ".")
    else:
        text = text.replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"“{_text(value)}” is not a number.") from None
    if not number.is_finite():
        raise ValueError(f"“{_text(value)}” is not a number.")
    return number


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"“{_text(value)}” is not yes or no; write yes, no, true, false, 1 or 0.")


def fast_email(value: Any) -> str:
    text = _text(value)
    if _EMAIL_RE.match(text):
        return text.lower()
    return normalize_email(text)


def convert(f: ImportField, value: Any) -> Any:
    """The Python value ``value`` from a file becomes for field ``f``; ValueError if it can't.

    Empty cells become the field's empty value ("" or None); RELATED fields are returned as
    text and resolved per batch (see ``resolve_related``).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if f.required:
            raise ValueError(f"{f.label} is required.")
        return (
            None
            if f.type in (INTEGER, DECIMAL, DATE, DATETIME, RELATED)
            else (False if f.type == BOOLEAN else "")
        )
    kind = f.type
    if kind == TEXT:
        result: Any = _text(value)
    elif kind == EMAIL:
        result = fast_email(value)
    elif kind == PHONE:
        result = normalize_phone(_text(value))
    elif kind == URL:
        result = _text(value)
        if "://" not in result:
            result = f"https://{result}"
    elif kind == DOMAIN:
        result = normalize_domain(_text(value))
    elif kind == INTEGER:
        number = parse_decimal(value)
        if number != number.to_integral_value():
            raise ValueError(f"“{_text(value)}” is not a whole number.")
        result = int(number)
        if result < 0:
            raise ValueError(f"“{_text(value)}” must be zero or more.")
    elif kind == DECIMAL:
        result = parse_decimal(value).quantize(Decimal("0.01"))
        if abs(result) >= Decimal("1e16"):
            raise ValueError(f"“{_text(value)}” is too large.")
    elif kind == DATE:
        result = parse_date(value)
    elif kind == DATETIME:
        result = parse_datetime(value)
    elif kind == BOOLEAN:
        result = parse_bool(value)
    elif kind == CHOICE:
        text = _text(value)
        wanted = header_key(text)
        for key, label in f.choices:
            if wanted in (header_key(key), header_key(str(label))):
                result = key
                break
        else:
            allowed = ", ".join(str(label) for _key, label in f.choices)
            raise ValueError(f"“{text}” is not one of: {allowed}.")
    elif kind == COUNTRY:
        result = country_code(_text(value))
    else:  # RELATED
        result = _text(value)
    if f.max_length and isinstance(result, str) and len(result) > f.max_length:
        raise ValueError(f"{f.label} is {len(result)} characters long; at most {f.max_length}.")
    return result


_COUNTRIES: dict[str, str] | None = None


def country_code(text: str) -> str:
    """ISO 3166 alpha-2 code for a code or an English country name."""
    global _COUNTRIES
    if len(text) == 2 and text.isalpha():
        return text.upper()
    if _COUNTRIES is None:
        import phonenumbers
        from phonenumbers.geocoder import _region_display_name

        table: dict[str, str] = {}
        for region in phonenumbers.SUPPORTED_REGIONS:
            name = _region_display_name(region, "en")
            if name:
                table[header_key(name)] = region
        table.update({"usa": "US", "us": "US", "unitedstatesofamerica": "US", "uk": "GB"})
        _COUNTRIES = table
    code = _COUNTRIES.get(header_key(text))
    if code is None:
        raise ValueError(f"“{text}” is not a country; use a two-letter code such as DE or US.")
    return code


def normalise_key(key: MatchKey, value: Any) -> Any:
    """The match key's value in the form stored (lower-cased email, bare domain...)."""
    text = _text(value)
    if not text:
        return ""
    if key.type == EMAIL:
        return fast_email(text)
    if key.type == DOMAIN:
        return normalize_domain(text)
    if key.type == PHONE:
        return normalize_phone(text)
    if key.type == INTEGER:
        return int(parse_decimal(text))
    return text.lower() if key.case_insensitive else text


def find_existing(
    spec: ImportSpec, key: MatchKey, values: Iterable[Any], *, user: Any, action: str
) -> dict[Any, list[models.Model]]:
    """Existing records by key value, one query per batch; only those ``user`` may ``action``."""
    wanted = {v for v in values if v not in ("", None)}
    if not wanted:
        return {}
    queryset = spec.queryset(user, action)
    if spec.is_business_record is False:
        pass
    if key.case_insensitive:
        queryset = queryset.annotate(_import_key=Lower(key.lookup)).filter(
            _import_key__in=[str(v).lower() for v in wanted]
        )
    else:
        queryset = queryset.filter(**{f"{key.lookup}__in": list(wanted)})
    if spec.is_business_record and action != Action.READ:
        queryset = queryset.select_for_update(of=("self",)) if _locks() else queryset
    found: dict[Any, list[models.Model]] = {}
    for record in queryset.order_by("pk"):
        raw = getattr(record, key.lookup)
        found.setdefault(str(raw).lower() if key.case_insensitive else raw, []).append(record)
    return found


def _locks() -> bool:
    from django.db import connection

    return (
        bool(connection.features.has_select_for_update_of)
        and transaction.get_connection().in_atomic_block
    )


def resolve_related(name: str, texts: Iterable[str], *, user: Any) -> dict[str, models.Model | str]:
    """For each distinct text, the related record it names or an error message (a string,
    ``Unmatched`` when no record matches).

    One query per lookup per batch, never one per row.
    """
    res = _resolvers[name]
    pending = {t for t in texts if t}
    answers: dict[str, models.Model | str] = {}
    model: Any = res.model
    base = (
        res.queryset(user)
        if res.queryset is not None
        else (
            model.objects.visible_to(user, Action.READ)
            if issubclass(model, BusinessRecord)
            else model._default_manager.all()
        )
    )
    for lookup, kind in res.lookups:
        if not pending:
            break
        normalised: dict[Any, list[str]] = {}
        for text in pending:
            try:
                value: Any = text
                if kind == EMAIL:
                    value = fast_email(text)
                elif kind == DOMAIN:
                    if "." not in text or " " in text.strip():
                        continue
                    value = normalize_domain(text)
                elif kind == INTEGER:
                    if not text.strip().isdigit():
                        continue
                    value = int(text)
                if lookup in res.case_insensitive:
                    value = str(value).lower()
            except ValueError:
                continue
            normalised.setdefault(value, []).append(text)
        if not normalised:
            continue
        if lookup in res.case_insensitive:
            queryset = base.annotate(_resolve_key=Lower(lookup)).filter(
                _resolve_key__in=list(normalised)
            )
            key_of: Callable[[Any], Any] = _lower_getter(lookup)
        else:
            queryset = base.filter(**{f"{lookup}__in": list(normalised)})
            key_of = _getter(lookup)
        hits: dict[Any, list[models.Model]] = {}
        for record in queryset.order_by("pk"):
            hits.setdefault(key_of(record), []).append(record)
        for value, originals in normalised.items():
            found = hits.get(value, [])
            for text in originals:
                if text not in pending:
                    continue
                if len(found) == 1:
                    answers[text] = found[0]
                    pending.discard(text)
                elif len(found) > 1:
                    answers[text] = (
                        f"{len(found)} {res.label} records match “{text}”; use a more specific "
                        f"value (e.g. the email or id)."
                    )
                    pending.discard(text)
    for text in pending:
        answers[text] = Unmatched(f"No {res.label} matches “{text}” (or you may not see it).")
    return answers


def _lower_getter(name: str) -> Callable[[Any], Any]:
    return lambda record: str(getattr(record, name)).lower()


def _getter(name: str) -> Callable[[Any], Any]:
    return lambda record: getattr(record, name)


# ---------- writing ----------


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert plain rows (values in the order of ``fields``, attnames such as
    ``content_type_id``) without building model instances: PostgreSQL ``COPY`` (no SQL to
    compile, no parameters to quote), elsewhere one ``bulk_create``. For rows whose ids the
    caller does not need back (change log, import rows, child rows). Returns how many.
    """
    from django.db import connection

    batch = rows if isinstance(rows, list) else list(rows)
    if not batch:
        return 0
    opts = model._meta
    columns = [opts.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in batch], batch_size=1000
        )
        return len(batch)
    from psycopg.types.json import Jsonb

    json_at = [i for i, f in enumerate(columns) if isinstance(f, models.JSONField)]
    if json_at:
        batch = [list(row) for row in batch]
        for row in batch:
            for i in json_at:
                if row[i] is not None:
                    row[i] = Jsonb(row[i])
    _copy(model, [str(f.column) for f in columns], batch)  # type: ignore[union-attr]
    return len(batch)


def _copy(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL ``COPY`` of rows already in database form into ``model``'s table."""
    from django.db import connection

    quote = connection.ops.quote_name
    sql = (
        f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    )
    with connection.cursor() as wrapper:
        cursor: Any = wrapper.cursor
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


def create_instances(model: type[models.Model], instances: list[models.Model]) -> None:
    """``bulk_create`` of new records (ids set on them). On PostgreSQL the ids are drawn from
    the table's sequence first and the rows sent by ``COPY``: no INSERT to compile and no
    arrays quoted client-side per value, most of a batch's Python time in ``bulk_create``.
    Values go through the fields' ``pre_save`` and ``get_db_prep_save`` as in
    ``bulk_create``; a value that is an SQL expression falls back to ``bulk_create``."""
    from django.db import DEFAULT_DB_ALIAS, connections

    # The wrapper itself, not the ``connection`` proxy: fields read ``connection.ops`` per
    # value, and the proxy's lookup was a quarter of this function's time.
    connection = connections[DEFAULT_DB_ALIAS]
    opts = model._meta
    pk = opts.pk
    if (
        connection.vendor != "postgresql"
        or not isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField)
        or any(instance.pk is not None for instance in instances)
    ):
        model._default_manager.bulk_create(instances)
        return
    fields = [f for f in opts.concrete_fields if f is not pk and not f.generated]
    rows: list[list[Any]] = []
    for instance in instances:
        row: list[Any] = [None]
        for f in fields:
            value = f.pre_save(instance, True)
            if hasattr(value, "resolve_expression"):
                model._default_manager.bulk_create(instances)
                return
            row.append(f.get_db_prep_save(value, connection))
        rows.append(row)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [opts.db_table, pk.column, len(instances)],
        )
        ids = [pk_value for (pk_value,) in cursor.fetchall()]
    for instance, row, pk_value in zip(instances, rows, ids, strict=True):
        row[0] = pk_value
        setattr(instance, pk.attname, pk_value)
    _copy(model, [str(pk.column), *(str(f.column) for f in fields)], rows)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias


def _json(value: Any) -> Any:
    from patron.core.records import _json_value

    return _json_value(value)


class BatchWriter:
    """Writes a batch with bulk statements; the caller holds the transaction."""

    def __init__(self, spec: ImportSpec, *, user: Any, via: str = Via.IMPORT) -> None:
        self.spec = spec
        self.user = user
        self.via = via
        self.actor_id = getattr(user, "pk", None)

    def write(
        self,
        creates: Mapping[int, dict[str, Any]],
        updates: Mapping[int, tuple[models.Model, dict[str, Any]]],
    ) -> WriteResult:
        if self.spec.create_one is not None or self.spec.update_one is not None:
            return self._one_by_one(creates, updates)
        result = WriteResult()
        self._bulk_create(creates, result)
        self._bulk_update(updates, result)
        self._after(list(result.created.values()), list(result.updated.values()))
        return result

    def _after(self, created: list[models.Model], updated: list[models.Model]) -> None:
        """Denormalised rows (the spec's hook), then search entries, in bulk."""
        if self.spec.after_write is not None:
            self.spec.after_write(self.user, created, updated)
        written = [*created, *updated]
        if written and self.spec.is_business_record:
            if self.spec.search_prefetch:
                # Updated records may hold stale relations; new ones keep what the hook
                # cached (their child rows were just written), so only the rest is read.
                for record in updated:
                    getattr(record, "_prefetched_objects_cache", {}).clear()
                models.prefetch_related_objects(written, *self.spec.search_prefetch)
            _index_new(created)
            search.index_records(updated)

    def write_rows_one_by_one(
        self,
        creates: Mapping[int, dict[str, Any]],
        updates: Mapping[int, tuple[models.Model, dict[str, Any]]],
    ) -> WriteResult:
        """The fallback when a bulk statement failed: each row in its own savepoint."""
        result = WriteResult()
        for index, values in creates.items():
            try:
                with transaction.atomic():
                    one = WriteResult()
                    if self.spec.create_one is not None:
                        one.created[index] = self.spec.create_one(self.user, dict(values))
                    else:
                        self._bulk_create({index: values}, one)
                        self._after(list(one.created.values()), [])
                result.created.update(one.created)
            except Exception as exc:
                result.failed[index] = describe_error(exc)
        for index, (record, changes) in updates.items():
            try:
                with transaction.atomic():
                    one = WriteResult()
                    if self.spec.update_one is not None:
                        before = {n: _json(getattr(record, _attname(record, n))) for n in changes}
                        updated = self.spec.update_one(self.user, record, dict(changes))
                        after = {n: _json(getattr(updated, _attname(updated, n))) for n in changes}
                        changed = {n: before[n] for n in changes if before[n] != after[n]}
                        if changed:
                            one.updated[index] = updated
                            one.previous[index] = changed
                        else:
                            one.unchanged[index] = updated
                    else:
                        self._bulk_update({index: (record, changes)}, one)
                        if one.updated:
                            self._after([], list(one.updated.values()))
                result.created.update(one.created)
                result.updated.update(one.updated)
                result.previous.update(one.previous)
                result.unchanged.update(one.unchanged)
            except Exception as exc:
                result.failed[index] = describe_error(exc)
        return result

    def _one_by_one(
        self,
        creates: Mapping[int, dict[str, Any]],
        updates: Mapping[int, tuple[models.Model, dict[str, Any]]],
    ) -> WriteResult:
        return self.write_rows_one_by_one(creates, updates)

    def _bulk_create(self, creates: Mapping[int, dict[str, Any]], result: WriteResult) -> None:
        if not creates:
            return
        model = self.spec.model
        now = timezone.now()
        business = self.spec.is_business_record
        instances: list[models.Model] = []
        for values in creates.values():
            extra: dict[str, Any] = {}
            if business:
                extra = {"created_at": now, "updated_at": now}
                if "owner" not in values or values["owner"] is None:
                    extra["owner_id"] = self.actor_id
                if self.actor_id:
                    extra["created_by_id"] = self.actor_id
            clean = {k: v for k, v in values.items() if v is not None or k != "owner"}
            instances.append(model(**clean, **extra))
        if business:
            for instance in instances:
                check_write_guards(instance)  # type: ignore[arg-type]
        create_instances(model, instances)
        for index, instance in zip(creates, instances, strict=True):
            result.created[index] = instance
        if business:
            content_type_id = ContentType.objects.get_for_model(model).pk
            entries = []
            for instance in instances:
                after = snapshot(instance)  # type: ignore[arg-type]
                # Empty values ("", {}, [], None) are left out; False and 0 are kept. Tested
                # by truth first: ``in`` compares every value with each of four types.
                changes = {
                    k: [None, v]
                    for k, v in after.items()
                    if v or (v is not None and not isinstance(v, str | dict | list))
                }
                entries.append(
                    (content_type_id, instance.pk, self.actor_id, self.via, "create", changes, now)
                )
            insert_rows(ChangeLogEntry, CHANGE_LOG_FIELDS, entries)
            for instance in instances:
                events.emit(
                    event_name(instance, "created"),  # type: ignore[arg-type]
                    pk=instance.pk,
                    actor_id=self.actor_id,
                    via=self.via,
                )

    def _bulk_update(
        self, updates: Mapping[int, tuple[models.Model, dict[str, Any]]], result: WriteResult
    ) -> None:
        if not updates:
            return
        model = self.spec.model
        business = self.spec.is_business_record
        now = timezone.now()
        fields: set[str] = set()
        changed_records: list[models.Model] = []
        entries: list[tuple[Any, ...]] = []
        content_type = ContentType.objects.get_for_model(model)
        emitted: list[tuple[models.Model, dict[str, list[Any]]]] = []
        for index, (record, changes) in updates.items():
            if business:
                check_write_guards(record)  # type: ignore[arg-type]
                before = snapshot(record)  # type: ignore[arg-type]
            else:
                before = {n: _json(getattr(record, _attname(record, n))) for n in changes}
            for name, value in changes.items():
                setattr(record, name, value)
            if business:
                after = snapshot(record)  # type: ignore[arg-type]
                changed = diff(before, after)
            else:
                after = {n: _json(getattr(record, _attname(record, n))) for n in changes}
                changed = {n: [before[n], after[n]] for n in changes if before[n] != after[n]}
            if not changed:
                result.unchanged[index] = record
                continue
            previous: dict[str, Any] = {}
            for key in changed:
                top = key.split(".", 1)[0]
                previous[top] = before.get(top)
                fields.add(_attname(record, top))
            result.previous[index] = previous
            result.updated[index] = record
            changed_records.append(record)
            if business:
                record.version += 1  # type: ignore[attr-defined]
                record.updated_at = now  # type: ignore[attr-defined]
                entries.append(
                    (content_type.pk, record.pk, self.actor_id, self.via, "update", changed, now)
                )
                emitted.append((record, changed))
        if not changed_records:
            return
        if business:
            fields |= {"version", "updated_at"}
        model._base_manager.bulk_update(changed_records, sorted(fields), batch_size=500)
        if business:
            insert_rows(ChangeLogEntry, CHANGE_LOG_FIELDS, entries)
            for record, changed in emitted:
                events.emit(
                    event_name(record, "updated"),  # type: ignore[arg-type]
                    pk=record.pk,
                    actor_id=self.actor_id,
                    changes=changed,
                    via=self.via,
                )


def _index_new(records: list[models.Model]) -> None:
    """Search entries of records just created. On PostgreSQL a plain COPY: an identity id is
    never reused, so there is no entry to update. Elsewhere (SQLite may reuse the id of a
    deleted row) the usual upsert."""
    from django.db import connection

    from patron.core.models import SearchEntry

    if not records:
        return
    search_type = search._registry.get(records[0]._meta.label_lower)
    if search_type is None:
        return
    if connection.vendor != "postgresql":
        search.index_records(records)
        return
    content_type_id = ContentType.objects.get_for_model(type(records[0])).pk
    rows = []
    for record in records:
        values = search._entry_values(search_type, record)
        rows.append(
            (content_type_id, record.pk, values["title"], values["subtitle"], values["text"])
        )
    insert_rows(SearchEntry, ("content_type_id", "object_id", "title", "subtitle", "text"), rows)


def _attname(record: models.Model, name: str) -> str:
    try:
        return str(record._meta.get_field(name).attname)  # type: ignore[union-attr]
    except Exception:
        return name


def describe_error(exc: BaseException) -> str:
    """One line for a failed row: the field errors of a domain error, or the message."""
    errors = getattr(exc, "errors", None)
    detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
    if isinstance(exc, RowError):
        return exc.message
    if errors:
        parts = [
            f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in errors.items()
        ]
        return "; ".join(parts)
    return str(detail)


def soft_delete_many(user: Any, model: type[models.Model], pks: list[int], *, via: str) -> int:
    """Move records to the recycle bin in one statement, with change log and events."""
    if not pks:
        return 0
    from django.db.models import F

    now = timezone.now()
    manager: Any = model._base_manager
    live = list(manager.filter(pk__in=pks, deleted_at__isnull=True).values_list("pk", flat=True))
    manager.filter(pk__in=live).update(
        deleted_at=now, deleted_by=user, version=F("version") + 1, updated_at=now
    )
    content_type = ContentType.objects.get_for_model(model)
    ChangeLogEntry.objects.bulk_create(
        [
            ChangeLogEntry(
                content_type=content_type,
                object_id=pk,
                actor_id=getattr(user, "pk", None),
                via=via,
                action="delete",
                changes={},
            )
            for pk in live
        ]
    )
    label = model._meta.model_name
    for pk in live:
        events.emit(f"{label}.deleted", pk=pk, actor_id=getattr(user, "pk", None), via=via)
    return len(live)
