"""`touchmetrics check` (DESIGN section 15): a candidate against the objectives and a baseline.

Each side is a set of files or a window of the database. Its shares come from the one
evaluation (collector/evaluation.py, a whole log or window at once); collector/verdicts.py
turns the two sides' shares into verdicts. Exporters render the resulting ``Check``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.aggregates import read_aggregate
from collector.errors import CheckError
from collector.evaluation import GroupKey, Result, Share, evaluate_aggregates
from collector.metrics import Window
from collector.objectives import Objective
from collector.settings import Settings
from collector.sources.record import Reader
from collector.store import Store
from collector.verdicts import (
    BaselineVerdict,
    ObjectiveVerdict,
    Verdict,
    against_baseline,
    against_objective,
    combine,
    run_verdict,
)

SCHEMA = "touchmetrics.check/1"


@dataclass(frozen=True, slots=True)
class FileSide:
    """A side read straight from files, each with the reader for its format."""

    inputs: tuple[tuple[Reader, Path], ...]


@dataclass(frozen=True, slots=True)
class WindowSide:
    """A side read from the database: the facts of [start, end) in event time."""

    window: Window


Side = FileSide | WindowSide


@dataclass(frozen=True, slots=True)
class Input:
    """What one side was read from, said in words, and how many records it rejected."""

    description: str
    rejected: int = 0
    reasons: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Judgement:
    """One objective for one group: both sides' shares, their difference and the verdicts."""

    objective: Objective
    group: GroupKey
    candidate: Share
    baseline: Share | None
    difference: tuple[float, list[float]] | None
    objective_verdict: ObjectiveVerdict
    baseline_verdict: BaselineVerdict | None
    verdict: Verdict

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.group)

    def as_dict(self) -> dict[str, Any]:
        """One result of ``touchmetrics.check/1``, values not rounded."""
        diff = self.difference
        return {
            "objective": self.objective.name,
            "group": self.labels,
            "indicator": self.objective.indicator,
            "bound": self.objective.bound,
            "tolerance": self.objective.tolerance,
            "candidate": _side(self.candidate),
            "baseline": None if self.baseline is None else _side(self.baseline),
            "difference": (
                None
                if self.baseline is None
                else {"value": diff[0] if diff else None, "ci95": diff[1] if diff else None}
            ),
            "objective_verdict": self.objective_verdict,
            "baseline_verdict": self.baseline_verdict,
            "verdict": self.verdict,
        }


def _side(share: Share) -> dict[str, Any]:
    return {"value": share.value, "n": share.total, "ci95": share.ci95}


@dataclass(frozen=True, slots=True)
class Check:
    """A finished check: every judgement, the run's verdict and what each side was read from."""

    judgements: tuple[Judgement, ...]
    candidate: Input
    baseline: Input | None = None
    verdict: Verdict = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", run_verdict(j.verdict for j in self.judgements))

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "results": [j.as_dict() for j in self.judgements],
        }


def select_objectives(settings: Settings, names: Sequence[str] = ()) -> list[Objective]:
    """The configured objectives, or the named ones in the order named."""
    if not settings.objectives:
        raise CheckError(
            "no objectives are configured: declare them under `objectives:` in the "
            "configuration (see docs/configuration.md)"
        )
    unknown = [n for n in names if n not in settings.objectives]
    if unknown:
        known = ", ".join(settings.objectives)
        raise CheckError(f"unknown objective {', '.join(map(repr, unknown))} (known: {known})")
    chosen = list(dict.fromkeys(names)) if names else list(settings.objectives)
    return [settings.objectives[name] for name in chosen]


def judge_sides(
    objectives: Sequence[Objective],
    candidate: Iterable[Result],
    baseline: Iterable[Result] | None,
) -> list[Judgement]:
    """Every (objective, group) either side has, judged; objectives in order, groups sorted."""
    cand = {(r.objective.name, r.group): r.share for r in candidate}
    base = None if baseline is None else {(r.objective.name, r.group): r.share for r in baseline}
    judgements = []
    for objective in objectives:
        groups = {g for name, g in (*cand, *(base or {})) if name == objective.name}
        for group in sorted(groups):
            key = (objective.name, group)
            judgements.append(_judge(objective, group, cand.get(key, Share()), base, key))
    return judgements


def _judge(
    objective: Objective,
    group: GroupKey,
    candidate: Share,
    base: dict[tuple[str, GroupKey], Share] | None,
    key: tuple[str, GroupKey],
) -> Judgement:
    objective_verdict = against_objective(objective, candidate)
    if base is None:
        return Judgement(
            objective, group, candidate, None, None, objective_verdict, None,
            combine(objective_verdict, None),
        )  # fmt: skip
    baseline = base.get(key, Share())
    baseline_verdict, diff = against_baseline(objective, candidate, baseline)
    return Judgement(
        objective, group, candidate, baseline, diff, objective_verdict, baseline_verdict,
        combine(objective_verdict, baseline_verdict),
    )  # fmt: skip


def run_check(
    settings: Settings,
    objectives: Sequence[Objective],
    candidate: Side,
    baseline: Side | None = None,
    open_store: Callable[[Settings], Store] | None = None,
) -> Check:
    """Read each side in turn (one log in memory at a time), then judge them together.

    1. Evaluate the candidate's shares, from its files or its window of the database.
    2. The same for the baseline, when there is one.
    3. Judge each objective and group against its bound and the baseline.
    """
    with ExitStack() as stack:
        store: Store | None = None

        def the_store() -> Store:
            nonlocal store
            if store is None:
                opener = open_store or _default_opener
                store = stack.enter_context(opener(settings))
            return store

        cand_results, cand_input = _evaluate(settings, objectives, candidate, the_store)
        base_results, base_input = (
            (None, None)
            if baseline is None
            else _evaluate(settings, objectives, baseline, the_store)
        )
    judgements = judge_sides(objectives, cand_results, base_results)
    return Check(tuple(judgements), cand_input, base_input)


def _default_opener(settings: Settings) -> Store:
    from collector.database import open_store

    return open_store(settings)


def _evaluate(
    settings: Settings,
    objectives: Sequence[Objective],
    side: Side,
    the_store: Callable[[], Store],
) -> tuple[list[Result], Input]:
    if isinstance(side, FileSide):
        return _from_files(settings, objectives, side)
    store = the_store()
    window = side.window
    facts = read_aggregate(store, window.start, window.end)  # objectives need no topic
    kinds = store.channel_kinds()
    results = evaluate_aggregates(objectives, lambda _span: facts, kinds, settings.channels)
    span = window.as_dict()
    where = f"the database, {span['from'] or 'the beginning'} to {span['to'] or 'now'}"
    return results, Input(where)


def _from_files(
    settings: Settings, objectives: Sequence[Objective], side: FileSide
) -> tuple[list[Result], Input]:
    from collector.offline import read_files
    from collector.schema import Validator

    whole = Window()  # a log is judged whole: every objective over all its facts
    with read_files(Validator(settings), side.inputs, whole) as log:
        kinds = {**log.kinds, **settings.channel_kinds()}
        facts, _open = log.aggregate(whole)
        results = evaluate_aggregates(objectives, lambda _span: facts, kinds, settings.channels)
    s = log.summary
    files = len(side.inputs)
    description = (
        f"{files} file{'s' if files != 1 else ''}, {s.records:,} records: "
        f"{s.accepted:,} accepted, {s.duplicates:,} duplicates, {s.rejected:,} rejected"
    )
    return results, Input(description, s.rejected, tuple(s.reasons()))
