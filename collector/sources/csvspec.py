"""The declarative CSV/TSV column mapping: YAML parsed once into checked, immutable objects.

A wrong mapping cannot read a single row, so every problem stops the import before it
starts, as an InputError that names the mapping key (``events.2.at``) and the rule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from collector.errors import InputError
from collector.settings import checked_zone, read_yaml
from collector.sources.csvvalues import Transform
from collector.sources.csvwhen import When, parse_when
from collector.sources.text import find_nul

EventType = Literal[
    "conversation_started", "reopened", "message", "handoff", "resolved", "abandoned", "csat"
]
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
THREAD = "thread"  # the value a `threads` section gives each row: its thread's first post


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeSource(_Model):
    """Where an event's time comes from; a string or a list is shorthand for ``first``."""

    first: tuple[str, ...] | None = Field(None, min_length=1)
    earliest: tuple[str, ...] | None = Field(None, min_length=1)
    latest: tuple[str, ...] | None = Field(None, min_length=1)
    minus_column: str | None = None  # a column of seconds taken off the time (q_exit - q_time)
    plus_seconds: float = 0

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"first": [value]}
        if isinstance(value, list):
            return {"first": value}
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> TimeSource:
        if sum(x is not None for x in (self.first, self.earliest, self.latest)) != 1:
            raise ValueError("give exactly one of: a column, a list, first, earliest, latest")
        return self

    @property
    def rule(self) -> str:
        return "first" if self.first else "earliest" if self.earliest else "latest"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.first or self.earliest or self.latest or ()


class EventTemplate(_Model):
    """One canonical event a row may produce."""

    type: EventType
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    at: TimeSource
    when: When = ()
    id: str | None = None  # a template; None: "<conversation id>:<name>"
    channel: str | None = None  # may hold {column} placeholders
    kind: Literal["ai", "human"] | None = None
    author: Literal["customer", "agent", "system"] | None = None
    public: bool | None = None
    score: str | None = None  # a column of integers
    scale: int | None = None
    not_before: tuple[str, ...] = ()  # earlier templates: never before their time in a row

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, value: Any) -> When:
        return parse_when(value)

    @property
    def key(self) -> str:
        return self.name or self.type


class RowRule(_Model):
    """Rows matching ``when`` are set apart with ``reason`` rather than read: quarantined
    (``reject_when``) or counted as skipped (``skip_when``)."""

    when: When
    reason: str = Field(min_length=1)

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, value: Any) -> When:
        conditions = parse_when(value)
        if not conditions:
            raise ValueError("must name at least one condition")
        return conditions


class Threads(_Model):
    """Reply threads: a row's conversation is the first post of its thread, ``{thread}``."""

    message: str  # the column of each row's message id
    parent: str  # the column of the id of the message it answers; null on a first post
    max_replies: int = Field(2_000_000, ge=1)  # bounds the memory of following threads


class DatePart(_Model):
    column: str
    format: str = "%Y-%m-%d"


class Rollover(_Model):
    """A time more than ``tolerance_seconds`` before ``reference`` is on the next day."""

    reference: str
    tolerance_seconds: float = Field(0, ge=0, lt=86400)


class Timestamps(_Model):
    format: str = "iso"  # a strptime pattern, "iso" (ISO 8601) or "unix" (seconds)
    timezone: str | None = None
    date: DatePart | None = None  # for time-only columns: the column holding their date
    rollover: Rollover | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return checked_zone(value)

    @model_validator(mode="after")
    def _rollover_needs_date(self) -> Timestamps:
        if self.rollover is not None and self.date is None:
            raise ValueError("rollover applies to time-only columns: also give `date`")
        if self.date is not None and self.format == "unix":
            raise ValueError("a `date` column needs a time-of-day `format`, not unix")
        return self


