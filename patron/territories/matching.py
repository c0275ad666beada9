"""Rule matching: which territory of a model a record's attributes belong to.

A territory claims a record when every field it has rules for matches (rules of one field
are OR'ed, different fields AND'ed) and every ancestor that has rules matches too; a
territory without rules claims nothing itself and constrains nothing for its children (a
grouping node). Among the territories that claim a record the deepest wins, then the highest
priority, then the lowest id.

Texts compare case-insensitively. Postal codes are normalised (upper case, no spaces or
dashes) and a range only covers codes of the same format as its bounds (same length, digits
and letters in the same places), compared as strings: 1000-1999 covers 1500, not 15000.
Numbers compare as decimals.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.territories.choices import NUMERIC_FIELDS, RuleField, RuleOperator

_POSTAL_JUNK = re.compile(r"[\s\-]+")


def normalise_postal(value: Any) -> str:
    return _POSTAL_JUNK.sub("", str(value or "")).upper()


def postal_shape(code: str) -> str:
    """9 for a digit, A for a letter: two codes of one shape compare as strings."""
    return "".join("9" if ch.isdigit() else "A" if ch.isalpha() else ch for ch in code)


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def normalise_text(value: Any) -> str:
    return str(value or "").strip().casefold()


@dataclass(frozen=True)
class CompiledRule:
    field: str
    operator: str
    values: frozenset[str] = frozenset()
    numbers: frozenset[Decimal] = frozenset()
    low: Any = None
    high: Any = None
    shape: str = ""  # a postal-code range covers codes of its bounds' format only

    def matches(self, value: Any) -> bool:
        """Whether a value prepared by ``prepare`` for this rule's field matches."""
        if value is None:
            return False
        if self.field in NUMERIC_FIELDS:
            if self.operator == RuleOperator.IN:
                return value in self.numbers
            return (self.low is None or value >= self.low) and (
                self.high is None or value <= self.high
            )
        if self.field == RuleField.POSTAL_CODE:
            code, shape = value
            if self.operator == RuleOperator.IN:
                return code in self.values
            if shape != self.shape:
                return False
            return (self.low is None or code >= self.low) and (
                self.high is None or code <= self.high
            )
        return value in self.values


def prepare(field_name: str, value: Any) -> Any:
    """A record's value in the form rules compare (None when empty or unreadable), worked out
    once per record rather than once per rule."""
    if field_name in NUMERIC_FIELDS:
        return to_decimal(value)
    if field_name == RuleField.POSTAL_CODE:
        code = normalise_postal(value)
        return (code, postal_shape(code)) if code else None
    return normalise_text(value) or None


def compile_rule(
    field_name: str, operator: str, values: Iterable[Any], low: str, high: str
) -> CompiledRule:
    if field_name in NUMERIC_FIELDS:
        if operator == RuleOperator.IN:
            numbers = frozenset(n for n in (to_decimal(v) for v in values) if n is not None)
            return CompiledRule(field_name, operator, numbers=numbers)
        return CompiledRule(field_name, operator, low=to_decimal(low), high=to_decimal(high))
    if field_name == RuleField.POSTAL_CODE:
        if operator == RuleOperator.IN:
            return CompiledRule(
                field_name, operator, values=frozenset(normalise_postal(v) for v in values)
            )
        low_code, high_code = normalise_postal(low) or None, normalise_postal(high) or None
        return CompiledRule(
            field_name,
            operator,
            low=low_code,
            high=high_code,
            shape=postal_shape(low_code or high_code or ""),
        )
    return CompiledRule(field_name, operator, values=frozenset(normalise_text(v) for v in values))


@dataclass
class Node:
    pk: int
    parent_id: int | None
    depth: int
    priority: int
    rules: dict[str, list[CompiledRule]] = field(default_factory=lambda: defaultdict(list))

    def own_match(self, prepared: Mapping[str, Any]) -> bool:
        return all(
            any(rule.matches(prepared[name]) for rule in rules)
            for name, rules in self.rules.items()
        )


class Matcher:
    """A model's territories and rules, loaded once and matched against many records."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes = {node.pk: node for node in nodes}
        self.children: dict[int | None, list[Node]] = defaultdict(list)
        for node in self.nodes.values():
            parent = node.parent_id if node.parent_id in self.nodes else None
            self.children[parent].append(node)
        self.fields = {name for node in self.nodes.values() for name in node.rules}

    def match(self, attributes: Mapping[str, Any]) -> int | None:
        """The id of the territory that claims ``attributes`` (None when none does).

        Walks down from the top and only into territories whose rules match, so a record
        costs the territories along its way, not the whole tree.
        """
        prepared = {name: prepare(name, attributes.get(name)) for name in self.fields}
        best: tuple[tuple[int, int, int], int] | None = None
        stack = list(self.children[None])
        while stack:
            node = stack.pop()
            if not node.own_match(prepared):
                continue
            if node.rules:
                # Best first: deepest, then highest priority, then lowest id.
                key = (-node.depth, -node.priority, node.pk)
                if best is None or key < best[0]:
                    best = (key, node.pk)
            stack.extend(self.children[node.pk])
        return best[1] if best else None
