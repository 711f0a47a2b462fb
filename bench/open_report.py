"""`touchmetrics report` from a stored log (the summary): time and peak memory (printed).

    .venv/bin/python bench/open_report.py                 # 1M events, median of 3 runs
    .venv/bin/python bench/open_report.py --events 100000 --runs 1

Ingests `demo generate --seed 1` into a fresh SQLite file in bench/out/open/ (timed once),
then times `report` from the store: all time by channel, and a week ending 12 hours
before the last event by channel and by topic (its `open` is counted at the window's end).
Run it on two versions back to back to compare them. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import CONFIG, OUT, Figures, generated, run

HOUR = 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    log = generated(args.events)
    db = OUT / "open" / "report.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {"TOUCHMETRICS_DATABASE_URL": f"sqlite:///{db}"}
    run(["db", "upgrade", "--config", str(CONFIG)], env)
    ingest = run(["ingest", "--config", str(CONFIG), "--json", str(log)], env)
    print(f"ingest {log.name}: {ingest.seconds:.1f} s", flush=True)
    last = max(_seconds(json.loads(line)["timestamp"]) for line in _tail(log))
    end = _iso(last - 12 * HOUR)
    begin = _iso(last - 7 * 24 * HOUR - 12 * HOUR)
    scenarios = {
        "all time, by channel": [],
        "a week to 12 h before the end, by channel": ["--from", begin, "--to", end],
        "the same week, by topic": ["--from", begin, "--to", end, "--group-by", "topic"],
    }
    for name, extra in scenarios.items():
        figures = Figures()
        for _ in range(args.runs):
            command = ["report", "--config", str(CONFIG), "--format", "json", *extra]
            figures.runs.append(run(command, env))
        print(f"{name:45s} {figures.seconds:7.2f} s  {figures.peak_mib:7.1f} MiB", flush=True)


def _tail(path: Path, lines: int = 200) -> list[bytes]:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - 200_000))
        return [line for line in handle.read().splitlines()[1:] if line.strip()][-lines:]


def _seconds(stamp: float | str) -> float:
    if isinstance(stamp, str):
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return float(stamp)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    main()
