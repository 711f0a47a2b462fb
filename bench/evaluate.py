"""How long the alert evaluation of 10 objectives takes on a store of 1M events.

    .venv/bin/python bench/evaluate.py                      # SQLite, 1M events, 5 runs each
    .venv/bin/python bench/evaluate.py --events 100000 --runs 3
    .venv/bin/python bench/evaluate.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The store is built once with `touchmetrics demo generate` and `touchmetrics ingest` into
bench/out/evaluate-<events>.db (kept for later runs; with --postgres, into a throwaway
database on that server). Ten objectives cover every indicator and grouping; each scenario
gives all ten the same window, ending at the end of the generated week, so the facts read
are those of that window. Timed: the evaluation alone (`evaluate_store`) and the whole alert
job (`evaluate_alerts`: evaluation and the state writes). It prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import CONFIG, OUT, generated, run
from service import postgres_database

from collector.alerts import evaluate_alerts
from collector.database import open_store
from collector.demo import DemoSpec
from collector.evaluation import evaluate_store
from collector.settings import Settings, load_settings, parse_settings
from collector.store import Store

DAY = 86_400_000_000
WINDOWS = ("1h", "1d", "7d")
OBJECTIVES = {
    "containment": {"indicator": "resolution_rate", "kind": "ai", "min": 0.6},
    "escalations": {"indicator": "escalation_rate", "kind": "ai", "by": "kind", "max": 0.35},
    "abandonment": {"indicator": "abandonment_rate", "by": "all", "max": 0.1},
    "csat": {"indicator": "csat", "by": "kind", "min": 0.8},
    "csat-chat": {"indicator": "csat", "channels": ["bot-chat", "chat"], "min": 0.7},
    "first-response": {"indicator": "first_response", "kind": "human", "within_seconds": 120,
                       "min": 0.9},
    "bot-first-response": {"indicator": "first_response", "kind": "ai", "within_seconds": 5,
                           "min": 0.95},
    "replies": {"indicator": "response", "within_seconds": 300, "min": 0.9},
    "resolution": {"indicator": "resolution", "within_seconds": 3600, "by": "kind", "min": 0.8},
    "email-resolution": {"indicator": "resolution", "channels": ["email"],
                         "within_seconds": 86400, "min": 0.9},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (median shown)")
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL at URL")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = generated(args.events)
    rows = [("sqlite", _measure(_sqlite_store(source, args.events), args.runs))]
    if args.postgres:
        with postgres_database(args.postgres) as url:
            _ingest(source, url)
            rows.append(("postgresql", _measure(url, args.runs)))
    print(f"\nevaluation of {len(OBJECTIVES)} objectives, {args.events:,} events generated, "
          f"median of {args.runs} runs\n")  # fmt: skip
    print(f"{'store':<11} {'window':>6} {'facts read':>11} {'evaluate s':>11} {'alert job s':>12}")
    for store, figures in rows:
        for window, facts, evaluation, job in figures:
            print(f"{store:<11} {window:>6} {facts:>11,} {evaluation:>11.3f} {job:>12.3f}")


def _sqlite_store(source: Path, events: int) -> str:
    path = OUT / f"evaluate-{events}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        _ingest(source, url)
    return url


def _ingest(source: Path, url: str) -> None:
    env = {"TOUCHMETRICS_DATABASE_URL": url}
    print(f"building the store from {source.name}", file=sys.stderr, flush=True)
    run(["db", "upgrade", "--config", str(CONFIG)], env)
    run(["ingest", "--config", str(CONFIG), "--json", str(source)], env)


def _measure(url: str, runs: int) -> list[tuple[str, int, float, float]]:
    # Half a day before the generated week ends, so even a 1h window is full of traffic.
    now = DemoSpec().start_us + 13 * DAY // 2
    figures = [_scenario(url, window, runs, now) for window in WINDOWS]
    return figures


def _scenario(url: str, window: str, runs: int, now: int) -> tuple[str, int, float, float]:
    with _store(url, window) as store:
        objectives = list(store.settings.objectives.values())
        span = int(objectives[0].window_seconds * 1_000_000)
        facts = sum(1 for _ in store.facts(now - span, now))
        evaluation = _median(runs, lambda: evaluate_store(store, objectives, now))
        minutes = iter(range(1, 10_000))
        # Each run a minute later, as the scheduler would: the states move forward.
        job = _median(runs, lambda: evaluate_alerts(store, now + next(minutes) * 60_000_000))
    print(f"  {window}: {evaluation:.3f} s, job {job:.3f} s", file=sys.stderr, flush=True)
    return window, facts, evaluation, job


@contextmanager
def _store(url: str, window: str) -> Iterator[Store]:
    base: Settings = load_settings(CONFIG, env={})
    objectives = {
        name: {**spec, "window": window, "for": "0s"} for name, spec in OBJECTIVES.items()
    }
    data = {**base.model_dump(by_alias=True), "database_url": url, "objectives": objectives}
    with open_store(parse_settings(data), auto_upgrade=True) as store:
        yield store


def _median(runs: int, once: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        once()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
