"""The evaluation steps of the promtool test files.

promtool evaluates every rule at one step per test file and loads at most about ten thousand
samples per query. A step must be short next to a window (a few samples in it) and long
next to the longest (few enough), so objectives whose windows differ by far more than
``SPREAD`` get a test file of their own.
"""

from __future__ import annotations

from functools import reduce
from math import gcd

from collector.objectives import Objective
from exporters.rules.promql import duration_ms

SPREAD = 48  # the longest window of a test file over its shortest
MAX_STEPS = 240  # samples in the longest window of a file


def step_classes(objectives: list[Objective]) -> list[tuple[int, list[Objective]]]:
    """Objectives grouped by the evaluation step of their test file, shortest windows first.

    A file's step is at most a quarter of its shortest window (half, if need be), and every
    window of every objective is either a multiple of it, so that it begins on a sample, or
    shorter than it, so that its rules see one sample and stay empty. It divides `for` too
    when that costs few samples. Where no step fits, the windows join the previous file.
    """
    if not objectives:
        return []
    windows = sorted({window_ms(o) for o in objectives})
    classes: list[tuple[int, list[int]]] = []
    i = 0
    while i < len(windows):
        j = i
        while j + 1 < len(windows) and windows[j + 1] <= SPREAD * windows[i]:
            j += 1
        members = windows[i : j + 1]
        fors = [for_ms(o) for o in objectives if window_ms(o) in members and for_ms(o)]
        step = _step(windows, members, fors)
        if step is None and classes:
            classes[-1][1].extend(members)
        else:
            classes.append((step or _step(windows, members, [], budget=False) or 1, members))
        i = j + 1
    return [(step, [o for o in objectives if window_ms(o) in members]) for step, members in classes]


def _step(
    windows: list[int], members: list[int], fors: list[int], budget: bool = True
) -> int | None:
    """The largest step that fits, trying in turn: with `for`, without it, half windows."""
    shortest, longest = members[0], members[-1]
    common = reduce(gcd, [w for w in windows if w >= shortest])
    for share, base in ((4, reduce(gcd, fors, common)), (4, common), (2, common)):
        for step in sorted(_divisors(base), reverse=True):
            if step > shortest // share:
                continue
            if budget and longest // step > MAX_STEPS:
                break  # smaller steps only hold more samples
            if all(w < step or w % step == 0 for w in windows):
                return step
    return None


def _divisors(n: int) -> set[int]:
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return {*small, *(n // d for d in small)}


def window_ms(o: Objective) -> int:
    return duration_ms(o.window_seconds)


def for_ms(o: Objective) -> int:
    return duration_ms(o.for_seconds)
