"""Ingest and report of generated files, run on the real command line (the foundation issue).

    .venv/bin/python bench/ingest.py                 # 100k and 1M events, median of 3 runs
    .venv/bin/python bench/ingest.py --quick         # 10k and 100k events, 1 run (or BENCH_QUICK=1)
    .venv/bin/python bench/ingest.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

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
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codebase import add_comparison_arguments, write_figures
from measure import CONFIG, OUT, Figures, Run, generated, ingest_into, line_count, repeat, run
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
            ingest = partial(_ingest_sqlite, path, args.code)
            rows.append(("ingest sqlite", events, repeat(runs, ingest)))
        if "report" in args.only:
            report = partial(_report_file, path, args.code)
            rows.append(("report file", events, repeat(runs, report)))
        if args.postgres:
            with postgres_database(args.postgres) as url:
                figures = repeat(runs, partial(_ingest_postgres, path, url, args.code))
            rows.append(("ingest postgresql", events, figures))
    _print_table(rows, runs)
    write_figures(args.figures, _figures(rows))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, one run each")
    parser.add_argument("--runs", type=int, help="runs per scenario (median is shown)")
    parser.add_argument("--sizes", type=int, nargs="+", help="event counts to generate")
    parser.add_argument("--postgres", metavar="URL", help="also ingest into PostgreSQL at URL")
    parser.add_argument(
        "--only", nargs="*", choices=SCENARIOS, default=SCENARIOS, help="SQLite scenarios to run"
    )
    add_comparison_arguments(parser)
    return parser.parse_args()


def _ingest_sqlite(path: Path, code: Path) -> Run:
    db = OUT / "ingest.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return ingest_into(path, f"sqlite:///{db}", code)


def _ingest_postgres(path: Path, url: str, code: Path) -> Run:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:  # a fresh schema for each run
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return ingest_into(path, url, code)


def _report_file(path: Path, code: Path) -> Run:
    print(f"report from {path.name}", file=sys.stderr, flush=True)
    args = ["report", "--config", str(CONFIG), "--format", "json", str(path)]
    env = {"TOUCHMETRICS_DATABASE_URL": "sqlite:///" + str(OUT / "unused.db")}
    result = run(args, env, code=code)
    json.loads(result.stdout)  # a whole report came out
    return result


def _figures(rows: list[Row]) -> dict[str, float]:
    found: dict[str, float] = {}
    for scenario, events, figures in rows:
        found[f"{scenario} {events:,} events/s"] = round(events / figures.seconds)
        found[f"{scenario} {events:,} peak MiB"] = round(figures.peak_mib, 1)
    return found


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
