"""CPU cost of reading and validating JSON Lines, the step the input limits add work to.

    .venv/bin/python bench/validate.py                # 100k generated events, best of 7
    .venv/bin/python bench/validate.py --events 1000000 --repeat 5

Reads a `touchmetrics demo generate --seed 1` log with the JSON Lines reader and validates
every record into batches, as `ingest` does before the database. It times CPU seconds of
this process (not wall time, which other work on a shared machine inflates) and prints the
best run. To compare with another checkout, run it from outside the repository with
PYTHONPATH pointing at that checkout. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import CONFIG, generated

from collector.batch import Batch, add_record
from collector.schema import Validator
from collector.settings import load_settings
from collector.sources.jsonl import JsonLinesReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to generate")
    parser.add_argument("--repeat", type=int, default=7, help="runs; the best is shown")
    args = parser.parse_args()
    path = generated(args.events)
    validator = Validator(load_settings(CONFIG))
    best, accepted = min(_once(path, validator) for _ in range(args.repeat))
    import collector

    print(f"code: {Path(collector.__file__).parent}")
    print(f"read and validate {path.name}: {accepted:,} events accepted")
    print(f"best of {args.repeat}: {best:.3f} CPU s, {accepted / best:,.0f} events/s")


def _once(path: Path, validator: Validator) -> tuple[float, int]:
    started = time.process_time()
    accepted = 0
    batch = Batch("bench")
    for record in JsonLinesReader().records(path):
        add_record(batch, validator, record)
        if len(batch.events) >= 5_000:
            accepted += len(batch.events)
            batch = Batch("bench")
    accepted += len(batch.events)
    return time.process_time() - started, accepted


if __name__ == "__main__":
    main()