class Mapping(_Model):
    """The whole mapping file."""

    format: Literal["csv", "tsv"] = "csv"
    quote: str | None = Field('"', min_length=1, max_length=1)  # null: quotes are plain text
    header: bool = True
    columns: tuple[str, ...] | None = None  # required without a header; else checked
    nulls: frozenset[str] = frozenset({""})
    column_nulls: dict[str, frozenset[str]] = Field(default_factory=dict)
    timestamps: Timestamps = Field(default_factory=Timestamps)
    constants: dict[str, str] = Field(default_factory=dict)
    transforms: dict[str, Transform] = Field(default_factory=dict)  # name -> derived value
    threads: Threads | None = None
    conversation_id: str
    attributes: dict[str, str] = Field(default_factory=dict)  # attribute -> column
    skip_when: tuple[RowRule, ...] = ()
    reject_when: tuple[RowRule, ...] = ()
    events: tuple[EventTemplate, ...]

    @field_validator("conversation_id")
    @classmethod
    def _template(cls, value: str) -> str:
        if not placeholders(value):
            raise ValueError("must name at least one {column}, or every row gets the same id")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        if not self.events:
            raise ValueError("`events` must list at least one event template")
        seen: set[str] = set()
        for template in self.events:
            if template.key in seen:
                raise ValueError(f"two events are named {template.key!r}: give each a `name`")
            for name in template.not_before:
                if name not in seen:
                    raise ValueError(f"`not_before` of {template.key!r}: no earlier event {name!r}")
            seen.add(template.key)
        if not self.header and not self.columns:
            raise ValueError("without a header row, `columns` must name the columns")
        self._check_derived()
        return self

    def _check_derived(self) -> None:
        """Transforms read columns, constants or earlier transforms; none is `thread`."""
        names = list(self.transforms)
        for index, (name, transform) in enumerate(self.transforms.items()):
            if name in self.constants:
                raise ValueError(f"`transforms.{name}` has the name of a constant")
            later = {n for n in names[index + 1 :] if n != self.transforms[n].column}
            if transform.column in later:
                raise ValueError(
                    f"`transforms.{name}` reads {transform.column!r}, a later transform: "
                    "list the transforms in the order they are made"
                )
            if self.threads is not None and THREAD in (name, transform.column):
                raise ValueError(f"`transforms.{name}`: `{THREAD}` is the value `threads` gives")
        if self.threads is not None and THREAD in self.constants:
            raise ValueError(f"`constants.{THREAD}`: `{THREAD}` is the value `threads` gives")

    @property
    def delimiter(self) -> str:
        return "\t" if self.format == "tsv" else ","

    def derived(self) -> set[str]:
        """The values a row has besides its columns: constants, transforms under a name of
        their own, and `thread`."""
        names = set(self.constants) | {n for n, t in self.transforms.items() if n != t.column}
        return names | ({THREAD} if self.threads is not None else set())

    def references(self) -> dict[str, str]:
        """Each column of the file the mapping reads, with the first key that names it."""
        found: dict[str, str] = {}
        for key, column in self._named():
            found.setdefault(column, key)
        derived = self.derived()
        return {c: k for c, k in found.items() if c not in derived}

    def fingerprint(self) -> str:
        """A digest of what the mapping means, the same in every process."""
        text = orjson.dumps(_canonical(self.model_dump()), option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(text, digest_size=8).hexdigest()

    def _named(self) -> list[tuple[str, str]]:
        named = [(f"transforms.{n}.column", t.column) for n, t in self.transforms.items()]
        if self.threads is not None:
            named += [("threads.message", self.threads.message)]
            named += [("threads.parent", self.threads.parent)]
        named += [("conversation_id", c) for c in placeholders(self.conversation_id)]
        named += [(f"attributes.{a}", c) for a, c in self.attributes.items()]
        named += [(f"column_nulls.{c}", c) for c in self.column_nulls]
        ts = self.timestamps
        named += [("timestamps.date.column", ts.date.column)] if ts.date else []
        named += [("timestamps.rollover.reference", ts.rollover.reference)] if ts.rollover else []
        for rules, name in ((self.skip_when, "skip_when"), (self.reject_when, "reject_when")):
            for i, rule in enumerate(rules):
                named += [(f"{name}.{i}.when", c.column) for g in rule.when for c in g]
        for i, e in enumerate(self.events):
            key = f"events.{i}"
            minus = [e.at.minus_column] if e.at.minus_column else []
            named += [(f"{key}.at", c) for c in (*e.at.columns, *minus)]
            named += [(f"{key}.when", c.column) for g in e.when for c in g]
            named += [(f"{key}.score", e.score)] if e.score else []
            named += [(f"{key}.channel", c) for c in placeholders(e.channel or "")]
            named += [(f"{key}.id", c) for c in placeholders(e.id or "")]
        return named


def _canonical(value: Any) -> Any:
    """Plain JSON values, sets sorted: their order in memory differs between processes."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return _canonical(asdict(value))
    return value


def parse_mapping(data: Any, source: str = "mapping") -> Mapping:
    """Validate loaded YAML into a Mapping, naming the bad key on failure."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: the top level must be a mapping of keys")
    nul = find_nul(data)
    if nul is not None:  # constants and templates become event strings, which may hold none
        raise InputError(f"{source}: `{nul.path or '(top)'}`: no text may contain NUL (U+0000)")
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise InputError(f"{source}: bad mapping: {problems}") from exc
    if mapping.columns is not None:
        known = set(mapping.columns) | mapping.derived()
        for column, key in mapping.references().items():
            if column not in known:
                raise InputError(f"{source}: `{key}` names column {column!r}, not in `columns`")
    return mapping


def load_mapping(path: Path) -> Mapping:
    return parse_mapping(read_yaml(path, "mapping", InputError), str(path))


def _problem(err: Any) -> str:
    # pydantic names a union branch or a shorthand in the location; the user wrote neither.
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tuple["))]
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"`{'.'.join(loc) or '(top)'}`: {message}"
