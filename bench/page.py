"""Overview page load time (GET /) for each window, against a large store.

    .venv/bin/python bench/page.py                       # 1M events
    .venv/bin/python bench/page.py --sizes 10000 10000000 --loads 30

The store is the one bench/scrape.py builds (`demo generate --seed 7`, then `ingest`) in
bench/out/scrape/, reused while its `.done` marker exists. Its week of demo events ends on
2026-11-08, so each window is asked to end there (`?end=`), where the data is; a request
without `end` (the last 24 h until now) is timed too. Each load is the whole HTML page,
charts included, over one keep-alive connection after a few warm-up loads. The first
`serve` of a store built before the hourly totals existed counts them from every fact:
that shows as "ready s". It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scrape import WORK, build
from service import percentile, serving, write_config

END = "2026-11-08T00:00:00Z"
REQUESTS = {
    "1h": {"window": "1h", "end": END},
    "24h": {"window": "24h", "end": END},
    "7d": {"window": "7d", "end": END},
    "24h until now": {},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--loads", type=int, default=50, help="timed loads of each window")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"\nGET / (the overview page): {os.cpu_count()} cores, SQLite, {args.loads} loads each")
    print(f"{'events':>12} {'ready s':>8} {'window':>14} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for size in args.sizes:
        measure(size, args.loads)


def measure(events: int, loads: int) -> None:
    database = WORK / f"store-{events}.db"
    config = write_config(WORK / f"store-{events}.yaml", f"sqlite:///{database}")
    build(events, config, database)
    began = time.perf_counter()
    with serving(config, WORK / f"page-{events}.log", timeout=3600) as base:
        ready = time.perf_counter() - began
        with httpx.Client(base_url=base, timeout=600) as client:
            for name, params in REQUESTS.items():
                for _ in range(3):
                    _load(client, params)
                times = [_load(client, params) for _ in range(loads)]
                print(
                    f"{events:>12,} {ready:>8.1f} {name:>14} {percentile(times, 0.5):>8.1f}"
                    f" {percentile(times, 0.99):>8.1f} {max(times):>8.1f}",
                    flush=True,
                )


def _load(client: httpx.Client, params: dict[str, str]) -> float:
    began = time.perf_counter()
    answer = client.get("/", params=params)
    elapsed = (time.perf_counter() - began) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"GET / {params}: {answer.status_code} {answer.text[:300]}")
    return elapsed


if __name__ == "__main__":
    main()
