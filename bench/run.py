"""Benchmarks of the foundation issue, run on the real command line (`make bench`).

    .venv/bin/python bench/run.py                 # 100k and 1M events, median of 3 runs
    .venv/bin/python bench/run.py --quick         # 10k and 100k events, 1 run (or BENCH_QUICK=1)
    .venv/bin/python bench/run.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Scenarios: `touchmetrics ingest` into a fresh SQLite file (schema made beforehand by
`touchmetrics db upgrade`, not timed), `touchmetrics report` straight from the file, and
with --postgres the same ingest into a throwaway database on that server. Inputs come from
`touchmetrics demo generate --seed 1` into bench/out/. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import CONFIG, OUT, Figures, Run, generated, ingest_into, line_count, run
from service import postgres_database

SCENARIOS = ["ingest", "report"]
Row = tuple[str, int, Figures]  # scenario, events in the input, figures


def main() -> None:
    args = _arguments()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    sizes = args.sizes or ([10_000, 100_000] if quick else [100_000, 1_000_000])
    runs = args.runs or (1 if quick else 3)
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for size in sizes:
        path = generated(size)
        events = line_count(path)
        if "ingest" in args.only:
            rows.append(("ingest sqlite", events, _repeat(runs, partial(_ingest_sqlite, path))))
        if "report" in args.only:
            rows.append(("report file", events, _repeat(runs, partial(_report_file, path))))
        if args.postgres:
            with postgres_database(args.postgres) as url:
                figures = _repeat(runs, partial(_ingest_postgres, path, url))
            rows.append(("ingest postgresql", events, figures))
    _print_table(rows, runs)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, one run each")
    parser.add_argument("--runs", type=int, help="runs per scenario (median is shown)")
    parser.add_argument("--sizes", type=int, nargs="+", help="event counts to generate")
    parser.add_argument("--postgres", metavar="URL", help="also ingest into PostgreSQL at URL")
    parser.add_argument(
        "--only", nargs="*", choices=SCENARIOS, default=SCENARIOS, help="SQLite scenarios to run"
    )
    return parser.parse_args()


def _repeat(times: int, once: Callable[[], Run]) -> Figures:
    figures = Figures()
    for _ in range(times):
        figures.runs.append(once())
        print(f"  {figures.runs[-1].seconds:7.2f} s", file=sys.stderr, flush=True)
    return figures


def _ingest_sqlite(path: Path) -> Run:
    db = OUT / "ingest.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return ingest_into(path, f"sqlite:///{db}")


def _ingest_postgres(path: Path, url: str) -> Run:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:  # a fresh schema for each run
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return ingest_into(path, url)


def _report_file(path: Path) -> Run:
    print(f"report from {path.name}", file=sys.stderr, flush=True)
    args = ["report", "--config", str(CONFIG), "--format", "json", str(path)]
    result = run(args, {"TOUCHMETRICS_DATABASE_URL": "sqlite:///" + str(OUT / "unused.db")})
    json.loads(result.stdout)  # a whole report came out
    return result


def _print_table(rows: list[Row], runs: int) -> None:
    print(f"\ntouchmetrics benchmarks: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"wall time is the median of {runs} run(s); peak RSS is the largest of them\n")
    header = (
        f"{'scenario':<18} {'events':>10} {'runs':>4} {'median s':>9} {'events/s':>10}"
        f" {'peak RSS MiB':>13}"
    )
    print(header)
    print("-" * len(header))
    for scenario, events, figures in rows:
        rate = events / figures.seconds
        print(
            f"{scenario:<18} {events:>10,} {len(figures.runs):>4} {figures.seconds:>9.2f}"
            f" {rate:>10,.0f} {figures.peak_mib:>13.1f}"
        )


if __name__ == "__main__":
    main()
