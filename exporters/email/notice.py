"""What one alert mail says: the figures of one flip, kept as JSON in the outbox row.

The figures are fixed at the flip (in the same transaction), and the message is rendered
from them when it is sent, so a retry hours later still reports the moment it was about.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

from collector.metrics import wilson
from collector.objectives import Objective

Kind = Literal["firing", "resolved"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One flip of one (objective, group): ok to firing, or firing back to ok."""

    kind: Kind
    objective: str
    title: str
    indicator: str
    within_seconds: float | None
    bound: dict[str, float]
    window: str
    for_: str
    min_events: int
    severity: str
    group: dict[str, str]
    good: int
    total: int
    at: int  # the evaluation that flipped it, microseconds since the epoch
    window_start: int  # the window judged: [window_start, at)
    breached_since: int | None  # the first breached evaluation of this incident
    fired_at: int | None = None  # resolved only: when it started firing
    channel_titles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        kind: Kind,
        objective: Objective,
        group: dict[str, str],
        counts: tuple[int, int],
        times: tuple[int, int | None, int | None],
        channel_titles: dict[str, str] | None = None,
    ) -> Notice:
        """A notice from the objective, its group, (good, total) and (at, breached_since,
        fired_at)."""
        at, breached_since, fired_at = times
        return cls(
            kind=kind, objective=objective.name, title=objective.display_title,
            indicator=objective.indicator, within_seconds=objective.within_seconds,
            bound=objective.bound, window=objective.window, for_=objective.for_,
            min_events=objective.min_events, severity=objective.severity, group=group,
            good=counts[0], total=counts[1], at=at,
            window_start=at - int(objective.window_seconds * 1_000_000),
            breached_since=breached_since, fired_at=fired_at,
            channel_titles=channel_titles or {},
        )  # fmt: skip

    @property
    def value(self) -> float | None:
        return self.good / self.total if self.total else None

    @property
    def ci95(self) -> list[float] | None:
        return wilson(self.good, self.total)

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str) -> Notice:
        data: dict[str, Any] = orjson.loads(text)
        return cls(**data)
