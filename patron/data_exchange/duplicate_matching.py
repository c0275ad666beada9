"""Duplicate matching: which existing records (or other rows of a batch) a set of values is
probably the same as, according to the object's active DuplicateRules.

A rule has exact keys and/or fuzzy fields:

* exact keys only (``["email"]``): every key must be equal after normalising (email
  lower-cased and trimmed, phone in E.164 read in the record's or the organisation's region,
  domain from the website or a company email address without scheme and ``www.``, any other
  field trimmed). Looked up with ``field IN (...)`` on indexed columns, one query per rule
  and batch.
* fuzzy fields only (``["name"]``): the text of the fields is compared with rapidfuzz and the
  rule matches at ``threshold`` (0-100) or above. Candidates are *blocked*: only records whose
  blocking field starts with the same three characters are read (an index range scan,
  at most ``FUZZY_CANDIDATE_LIMIT`` rows per block), never the whole table.
* both (``exact_keys=["account"], fuzzy_fields=["first_name", "last_name"]``): the exact keys
  are the block (e.g. contacts of the same account) and the names must match fuzzily.

Callers decide what a hit means (see ``action``): the create check in duplicate_setup, the
import, and the scan job. Visibility is not applied here: hits are ids, and callers show only
the records the user may see.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy
from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q
from rapidfuzz import fuzz, process

from patron.core.values import email_domain, normalize_domain, normalize_phone
from patron.data_exchange.choices import DuplicateAction
from patron.data_exchange.models import DuplicateRule

# Rows read per fuzzy block; a block larger than this is compared on its first rows only.
FUZZY_CANDIDATE_LIMIT = 500
# Parameters per IN (...) list, below SQLite's and PostgreSQL's limits.
IN_CHUNK = 500
# Distinct blocking prefixes per fuzzy query (each is up to three index ranges).
PREFIX_CHUNK = 40
# Hits per rule and row (the best ones).
MAX_HITS_PER_RULE = 10

# Free mail providers: an address there says nothing about the company.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.ru",
    }
)
_LEGAL_SUFFIXES = frozenset(
    {"inc", "ltd", "llc", "gmbh", "corp", "corporation", "plc", "ag", "bv", "sa", "sarl", "co"}
)
_ACTION_ORDER: dict[str, int] = {
    DuplicateAction.BLOCK: 0,
    DuplicateAction.WARN: 1,
    DuplicateAction.REPORT: 2,
}


@dataclass(frozen=True)
class DuplicateHit:
    rule_id: int
    rule_name: str
    action: str  # DuplicateAction value: "block" | "warn" | "report"
    object_id: int | None  # None when the match is another row of the same batch
    similarity: int  # 0-100
    match_key: str  # what matched, e.g. "email ann@example.com"


@dataclass(frozen=True)
class DuplicateObject:
    """An object type duplicate rules can be written for."""

    object_type: str  # model label, e.g. "contacts.contact"
    label: str
    # The indexed text field fuzzy candidates are blocked on (its first characters).
    block_field: str
    # Fields shown side by side on the merge page and offered to rules.
    display_fields: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.object_type)


_objects: dict[str, DuplicateObject] = {}
_aliases: dict[str, str] = {}


def register_duplicate_object(spec: DuplicateObject) -> None:
    _objects[spec.object_type] = spec
    for alias in (*spec.aliases, spec.object_type.split(".", 1)[-1]):
        _aliases[alias] = spec.object_type


def duplicate_objects() -> list[DuplicateObject]:
    return sorted(_objects.values(), key=lambda spec: spec.label)


def duplicate_object(object_type: str) -> DuplicateObject | None:
    """The spec for ``object_type`` ("contacts.contact", "contact" or "contacts")."""
    key = (object_type or "").strip().lower()
    return _objects.get(key) or _objects.get(_aliases.get(key, ""))


# ----- normalising -----


def normalize_email_key(value: Any) -> str:
    text = str(value or "").strip().lower()
    return text if "@" in text and not text.startswith("@") else ""


def default_region() -> str:
    return str(getattr(settings, "PATRON_DEFAULT_PHONE_REGION", "") or "US").upper()


def normalize_phone_key(value: Any, region: str | None = None) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        return normalize_phone(text, region or default_region())
    except ValueError:
        return ""


def normalize_domain_key(values: Mapping[str, Any]) -> str:
    """The web domain of a record: from ``domain``, ``website`` or a company email."""
    for name in ("domain", "website"):
        text = normalize_domain(str(values.get(name) or ""))
        if text and "." in text:
            return text
    domain = email_domain(normalize_email_key(values.get("email")))
    if domain and domain not in PUBLIC_EMAIL_DOMAINS:
        return domain
    return ""


def normalize_text(value: Any) -> str:
    """Lower-case words without accents, punctuation or legal suffixes (Inc., GmbH)."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    words = [w for w in re.split(r"[^0-9a-z]+", text) if w]
    kept = [w for w in words if w not in _LEGAL_SUFFIXES]
    return " ".join(kept or words)


