"""Objectives (DESIGN section 11): one spec read by alert mail, rules, dashboards and the check.

An objective bounds a share, good ÷ total, of one indicator over a trailing window. This
module holds only the spec and its validation; collector/evaluation.py judges it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OBJECTIVE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
RATES = ("resolution_rate", "escalation_rate", "abandonment_rate", "csat")
DURATIONS = ("first_response", "response", "resolution")
INDICATORS = RATES + DURATIONS
Indicator = Literal[
    "resolution_rate",
    "escalation_rate",
    "abandonment_rate",
    "csat",
    "first_response",
    "response",
    "resolution",
]
# Prometheus' duration syntax, so a window is written the same in the YAML and in the
# generated rules (`1h30m`, `7d`): each unit at most once, from the largest to the smallest
# (Prometheus refuses `30m1h`).
_UNITS = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>\d+){unit})?" for unit in _UNITS))


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as ``30m``, ``1h30m`` or ``7d``."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) and text else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration such as 30m, 1h, 1h30m, 1d or 7d "
            "(each unit once, largest first)"
        )
    return sum(int(n) * _UNITS[unit] for unit, n in match.groupdict().items() if n)


class Objective(BaseModel):
    """One objective: a bound on the good share of an indicator, per group, over a window."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(description="The key it is declared under: [a-z0-9][a-z0-9_.-]{0,63}.")
    indicator: Indicator = Field(
        description="`resolution_rate`, `escalation_rate`, `abandonment_rate`, `csat`, "
        "`first_response`, `response` or `resolution`."
    )
    channels: tuple[str, ...] | None = Field(
        None,
        description="The declared channels it covers; with `kind`, not both. "
        "Neither: every channel.",
    )
    kind: Literal["ai", "human"] | None = Field(
        None, description="Cover every channel of this kind (`ai` or `human`)."
    )
    by: Literal["channel", "kind", "all"] = Field(
        "channel",
        description="`channel`: each covered channel judged alone; `kind`: pooled "
        "per kind; `all`: pooled over every covered channel.",
    )
    min: float | None = Field(
        None, ge=0, le=1, description="The good share must stay at or above this (0..1)."
    )
    max: float | None = Field(
        None, ge=0, le=1, description="The good share must stay at or below this (0..1)."
    )
    within_seconds: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,  # an infinite threshold would become a second +Inf bucket
        description="Durations only (required there): a duration is good when "
        "it is at most this; it becomes a bucket bound of its histogram.",
    )
    window: str = Field("1h", description="The trailing window an alert judges (`30m`, `1d`).")
    for_: str = Field(
        "5m", alias="for", description="How long a breach lasts before it fires (`0s`: at once)."
    )
    min_events: int = Field(
        20, ge=1, description="Below this many in the denominator there is no verdict."
    )
    tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="The CI check: how much the share may worsen against "
        "the baseline (absolute: 0.05 is 5 points).",
    )
    severity: Literal["warning", "critical"] = Field(
        "warning", description="A label on rules and in the mail subject."
    )
    title: str | None = Field(
        None, description="Shown in mail, dashboards and the check; default: the name."
    )
    notify: tuple[str, ...] = Field(
        (), description="Addresses its mail goes to; default: `alert_email_to`."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not OBJECTIVE_NAME.fullmatch(value):
            raise ValueError(f"objective name {value!r} must match {OBJECTIVE_NAME.pattern}")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("the window must be longer than zero")
        return value

    @field_validator("for_")
    @classmethod
    def _for(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("list at least one channel, or leave `channels` out for all")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Objective:
        if (self.min is None) == (self.max is None):
            raise ValueError("set exactly one of `min` and `max`")
        if self.channels is not None and self.kind is not None:
            raise ValueError("set `channels` or `kind`, not both")
        if self.indicator in DURATIONS and self.within_seconds is None:
            raise ValueError(f"`within_seconds` is required for the {self.indicator} indicator")
        if self.indicator in RATES and self.within_seconds is not None:
            raise ValueError(f"`within_seconds` applies to durations, not to {self.indicator}")
        return self

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.window)

    @property
    def for_seconds(self) -> float:
        return parse_duration(self.for_)

    @property
    def display_title(self) -> str:
        return self.title or self.name

    @property
    def bound(self) -> dict[str, float]:
        """``{"min": x}`` or ``{"max": x}``, as the check's JSON writes it."""
        if self.min is not None:
            return {"min": self.min}
        assert self.max is not None
        return {"max": self.max}

    def breached_by(self, share: float) -> bool:
        """Whether a share lies outside the bound."""
        if self.min is not None:
            return share < self.min
        assert self.max is not None
        return share > self.max

    def covers(self, channel: str, kind: str | None) -> bool:
        """Whether a channel of this kind is one the objective judges."""
        if self.channels is not None:
            return channel in self.channels
        return self.kind is None or kind == self.kind


def named_objectives(value: Any) -> Any:
    """The YAML mapping ``{name: {...}}`` with each entry given its name, for validation."""
    if not isinstance(value, dict):
        return value
    named = {}
    for name, spec in value.items():
        if isinstance(spec, dict):
            if "name" in spec and spec["name"] != name:
                raise ValueError(f"objective {name!r}: `name` is its key; leave it out")
            spec = {**spec, "name": name}
        named[name] = spec
    return named
