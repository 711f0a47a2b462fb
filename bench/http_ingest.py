"""HTTP ingestion benchmark: concurrent clients POSTing NDJSON batches to `touchmetrics serve`.

    .venv/bin/python bench/http_ingest.py              # 200k events, 4 clients, median of 3
    .venv/bin/python bench/http_ingest.py --quick      # 20k events, 1 run
    .venv/bin/python bench/http_ingest.py --threads 1 4 8   # compare server thread counts

Each run serves a fresh SQLite file in bench/out/http/ on a free loopback port. The bodies
are generated beforehand (not timed); the clock runs from the first POST to the last answer.
It prints figures; it asserts nothing (the issue's target: 20,000 events/s on SQLite).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import OUT, median, percentile, serving, timed_together, write_config

from collector.demo import DemoSpec, generate

WORK = OUT / "http"


@dataclass(slots=True)
class Run:
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds per request


def main() -> None:
    args = _arguments()
    events = args.events or (20_000 if args.quick else 200_000)
    runs = args.runs or (1 if args.quick else 3)
    bodies = pregenerate(events, args.batch)
    print(f"{len(bodies)} bodies of {args.batch} events ready", file=sys.stderr)
    rows = []
    for threads in args.threads:
        done = [one_run(bodies, args.batch, threads, args.clients) for _ in range(runs)]
        rows.append((threads, done))
    print_table(rows, events, args)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k events, one run")
    parser.add_argument("--events", type=int, help="events posted per run (default 200k)")
    parser.add_argument("--runs", type=int, help="runs per thread count (median shown)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--batch", type=int, default=1000, help="events per POST")
    parser.add_argument("--threads", type=int, nargs="+", default=[8], help="server http_threads")
    return parser.parse_args()


def pregenerate(events: int, batch: int) -> list[bytes]:
    """NDJSON bodies of `batch` demo events each, `events` in all."""
    lines = []
    for line in generate(DemoSpec(seed=5, days=30), min_events=events):
        lines.append(line.encode())
        if len(lines) == events:
            break
    return [b"".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]


def one_run(bodies: list[bytes], batch: int, threads: int, clients: int) -> Run:
    """Serve a fresh database and post every body once, `clients` at a time."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    config = write_config(
        WORK / "touchmetrics.yaml", f"sqlite:///{WORK / 'ingest.db'}", http_threads=threads
    )
    with serving(config, WORK / "serve.log") as base:
        run = post_all(base, bodies, clients)
    rate = len(bodies) * batch / run.seconds
    print(
        f"  {threads} server threads: {run.seconds:6.2f} s, {rate:,.0f} events/s", file=sys.stderr
    )
    return run


def post_all(base: str, bodies: list[bytes], clients: int) -> Run:
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    seconds = timed_together([partial(_client, base, work, mine) for mine in latencies])
    everything = [s for mine in latencies for s in mine]
    if len(everything) != len(bodies):
        raise SystemExit(f"only {len(everything)} of {len(bodies)} requests succeeded")
    return Run(seconds, everything)


def _client(
    base: str, work: queue.SimpleQueue[bytes], latencies: list[float], start: threading.Barrier
) -> None:
    headers = {"Content-Type": "application/x-ndjson"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        client.get("/healthz")  # connect before the clock starts
        start.wait()
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            began = time.perf_counter()
            answer = client.post("/api/v1/events", content=body)
            latencies.append(time.perf_counter() - began)
            _check(answer, body.count(b"\n"))


def _check(answer: httpx.Response, expected: int) -> None:
    if answer.status_code != 200:
        print(f"POST failed: {answer.status_code} {answer.text[:300]}", file=sys.stderr)
        return
    got = answer.json()
    if got["accepted"] + got["duplicates"] != expected or got["rejected"]:
        print(f"unexpected answer: {str(got)[:300]}", file=sys.stderr)


def print_table(rows: list[tuple[int, list[Run]]], events: int, args: argparse.Namespace) -> None:
    print(
        f"\nHTTP ingestion into SQLite: {os.cpu_count()} cores, {args.clients} clients,"
        f" {args.batch} events per POST (NDJSON), {events:,} events per run"
    )
    print("events/s: median of the runs (min-max); latency: every request of every run\n")
    header = (
        f"{'server threads':>14} {'runs':>4} {'events/s':>10} {'min-max':>17}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for threads, runs in rows:
        rates = [events / r.seconds for r in runs]
        latencies = [s * 1000 for r in runs for s in r.latencies]
        spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
        print(
            f"{threads:>14} {len(runs):>4} {median(rates):>10,.0f} {spread:>17}"
            f" {percentile(latencies, 0.5):>8.1f} {percentile(latencies, 0.99):>8.1f}"
            f" {max(latencies):>8.1f}"
        )


if __name__ == "__main__":
    main()