def similarity(a: Any, b: Any) -> int:
    """0-100: the better of the word-order-insensitive ratio and the ratio without spaces,
    so "Smith John" ~ "John Smith" and "GTXPro" ~ "GTX Pro" score 100, while "GTX Pro" and
    "GTX Plus Pro" do not (token-set scoring would call a subset a full match)."""
    left, right = normalize_text(a), normalize_text(b)
    if not left or not right:
        return 0
    words = fuzz.token_sort_ratio(left, right)
    squashed = fuzz.ratio(left.replace(" ", ""), right.replace(" ", ""))
    return round(max(words, squashed))


def _key_value(name: str, values: Mapping[str, Any]) -> Any:
    """The normalised value of exact key ``name`` in ``values`` ("" or None when absent)."""
    if name == "email":
        return normalize_email_key(values.get("email"))
    if name == "phone":
        region = str(values.get("country") or values.get("billing_country") or "") or None
        return normalize_phone_key(values.get("phone"), region)
    if name == "domain":
        return normalize_domain_key(values)
    value = values.get(name)
    if value is None:
        value = values.get(f"{name}_id")
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, str):
        return value.strip()
    return value


def _db_column(model: type[models.Model], name: str) -> str:
    model_field = model._meta.get_field(name)
    return str(getattr(model_field, "attname", name))


def _fuzzy_text(rule: DuplicateRule, values: Mapping[str, Any]) -> str:
    return " ".join(str(values.get(name) or "").strip() for name in rule.fuzzy_fields).strip()


def _block_prefix(text: Any) -> str:
    return str(text or "").strip()[:3]


def _prefix_ranges(column: str, prefix: str) -> Q:
    """Index range scans for values starting with ``prefix`` in its usual spellings."""
    condition = Q()
    for variant in {prefix, prefix.lower(), prefix.upper(), prefix.capitalize()}:
        upper = variant[:-1] + chr(ord(variant[-1]) + 1)
        condition |= Q(**{f"{column}__gte": variant, f"{column}__lt": upper})
    return condition


def _alive(model: type[models.Model]) -> models.QuerySet[Any]:
    queryset = model._base_manager.all()
    if any(f.name == "deleted_at" for f in model._meta.concrete_fields):
        queryset = queryset.filter(deleted_at__isnull=True)
    return queryset


def active_rules(object_type: str) -> list[DuplicateRule]:
    spec = duplicate_object(object_type)
    if spec is None:
        return []
    return list(DuplicateRule.objects.filter(object_type=spec.object_type, is_active=True))


def _valid_rule(model: type[models.Model], rule: DuplicateRule) -> bool:
    names = [k for k in rule.exact_keys if k not in ("email", "phone", "domain")]
    names += [k for k in ("email", "phone", "domain") if k in rule.exact_keys]
    names += list(rule.fuzzy_fields)
    try:
        for name in names:
            model._meta.get_field(name)
    except Exception:
        return False
    return bool(rule.exact_keys or rule.fuzzy_fields)


def _describe_exact(rule: DuplicateRule, key: tuple[Any, ...]) -> str:
    return ", ".join(f"{name} {value}" for name, value in zip(rule.exact_keys, key, strict=True))


# ----- matching -----


