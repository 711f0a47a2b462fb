"""`touchmetrics ingest` of a 1M-event JSON Lines file into a fresh PostgreSQL database.

    .venv/bin/python bench/pg_ingest.py                      # 1M events, best of 2
    .venv/bin/python bench/pg_ingest.py --events 200000 --runs 1
    .venv/bin/python bench/compare.py pg_ingest --before ../tm-before -- --runs 1
    .venv/bin/python bench/pg_ingest.py --postgres postgresql+psycopg://postgres@host/postgres

The file comes from `touchmetrics demo generate --seed 1`, cached in bench/out/. Each run
creates its own database on the server (dropped afterwards), upgrades its schema untimed,
then times the import alone. It prints events/s and wall seconds; it asserts nothing (the
issue's target: 40,000 events/s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codebase import add_comparison_arguments, write_figures
from measure import OUT, Run, generated, ingest_into, line_count
from service import postgres_database

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the file")
    parser.add_argument("--runs", type=int, default=2, help="imports (the best one shown)")
    parser.add_argument("--postgres", metavar="URL", default=SERVER, help="server to use")
    add_comparison_arguments(parser)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = generated(args.events)
    events = line_count(source)
    runs = [one_import(source, args.postgres, args.code) for _ in range(args.runs)]
    for number, done in enumerate(runs, 1):
        print(f"  run {number}: {done.seconds:.1f} s, {events / done.seconds:,.0f} events/s",
              file=sys.stderr)  # fmt: skip
    best = min(r.seconds for r in runs)
    print(f"\nPostgreSQL ingest of {events:,} events ({source.name}), best of {len(runs)}")
    print(f"{'wall s':>8} {'events/s':>10} {'peak MiB':>9}")
    print(f"{best:>8.1f} {events / best:>10,.0f} {max(r.peak_mib for r in runs):>9.0f}")
    write_figures(args.figures, {"postgresql ingest events/s": events / best, "wall s": best})


def one_import(source: Path, server: str, code: Path) -> Run:
    with postgres_database(server, "tm_pg_ingest") as url:
        return ingest_into(source, url, code)


if __name__ == "__main__":
    main()
