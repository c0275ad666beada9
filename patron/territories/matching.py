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

    def matches(self, value: Any) -> bool:
        if self.field in NUMERIC_FIELDS:
            number = to_decimal(value)
            if number is None:
                return False
            if self.operator == RuleOperator.IN:
                return number in self.numbers
            return (self.low is None or number >= self.low) and (
                self.high is None or number <= self.high
            )
        if self.field == RuleField.POSTAL_CODE:
            code = normalise_postal(value)
            if not code:
                return False
            if self.operator == RuleOperator.IN:
                return code in self.values
            bound = self.low if self.low is not None else self.high
            if postal_shape(code) != postal_shape(bound):
                return False
            return (self.low is None or code >= self.low) and (
                self.high is None or code <= self.high
            )
        text = normalise_text(value)
        return bool(text) and text in self.values


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
        return CompiledRule(
            field_name,
            operator,
            low=normalise_postal(low) or None,
            high=normalise_postal(high) or None,
        )
    return CompiledRule(field_name, operator, values=frozenset(normalise_text(v) for v in values))


@dataclass
class Node:
    pk: int
    parent_id: int | None
    depth: int
    priority: int
    rules: dict[str, list[CompiledRule]] = field(default_factory=lambda: defaultdict(list))

    def own_match(self, attributes: Mapping[str, Any]) -> bool:
        return all(
            any(rule.matches(attributes.get(name)) for rule in rules)
            for name, rules in self.rules.items()
        )


class Matcher:
    """A model's territories and rules, loaded once and matched against many records."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes = {node.pk: node for node in nodes}
        # Best first: deepest, then highest priority, then lowest id.
        self.order = sorted(self.nodes.values(), key=lambda n: (-n.depth, -n.priority, n.pk))

    def match(self, attributes: Mapping[str, Any]) -> int | None:
        """The id of the territory that claims ``attributes`` (None when none does)."""
        memo: dict[int, bool] = {}

        def claims(node: Node) -> bool:
            if node.pk not in memo:
                parent = self.nodes.get(node.parent_id) if node.parent_id else None
                memo[node.pk] = node.own_match(attributes) and (parent is None or claims(parent))
            return memo[node.pk]

        for node in self.order:
            if node.rules and claims(node):
                return node.pk
        return None