def _exact_hits(
    model: type[models.Model],
    rule: DuplicateRule,
    rows: Sequence[Mapping[str, Any]],
    results: list[list[DuplicateHit]],
    exclude_ids: Sequence[int | None],
) -> None:
    keys: list[tuple[Any, ...] | None] = []
    for row in rows:
        key = tuple(_key_value(name, row) for name in rule.exact_keys)
        keys.append(key if all(v not in (None, "") for v in key) else None)
    wanted = sorted({k for k in keys if k is not None}, key=repr)
    if not wanted:
        return
    columns = [_db_column(model, name) for name in rule.exact_keys]
    found: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    first_values = sorted({k[0] for k in wanted}, key=repr)
    for start in range(0, len(first_values), IN_CHUNK):
        chunk = first_values[start : start + IN_CHUNK]
        query = _alive(model).filter(**{f"{columns[0]}__in": chunk}).order_by("pk")
        for row in query.values_list("pk", *columns):
            found[tuple(row[1:])].append(row[0])
    seen_in_batch: dict[tuple[Any, ...], int] = {}
    for index, row_key in enumerate(keys):
        if row_key is None:
            continue
        key = row_key
        text = _describe_exact(rule, key)
        for pk in found.get(key, [])[:MAX_HITS_PER_RULE]:
            if pk != exclude_ids[index]:
                results[index].append(DuplicateHit(rule.pk, rule.name, rule.action, pk, 100, text))
        if key in seen_in_batch:
            results[index].append(
                DuplicateHit(
                    rule.pk,
                    rule.name,
                    rule.action,
                    None,
                    100,
                    f"{text} (same as row {seen_in_batch[key] + 1} of this batch)",
                )
            )
        else:
            seen_in_batch[key] = index


def _fuzzy_candidates(
    model: type[models.Model],
    rule: DuplicateRule,
    spec: DuplicateObject,
    blocks: set[Any],
) -> dict[Any, list[dict[str, Any]]]:
    """Existing records per block key, read with bounded index range queries."""
    fuzzy_columns = [_db_column(model, name) for name in rule.fuzzy_fields]
    by_block: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    if rule.exact_keys:
        columns = [_db_column(model, name) for name in rule.exact_keys]
        block_list = sorted(blocks, key=repr)
        for start in range(0, len(block_list), IN_CHUNK):
            chunk = block_list[start : start + IN_CHUNK]
            query = _alive(model).filter(**{f"{columns[0]}__in": [b[0] for b in chunk]})
            rows = query.order_by("pk").values("pk", *columns, *fuzzy_columns)
            for row in rows[: FUZZY_CANDIDATE_LIMIT * len(chunk)]:
                block = tuple(row[c] for c in columns)
                if block in blocks and len(by_block[block]) < FUZZY_CANDIDATE_LIMIT:
                    by_block[block].append(row)
        return by_block
    block_field = spec.block_field if spec.block_field in rule.fuzzy_fields else None
    block_column = _db_column(model, block_field or rule.fuzzy_fields[0])
    prefixes = sorted(blocks)
    for start in range(0, len(prefixes), PREFIX_CHUNK):
        chunk = prefixes[start : start + PREFIX_CHUNK]
        condition = Q()
        for prefix in chunk:
            condition |= _prefix_ranges(block_column, prefix)
        query = _alive(model).filter(condition).order_by(block_column, "pk")
        rows = query.values("pk", block_column, *fuzzy_columns)
        for row in rows[: FUZZY_CANDIDATE_LIMIT * len(chunk)]:
            prefix_block = _block_prefix(row[block_column]).lower()
            if prefix_block in blocks and len(by_block[prefix_block]) < FUZZY_CANDIDATE_LIMIT:
                by_block[prefix_block].append(row)
    return by_block


