"""Load: concurrent writers over HTTP with a scraper every 100 ms, on SQLite and PostgreSQL.

    .venv/bin/python bench/load.py                     # both stores, 120 s each
    .venv/bin/python bench/load.py --duration 20 --stores postgresql
    .venv/bin/python bench/load.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

For each store, `touchmetrics serve` runs on a fresh database (a SQLite file in
bench/out/load/, or a throwaway database on the PostgreSQL server). One process generates
the demo stream and deals its batches round robin to the writer processes, so the parts of
one conversation arrive through different writers, out of order; every event is posted once.
A scraper process GETs /metrics every 100 ms. At the end it prints, per store: POSTs, 5xx
answers, events lost (accepted in answers but not stored), counter decreases seen between
consecutive scrapes (any counter or histogram series), and scrape p50/p99. It prints
figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import OUT, percentile, postgres_database, run_cli, serving, write_config

WORK = OUT / "load"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NDJSON = {"Content-Type": "application/x-ndjson"}
COUNTER_TYPES = ("counter", "histogram")


@dataclass(slots=True)
class Writes:
    """What the writers saw."""

    posts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0  # connection errors and client timeouts
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # 5xx messages

    def merge(self, other: Writes) -> None:
        self.posts += other.posts
        self.statuses.update(other.statuses)
        self.no_answer += other.no_answer
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.errors.update(other.errors)


@dataclass(slots=True)
class Scrapes:
    """What the scraper saw."""

    latencies_ms: list[float] = field(default_factory=list)
    failed: int = 0
    decreases: Counter[str] = field(default_factory=Counter)  # series: times it went down


@dataclass(slots=True)
class Outcome:
    store: str
    seconds: float
    writes: Writes
    scrapes: Scrapes
    stored: int


def main() -> None:
    args = _arguments()
    WORK.mkdir(parents=True, exist_ok=True)
    outcomes = [run_store(store, args) for store in args.stores]
    print_table(outcomes, args)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load per store")
    parser.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])  # fmt: skip
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer processes")
    parser.add_argument("--batch", type=int, default=100, help="events per POST")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between scrapes")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server URL")
    return parser.parse_args()


def run_store(store: str, args: argparse.Namespace) -> Outcome:
    print(f"{store}: {args.writers} writers for {args.duration:g} s", file=sys.stderr, flush=True)
    with _database(store, args.postgres) as url:
        config = write_config(WORK / f"{store}.yaml", url)
        run_cli(["db", "upgrade", "--config", str(config)])
        with serving(config, WORK / f"serve-{store}.log") as base:
            began = time.perf_counter()
            writes, scrapes = _load(base, args)
            seconds = time.perf_counter() - began
        stored = _stored_events(url)
    return Outcome(store, seconds, writes, scrapes, stored)


@contextmanager
def _database(store: str, server_url: str) -> Iterator[str]:
    """A fresh, empty database of the store, dropped (PostgreSQL) afterwards."""
    if store == "sqlite":
        for old in WORK.glob("load.db*"):
            old.unlink()
        yield f"sqlite:///{WORK / 'load.db'}"
        return
    with postgres_database(server_url, "tm_load") as url:
        yield url


def _stored_events(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
    finally:
        engine.dispose()


def _load(base: str, args: argparse.Namespace) -> tuple[Writes, Scrapes]:
    """Run the writers and the scraper for the duration; return what they saw."""
    context = mp.get_context("spawn")  # no inherited sockets or threads
    bodies: mp.Queue[bytes | None] = context.Queue(maxsize=8 * args.writers)
    results: mp.Queue[object] = context.Queue()
    deadline = time.time() + args.duration
    workers = [
        context.Process(target=_writer, args=(base, bodies, results, deadline))
        for _ in range(args.writers)
    ]
    workers.append(context.Process(target=_scraper, args=(base, results, deadline, args.interval)))
    for worker in workers:
        worker.start()
    _deal(bodies, args.batch, deadline, args.writers)
    writes, scrapes = Writes(), Scrapes()
    for _ in workers:
        found = results.get()
        if isinstance(found, Writes):
            writes.merge(found)
        elif isinstance(found, Scrapes):
            scrapes = found
    for worker in workers:
        worker.join()
    return writes, scrapes


def _deal(bodies: mp.Queue[bytes | None], batch: int, deadline: float, writers: int) -> None:
    """Cut the demo stream into NDJSON bodies until the deadline; then tell writers to stop."""
    from collector.demo import DemoSpec, generate

    lines: list[bytes] = []
    for line in generate(DemoSpec(seed=11, days=60), min_events=50_000_000):
        lines.append(line.encode())
        if len(lines) < batch:
            continue
        body, lines = b"".join(lines), []
        while time.time() < deadline:
            try:
                bodies.put(body, timeout=0.2)
                break
            except queue.Full:
                continue
        else:
            break
    for _ in range(writers):
        bodies.put(None)


def _writer(
    base: str, bodies: mp.Queue[bytes | None], results: mp.Queue[object], deadline: float
) -> None:
    seen = Writes()
    with httpx.Client(base_url=base, timeout=120, headers=NDJSON) as client:
        while (body := bodies.get()) is not None:
            if time.time() >= deadline:
                continue  # drain until told to stop
            seen.posts += 1
            try:
                answer = client.post("/api/v1/events", content=body)
            except httpx.HTTPError:
                seen.no_answer += 1
                continue
            seen.statuses[answer.status_code] += 1
            if answer.status_code == 200:
                got = answer.json()
                seen.accepted += got["accepted"]
                seen.duplicates += got["duplicates"]
                seen.rejected += len(got["rejected"])
            elif answer.status_code >= 500:
                seen.errors[answer.text[:160]] += 1
    results.put(seen)


def _scraper(base: str, results: mp.Queue[object], deadline: float, interval: float) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    seen = Scrapes()
    last: dict[str, float] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        next_at = time.perf_counter()
        while time.time() < deadline:
            began = time.perf_counter()
            try:
                answer = client.get("/metrics")
            except httpx.HTTPError:
                seen.failed += 1
                continue
            seen.latencies_ms.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                seen.failed += 1
            else:
                for family in text_string_to_metric_families(answer.text):
                    if family.type in COUNTER_TYPES:
                        _compare(family.samples, last, seen.decreases)
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
    results.put(seen)


def _compare(samples: list[object], last: dict[str, float], decreases: Counter[str]) -> None:
    for sample in samples:
        name, labels, value = sample[0], sample[1], sample[2]  # type: ignore[index]
        if name.endswith("_created"):
            continue
        key = name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        if value < last.get(key, value):
            decreases[key] += 1
        last[key] = value


def print_table(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    print(
        f"\nLoad: {os.cpu_count()} cores, {args.writers} writer processes posting"
        f" {args.batch} distinct events per POST (NDJSON) for {args.duration:g} s,"
        f" a scrape every {args.interval * 1000:g} ms\n"
    )
    header = (
        f"{'store':<11} {'POSTs':>7} {'5xx':>5} {'no answer':>9} {'events/s':>9}"
        f" {'lost':>5} {'decreases':>9} {'scrapes':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        w, s = o.writes, o.scrapes
        fives = sum(n for code, n in w.statuses.items() if code >= 500)
        ms = s.latencies_ms or [0.0]
        rate = w.accepted / o.seconds
        print(
            f"{o.store:<11} {w.posts:>7,} {fives:>5} {w.no_answer:>9} {rate:>9,.0f}"
            f" {w.accepted - o.stored:>5} {sum(s.decreases.values()):>9} {len(s.latencies_ms):>7}"
            f" {percentile(ms, 0.5):>7.1f} {percentile(ms, 0.99):>7.1f} {max(ms):>7.1f}"
        )
    print()
    for o in outcomes:
        w, s = o.writes, o.scrapes
        print(
            f"{o.store}: {w.accepted:,} accepted in answers, {o.stored:,} stored,"
            f" {w.duplicates} duplicates, {w.rejected} rejected, statuses {dict(w.statuses)},"
            f" {s.failed} failed scrapes, {len(s.decreases)} series went down"
        )
        for message, count in w.errors.most_common(5):
            print(f"  {count} x {message}")
        for series, count in s.decreases.most_common(5):
            print(f"  down {count} x {series}")


if __name__ == "__main__":
    main()
