"""/metrics scrape latency against a small and a huge store (and one /api/v1/summary each).

    .venv/bin/python bench/scrape.py               # 10k and 10M events
    .venv/bin/python bench/scrape.py --quick       # 10k and 100k events
    .venv/bin/python bench/scrape.py --sizes 10000 1000000 --scrapes 1000

Each store is built once with the real ingest path (`touchmetrics demo generate`, then
`touchmetrics ingest`) into bench/out/scrape/ and reused while its `.done` marker exists;
10M events take several minutes and a few GB. The store is then served on a free loopback
port and scraped sequentially over one keep-alive connection. A scrape reads the rollup
rows only, so its latency must not grow with history (target: p99 under 50 ms); the
summary scans the facts, so it does. It prints figures; it asserts nothing.

The first `serve` of a store that `touchmetrics ingest` built recounts the totals from every
fact, because ingest does not record the bucket layout the totals were counted in; on 10M
events that takes minutes before the port opens. The table shows it as "ready s".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import OUT, percentile, run_cli, serving, write_config

WORK = OUT / "scrape"
SEED = 7


@dataclass(slots=True)
class Row:
    events: int
    build_seconds: float | None  # None: reused from an earlier run
    disk_mib: float
    ready_seconds: float
    scrapes_ms: list[float]
    summary_ms: float
    metrics_bytes: int


def main() -> None:
    args = _arguments()
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 10_000_000])
    WORK.mkdir(parents=True, exist_ok=True)
    rows = [measure(size, args.scrapes) for size in sizes]
    print_table(rows, args.scrapes)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k events")
    parser.add_argument("--sizes", type=int, nargs="+", help="events in each store")
    parser.add_argument("--scrapes", type=int, default=500, help="sequential GET /metrics")
    return parser.parse_args()


def measure(events: int, scrapes: int) -> Row:
    database = WORK / f"store-{events}.db"
    config = write_config(WORK / f"store-{events}.yaml", f"sqlite:///{database}")
    build_seconds = build(events, config, database)
    began = time.perf_counter()
    # Generous: the first start on a store that `ingest` built recounts the totals (see the
    # module docstring); later starts take a second.
    with serving(config, WORK / f"serve-{events}.log", timeout=3600) as base:
        ready_s = time.perf_counter() - began
        print(f"  {events:,} events: ready in {ready_s:.1f} s", file=sys.stderr, flush=True)
        scrapes_ms, summary_ms, body = _time_requests(base, scrapes, events)
    disk = sum(p.stat().st_size for p in WORK.glob(f"store-{events}.db*")) / 2**20
    return Row(events, build_seconds, disk, ready_s, scrapes_ms, summary_ms, len(body))


def _time_requests(base: str, scrapes: int, events: int) -> tuple[list[float], float, bytes]:
    with httpx.Client(base_url=base, timeout=600) as client:
        body = client.get("/metrics").content  # warm up: the connection, the first queries
        for _ in range(20):
            client.get("/metrics")
        scrapes_ms = [_timed_ms(client, "/metrics") for _ in range(scrapes)]
        print(f"  {events:,} events: timing one summary", file=sys.stderr, flush=True)
        return scrapes_ms, _timed_ms(client, "/api/v1/summary"), body


def build(events: int, config: Path, database: Path) -> float | None:
    """Generate and ingest `events` events once; the `.done` marker holds the seconds."""
    done = WORK / f"store-{events}.done"
    if done.exists() and database.exists():
        print(f"  {events:,} events: reusing {database.name}", file=sys.stderr)
        return None
    log = WORK / f"events-{events}.jsonl"
    if not log.exists():
        print(f"  {events:,} events: generating {log.name}", file=sys.stderr, flush=True)
        partial = log.with_suffix(".partial")
        run_cli(
            ["demo", "generate", "--events", str(events), "--seed", str(SEED), "-o", str(partial)]
        )
        partial.rename(log)
    for stale in WORK.glob(f"store-{events}.db*"):
        stale.unlink()
    print(f"  {events:,} events: ingesting into {database.name}", file=sys.stderr, flush=True)
    began = time.perf_counter()
    run_cli(["ingest", "--config", str(config), "--json", str(log)])
    seconds = time.perf_counter() - began
    done.write_text(f"{seconds:.0f}\n")
    return seconds


def _timed_ms(client: httpx.Client, path: str) -> float:
    began = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - began) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return elapsed


def print_table(rows: list[Row], scrapes: int) -> None:
    print(
        f"\n/metrics scrape latency: {os.cpu_count()} cores, SQLite, {scrapes} sequential scrapes"
    )
    print("over one keep-alive connection after 20 warm-up scrapes; one /api/v1/summary each\n")
    header = (
        f"{'events':>12} {'disk MiB':>9} {'build s':>8} {'ready s':>8} {'body B':>7} {'p50 ms':>7}"
        f" {'p99 ms':>7} {'max ms':>7} {'summary ms':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        built = "reused" if row.build_seconds is None else f"{row.build_seconds:.0f}"
        ms = row.scrapes_ms
        print(
            f"{row.events:>12,} {row.disk_mib:>9,.0f} {built:>8} {row.ready_seconds:>8.1f}"
            f" {row.metrics_bytes:>7,}"
            f" {percentile(ms, 0.5):>7.2f} {percentile(ms, 0.99):>7.2f} {max(ms):>7.2f}"
            f" {row.summary_ms:>11,.0f}"
        )


if __name__ == "__main__":
    main()
