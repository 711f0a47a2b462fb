"""Rejections grouped by the rule they broke, for summaries: a count and one example each.

A reason names the field, the rule and the bad value ("column `closed`: '10:61:00' does
not match time format '%H:%M:%S'"), so an import with one broken column has as many
distinct reasons as rows. Its *rule* is the reason with the values taken out: quoted
values become ``…`` and numbers ``N``; names in backticks (fields, columns, mapping keys)
stay. A summary then says "9,277 rows: column `closed` does not match time format", with
the first as its example; the quarantine keeps every record with its own reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A name in backticks (kept), a quoted value as repr writes it (not an apostrophe inside a
# word), or a number.
_PARTS = re.compile(
    r"(`[^`]*`)"
    r"|(?<!\w)('(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")"
    r"|(\d+(?:\.\d+)?)"
)
_WHERE = re.compile(r"^\(row of lines \d+-\d+\) ")  # collector.sources.csvmap positions
MAX_RULES = 100  # past this many rules, the rest are counted under one: bounded memory
OTHER_RULES = "(other rules: see `touchmetrics quarantine list`)"


def rule_of(reason: str) -> str:
    """The rule a reason states, without the values it quotes."""

    def strip(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        return "…" if match.group(2) else "N"

    return _PARTS.sub(strip, _WHERE.sub("", reason))


@dataclass(slots=True)
class Group:
    """The rejections of one rule: how many, and the first, as ``position: reason``."""

    count: int
    position: str
    reason: str


@dataclass(slots=True)
class ByRule:
    """Rejections counted by rule, in the order each rule was first met."""

    groups: dict[str, Group] = field(default_factory=dict)

    def add(self, position: str, reason: str, count: int = 1) -> None:
        rule = rule_of(reason)
        found = self.groups.get(rule)
        if found is None and len(self.groups) >= MAX_RULES:
            rule = OTHER_RULES
            found = self.groups.get(rule)
        if found is None:
            self.groups[rule] = Group(count, position, reason)
        else:
            found.count += count

    def merge(self, other: ByRule) -> None:
        for rule, group in other.groups.items():
            found = self.groups.get(rule)
            if found is None and len(self.groups) < MAX_RULES:
                self.groups[rule] = Group(group.count, group.position, group.reason)
            elif found is None:
                self.add(group.position, OTHER_RULES, group.count)
            else:
                found.count += group.count

    def most_common(self) -> list[tuple[str, Group]]:
        """The rules, the most broken first (ties in the order they were met)."""
        return sorted(self.groups.items(), key=lambda item: -item[1].count)

    def as_list(self) -> list[dict[str, object]]:
        return [
            {"rule": r, "count": g.count, "example": {"position": g.position, "reason": g.reason}}
            for r, g in self.most_common()
        ]