def _fuzzy_hits(
    model: type[models.Model],
    rule: DuplicateRule,
    spec: DuplicateObject,
    rows: Sequence[Mapping[str, Any]],
    results: list[list[DuplicateHit]],
    exclude_ids: Sequence[int | None],
    within_batch: bool = True,
) -> None:
    block_field = spec.block_field if spec.block_field in rule.fuzzy_fields else None
    block_name = block_field or rule.fuzzy_fields[0]
    row_blocks: list[Any] = []
    for row in rows:
        text = _fuzzy_text(rule, row)
        block: Any = None
        if text:
            if rule.exact_keys:
                key = tuple(_key_value(name, row) for name in rule.exact_keys)
                block = key if all(v not in (None, "") for v in key) else None
            else:
                block = _block_prefix(row.get(block_name)).lower() or None
        row_blocks.append(block)
    blocks = {b for b in row_blocks if b is not None}
    if not blocks:
        return
    candidates = _fuzzy_candidates(model, rule, spec, blocks)
    fuzzy_columns = [_db_column(model, name) for name in rule.fuzzy_fields]
    label = "/".join(rule.fuzzy_fields)
    by_block: dict[Any, list[int]] = defaultdict(list)
    for index, block in enumerate(row_blocks):
        if block is not None:
            by_block[block].append(index)
    for block, indexes in by_block.items():
        texts = [_fuzzy_text(rule, rows[i]) for i in indexes]
        found = candidates.get(block, [])
        others = [" ".join(str(c[col] or "") for col in fuzzy_columns).strip() for c in found]
        # One vectorised score matrix per block (rapidfuzz cdist), not a Python loop per pair.
        scores = _score_matrix(texts, others)
        for position, index in enumerate(indexes):
            scored = [
                (int(scores[position][j]), found[j]["pk"], others[j])
                for j in range(len(found))
                if scores[position][j] >= rule.threshold and found[j]["pk"] != exclude_ids[index]
            ]
            scored.sort(key=lambda item: (-item[0], item[1]))
            for score, pk, other in scored[:MAX_HITS_PER_RULE]:
                results[index].append(
                    DuplicateHit(
                        rule.pk,
                        rule.name,
                        rule.action,
                        pk,
                        score,
                        f"{label} “{texts[position]}” ~ “{other}” ({score}%)",
                    )
                )
        if not within_batch or len(indexes) < 2:
            continue
        # Earlier rows of the same block, at most FUZZY_CANDIDATE_LIMIT of them per row.
        limited = indexes[: FUZZY_CANDIDATE_LIMIT * 4]
        inner = _score_matrix(texts[: len(limited)], texts[: len(limited)])
        for position in range(1, len(limited)):
            first = max(0, position - FUZZY_CANDIDATE_LIMIT)
            for earlier in range(first, position):
                score = int(inner[position][earlier])
                if score >= rule.threshold:
                    results[limited[position]].append(
                        DuplicateHit(
                            rule.pk,
                            rule.name,
                            rule.action,
                            None,
                            score,
                            f"{label} “{texts[position]}” ~ “{texts[earlier]}” ({score}%, "
                            f"row {limited[earlier] + 1} of this batch)",
                        )
                    )
                    break


def _score_matrix(left: Sequence[str], right: Sequence[str]) -> Any:
    """``similarity`` of every pair of ``left`` and ``right``, as a matrix of ints."""
    if not left or not right:
        return [[] for _ in left]
    a = [normalize_text(t) for t in left]
    b = [normalize_text(t) for t in right]
    words = process.cdist(a, b, scorer=fuzz.token_sort_ratio, dtype=numpy.uint8)
    squashed = process.cdist(
        [t.replace(" ", "") for t in a],
        [t.replace(" ", "") for t in b],
        scorer=fuzz.ratio,
        dtype=numpy.uint8,
    )
    matrix = numpy.maximum(words, squashed)
    empty_a = numpy.array([not t for t in a])[:, None]
    empty_b = numpy.array([not t for t in b])[None, :]
    return numpy.where(empty_a | empty_b, 0, matrix)


def _sorted(hits: Iterable[DuplicateHit]) -> list[DuplicateHit]:
    unique: dict[tuple[int, int | None, str], DuplicateHit] = {}
    for hit in hits:
        unique.setdefault((hit.rule_id, hit.object_id, hit.match_key), hit)
    return sorted(
        unique.values(),
        key=lambda h: (_ACTION_ORDER.get(h.action, 9), -h.similarity, h.object_id or 0),
    )


def match_rows(
    object_type: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    rules: Sequence[DuplicateRule] | None = None,
    exclude_ids: Sequence[int | None] | None = None,
    within_batch: bool = True,
) -> list[list[DuplicateHit]]:
    """Hits per row for ``rules`` (default: the object's active rules)."""
    results: list[list[DuplicateHit]] = [[] for _ in rows]
    spec = duplicate_object(object_type)
    if spec is None or not rows:
        return results
    model = spec.model
    excluded = list(exclude_ids) if exclude_ids is not None else [None] * len(rows)
    for rule in active_rules(spec.object_type) if rules is None else rules:
        if not _valid_rule(model, rule):
            continue
        if rule.fuzzy_fields:
            _fuzzy_hits(model, rule, spec, rows, results, excluded, within_batch)
        else:
            _exact_hits(model, rule, rows, results, excluded)
    return [_sorted(hits) for hits in results]


def find_duplicates(
    object_type: str, values: Mapping[str, Any], *, exclude_id: int | None = None
) -> list[DuplicateHit]:
    """Existing records ``values`` probably duplicate, best first (block, warn, report)."""
    return match_rows(object_type, [values], exclude_ids=[exclude_id])[0]


def find_duplicates_batch(
    object_type: str, rows: Sequence[Mapping[str, Any]]
) -> list[list[DuplicateHit]]:
    """One list per row, in bounded queries per batch (never one query per row), including
    matches between rows of the same batch (a later row matches an earlier one)."""
    return match_rows(object_type, rows)
