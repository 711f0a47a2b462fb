"""How long a report, the HTTP summary and the objective evaluation take over a stored window.

    .venv/bin/python bench/windows.py                       # 10M events over 30 days
    .venv/bin/python bench/windows.py --events 1000000 --runs 3
    .venv/bin/python bench/windows.py --events 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/tm_windows_bench

The input comes from `touchmetrics demo generate --events N --days 30` (the demo generator,
not facts written directly) and is imported once with `touchmetrics ingest` into
bench/out/windows-<events>.db (or the PostgreSQL database --url names, when it has no
events yet), kept for later runs. Each run first brings the store to the
current schema with `db upgrade` and prints how long that took (a new index is built then).
To compare two versions of the code back to back, run the older first with `--store` (or
`--url`) naming the same store: the newer then upgrades it.

Timed, median of --runs: `touchmetrics report --format json` (a whole process, as a user
runs it) and GET /api/v1/summary from a running `touchmetrics serve`, each for the middle
day and for all time; and `evaluate_store` of ten objectives (bench/evaluate.py's) over a
day and over the whole span. Each report's JSON digest is printed, so two versions can be
seen to answer byte for byte the same. It prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import create_engine, inspect, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evaluate import OBJECTIVES
from measure import OUT, run
from service import serving, write_config

from collector.database import open_store
from collector.demo import DemoSpec
from collector.evaluation import evaluate_store
from collector.metrics import Window
from collector.settings import load_settings, parse_settings

DAY = 86_400_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median shown)")
    parser.add_argument("--store", type=Path, help="the SQLite file (bench/out/windows-N.db)")
    parser.add_argument("--url", help="a PostgreSQL database instead, built if it has no events")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = args.store or OUT / f"windows-{args.events}.db"
    url = args.url or f"sqlite:///{path.resolve()}"
    config = write_config(
        OUT / f"windows-{args.events}{'-pg' if args.url else ''}.yaml",
        url,
        objectives={name: {**spec, "window": "1d"} for name, spec in OBJECTIVES.items()},
        alert_interval_seconds=86_400,  # no alert job competing with the timed requests
    )
    if _empty(url):
        source = _generated(args.events, args.days)
        run(["db", "upgrade", "--config", str(config)])
        _timed("ingest", lambda: run(["ingest", "--config", str(config), str(source)]))
    _timed("db upgrade", lambda: run(["db", "upgrade", "--config", str(config)]))
    start = DemoSpec().start_us + args.days // 2 * DAY
    windows = {"one day": Window(start, start + DAY), "all time": Window()}
    rows = [_report(config, name, w, args.runs) for name, w in windows.items()]
    rows += _summaries(config, windows, args.runs)
    rows += _evaluations(config, args.days, args.runs)
    store = "PostgreSQL" if args.url else "SQLite"
    print(f"\n{args.events:,} events requested over {args.days} days, {store}, "
          f"median of {args.runs} runs\n")  # fmt: skip
    print(f"{'what':<30} {'window':<9} {'seconds':>8}  digest")
    for what, window, seconds, digest in rows:
        print(f"{what:<30} {window:<9} {seconds:>8.2f}  {digest}")


def _empty(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (
                not inspect(conn).has_table("events")
                or not conn.execute(text("SELECT 1 FROM events LIMIT 1")).first()
            )
    finally:
        engine.dispose()


def _generated(events: int, days: int) -> Path:
    path = OUT / f"windows-events-{events}-{days}d.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        generate = ["demo", "generate", "--events", str(events), "--days", str(days)]
        _timed("generate", lambda: run([*generate, "--seed", "1", "-o", str(partial)]))
        partial.rename(path)
    return path


def _report(config: Path, name: str, window: Window, runs: int) -> tuple[str, str, float, str]:
    bounds = window.as_dict()
    args = ["report", "--config", str(config), "--format", "json"]
    for flag, bound in (("--from", bounds["from"]), ("--to", bounds["to"])):
        if bound is not None:
            args += [flag, bound]
    done = [run(args) for _ in range(runs)]
    digests = {hashlib.sha256(d.stdout.encode()).hexdigest()[:12] for d in done}
    seconds = statistics.median(d.seconds for d in done)
    return "touchmetrics report", name, seconds, " ".join(sorted(digests))


def _summaries(
    config: Path, windows: dict[str, Window], runs: int
) -> list[tuple[str, str, float, str]]:
    rows = []
    with serving(config, OUT / "windows-serve.log", timeout=1800) as base:
        for name, window in windows.items():
            params = {k: v for k, v in window.as_dict().items() if v is not None}

            def once(params: dict[str, str] = params) -> None:
                answer = httpx.get(f"{base}/api/v1/summary", params=params, timeout=600)
                answer.raise_for_status()

            rows.append(("GET /api/v1/summary", name, _median(runs, once), ""))
    return rows


def _evaluations(config: Path, days: int, runs: int) -> list[tuple[str, str, float, str]]:
    base = load_settings(config, env={}).model_dump(by_alias=True)
    end = DemoSpec().start_us + days * DAY
    rows = []
    for name, window in (("one day", "1d"), ("all time", f"{days}d")):
        objectives = {k: {**spec, "window": window} for k, spec in OBJECTIVES.items()}
        settings = parse_settings({**base, "objectives": objectives})
        with open_store(settings) as store:
            judged = list(settings.objectives.values())
            seconds = _median(runs, partial(evaluate_store, store, judged, end))
        rows.append((f"evaluate_store, {len(judged)} objectives", name, seconds, ""))
    return rows


def _median(runs: int, once: Callable[[], object]) -> float:
    return statistics.median(_seconds(once) for _ in range(runs))


def _seconds(once: Callable[[], object]) -> float:
    started = time.perf_counter()
    once()
    return time.perf_counter() - started


def _timed(what: str, once: Callable[[], object]) -> None:
    print(f"{what}: {_seconds(once):.1f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
