"""A check result in plain words and short cells, shared by every output of the check."""

from __future__ import annotations

from collector.check import Judgement
from collector.evaluation import Share
from collector.objectives import Objective


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def tolerance_words(objective: Objective) -> str:
    return f"{100 * objective.tolerance:g}-point tolerance"


def group_label(j: Judgement) -> str:
    """``bot-chat (ai)`` by channel, ``ai`` by kind, ``all`` pooled."""
    labels = j.labels
    if "channel" in labels:
        return f"{labels['channel']} ({labels['kind']})"
    return labels.get("kind", "all")


def describe(objective: Objective) -> str:
    """The objective's rule: ``resolution_rate ≥ 60.0%``, ``first_response ≤ 120s ≥ 90.0%``."""
    what: str = objective.indicator
    if objective.within_seconds is not None:
        what += f" ≤ {objective.within_seconds:g}s"
    if objective.min is not None:
        return f"{what} ≥ {pct(objective.min)}"
    assert objective.max is not None
    return f"{what} ≤ {pct(objective.max)}"


def share_cell(share: Share | None) -> str:
    """``52.0% [47.1–56.9] n=400``; an en dash for no data."""
    if share is None:
        return "–"
    if share.value is None or share.ci95 is None:
        return "– n=0"
    low, high = share.ci95
    return f"{pct(share.value)} [{100 * low:.1f}–{100 * high:.1f}] n={share.total}"


def difference_cell(j: Judgement) -> str:
    """``-12.0 pts [-18.7, -5.1]`` in percentage points; an en dash when there is none."""
    if j.difference is None:
        return "–"
    d, (low, high) = j.difference
    return f"{100 * d:+.1f} pts [{100 * low:+.1f}, {100 * high:+.1f}]"


def share_words(share: Share) -> str:
    return "no data" if share.value is None else f"{pct(share.value)} of {share.total}"


def reason(j: Judgement) -> str:
    """``candidate 52.0% of 400, baseline 64.0% of 380: worse by 12.0 points, ...``."""
    sides = f"candidate {share_words(j.candidate)}"
    clauses = [_against_objective(j)]
    if j.baseline is not None:
        sides += f", baseline {share_words(j.baseline)}"
        clauses.append(_against_baseline(j))
    return f"{sides}: {'; '.join(clauses)}"


def _bound_words(objective: Objective) -> str:
    if objective.min is not None:
        return f"the {pct(objective.min)} minimum"
    assert objective.max is not None
    return f"the {pct(objective.max)} maximum"


def _against_objective(j: Judgement) -> str:
    o, share = j.objective, j.candidate
    bound = _bound_words(o)
    if share.total < o.min_events or share.ci95 is None:
        return f"too few to judge against {bound} ({share.total} < min_events {o.min_events})"
    low, high = (f"{100 * x:.1f}%" for x in share.ci95)
    interval = f"95% interval {low} to {high}"
    if j.objective_verdict == "met":
        return f"meets {bound} ({interval})"
    if j.objective_verdict == "breached":
        side = "below" if o.min is not None else "above"
        return f"{side} {bound} ({interval})"
    return f"not clearly on either side of {bound} ({interval})"


def _change(j: Judgement) -> str:
    assert j.difference is not None
    d = j.difference[0]
    worse = -d if j.objective.min is not None else d
    if worse == 0:
        return "unchanged"
    direction = "worse" if worse > 0 else "better"
    return f"{direction} by {100 * abs(d):.1f} points"


def _against_baseline(j: Judgement) -> str:
    o = j.objective
    tolerance = tolerance_words(o)
    assert j.baseline is not None
    if j.difference is None or min(j.candidate.total, j.baseline.total) < o.min_events:
        return f"too few to compare with the baseline (min_events {o.min_events})"
    change = _change(j)
    if j.baseline_verdict == "regression":
        return f"{change}, more than the {tolerance}"
    if j.baseline_verdict == "pass":
        return f"{change}, within the {tolerance}"
    return f"{change}; a worsening beyond the {tolerance} can be neither ruled out nor confirmed"
