"""Conditions on a row's values, as a mapping writes them under `when`.

``{column: value}`` holds when the column equals the value, ``{column: [a, b]}`` when it
is one of them, ``{column: null}`` when it is null, and ``{column: {not: ...}}`` negates
any of these. Several columns in one mapping must all hold; a list of mappings holds
when any of them does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Condition:
    """One column test: equal to / one of ``values``, or null when ``values`` is None."""

    column: str
    values: frozenset[str] | None
    negate: bool = False

    def holds(self, value: str | None) -> bool:
        found = value is None if self.values is None else value in self.values
        return found != self.negate

    def describe(self) -> str:
        if self.values is None:
            return f"`{self.column}` is {'not ' if self.negate else ''}null"
        shown = ", ".join(sorted(self.values))
        verb = "is" if len(self.values) == 1 else "is one of"
        return f"`{self.column}` {'not ' if self.negate else ''}{verb} {shown}"


# Alternatives (any) of conjunctions (all); empty means always.
When = tuple[tuple[Condition, ...], ...]


def matches(when: When, row: dict[str, str | None]) -> tuple[Condition, ...] | None:
    """The conditions that hold for ``row`` (the first alternative that does), or None."""
    if not when:
        return ()
    for conditions in when:
        if all(c.holds(row.get(c.column)) for c in conditions):
            return conditions
    return None


def parse_when(value: Any) -> When:
    """A `when` as YAML gives it; ValueError says what is wrong with it."""
    if value is None:
        return ()
    groups = value if isinstance(value, list) else [value]
    if not groups or not all(isinstance(g, dict) and g for g in groups):
        raise ValueError("must be a mapping of column to condition, or a list of them (any)")
    return tuple(tuple(_condition(str(k), v) for k, v in g.items()) for g in groups)


def _condition(column: str, spec: Any) -> Condition:
    negate = isinstance(spec, dict)
    if negate:
        if set(spec) != {"not"}:
            raise ValueError(f"{column}: a mapping condition must be {{not: ...}}")
        spec = spec["not"]
    if spec is None:
        return Condition(column, None, negate)
    values = spec if isinstance(spec, list) else [spec]
    if not values or any(isinstance(v, bool | dict | list) or v is None for v in values):
        raise ValueError(f"{column}: values must be text or numbers (quote yes/no/true/false)")
    return Condition(column, frozenset(str(v) for v in values), negate)
