"""Counters under load: writers post late, shuffled events while a scraper reads /metrics.

    .venv/bin/python bench/counters_load.py                 # SQLite: 4 writers, 120 s
    .venv/bin/python bench/counters_load.py --seconds 20    # a quick look
    .venv/bin/python bench/counters_load.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Each store is a fresh one served by `touchmetrics serve` on a free loopback port (with
--postgres, a throwaway database on that server as well as the SQLite file). The log is
`demo generate` output, shuffled within windows of 500 events so conversations arrive with
late starts and handoffs, cut into NDJSON bodies of 100 events. The writers post bodies
until the time is up (a 503 is retried after its Retry-After, up to five times); a scraper
reads /metrics every 100 ms and compares every counter sample with the one before.

Printed per store: POSTs, 5xx answers, events lost (answered as accepted but missing from
the final `events_received_total{result="accepted"}`), counter decreases seen (a counter,
bucket, count or sum sample lower than in the scrape before), scrape p50/p99. It asserts
nothing.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import OUT, percentile, postgres_database, run_cli, serving, write_config

from collector.demo import DemoSpec, generate

WORK = OUT / "counters"
WINDOW = 500  # events shuffled together
BODY = 100  # events per POST
ACCEPTED = ("touchmetrics_events_received_total", (("result", "accepted"),))


@dataclass(slots=True)
class Tally:
    posts: int = 0
    errors: int = 0  # 5xx answers
    failed: int = 0  # bodies given up after retries
    accepted: int = 0  # events answered as accepted
    scrapes: list[float] = field(default_factory=list)  # seconds each
    decreases: int = 0
    decreasing: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def bodies(events: int) -> list[bytes]:
    """NDJSON bodies of the demo log, shuffled within windows: late events on purpose."""
    log = generate(DemoSpec(seed=9, days=30), min_events=events)
    lines = [line.encode() for line in itertools.islice(log, events)]
    rng = random.Random(9)
    for start in range(0, len(lines), WINDOW):
        window = lines[start : start + WINDOW]
        rng.shuffle(window)
        lines[start : start + WINDOW] = window
    return [b"".join(lines[i : i + BODY]) for i in range(0, len(lines), BODY)]


def writer(base: str, work: list[bytes], stop: float, tally: Tally) -> None:
    headers = {"Content-Type": "application/x-ndjson"}
    with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
        while time.monotonic() < stop:
            with tally.lock:
                if not work:
                    return
                body = work.pop()
            for _attempt in range(5):
                answer = client.post("/api/v1/events", content=body)
                with tally.lock:
                    tally.posts += 1
                    if answer.status_code < 500:
                        tally.accepted += answer.json().get("accepted", 0)
                        break
                    tally.errors += 1
                time.sleep(float(answer.headers.get("Retry-After", "1")))
            else:
                with tally.lock:
                    tally.failed += 1


def scraper(base: str, done: threading.Event, interval: float, tally: Tally) -> None:
    last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        while not done.is_set():
            began = time.perf_counter()
            response = client.get("/metrics")
            tally.scrapes.append(time.perf_counter() - began)
            if response.status_code == 200:
                now = counters(response.text)
                for series, value in now.items():
                    if value < last.get(series, value):
                        tally.decreases += 1
                        tally.decreasing.add(series)
                last = now
            done.wait(max(0.0, interval - (time.perf_counter() - began)))


def counters(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        if family.type in ("counter", "histogram"):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def one_store(name: str, url: str, work: list[bytes], args: argparse.Namespace) -> None:
    config = write_config(WORK / f"{name}.yaml", url, http_threads=args.threads)
    run_cli(["db", "upgrade", "--config", str(config)])
    tally = Tally()
    with serving(config, WORK / f"{name}.log") as base:
        done = threading.Event()
        stop = time.monotonic() + args.seconds
        threads = [threading.Thread(target=scraper, args=(base, done, 0.1, tally))]
        threads += [
            threading.Thread(target=writer, args=(base, work, stop, tally))
            for _ in range(args.writers)
        ]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads[1:]:
            thread.join()
        elapsed = time.monotonic() - began
        done.set()
        threads[0].join()
        stored = counters(httpx.get(f"{base}/metrics", timeout=30).text).get(ACCEPTED, 0.0)
    lost = tally.accepted - int(stored)
    scrapes = [s * 1000 for s in tally.scrapes]
    print(
        f"{name:<11} {elapsed:>5.0f} s {tally.posts:>7,} {tally.errors:>5} {tally.failed:>7}"
        f" {lost:>6} {tally.decreases:>9} {len(tally.decreasing):>7} {len(scrapes):>7}"
        f" {percentile(scrapes, 0.5):>7.1f} {percentile(scrapes, 0.99):>7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="load duration per store")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writing clients")
    parser.add_argument("--threads", type=int, default=8, help="server http_threads")
    parser.add_argument("--events", type=int, default=600_000, help="events ready to post")
    parser.add_argument("--postgres", metavar="URL", help="also load PostgreSQL at URL")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ready = bodies(args.events)
    print(
        f"{args.writers} writers, bodies of {BODY} events shuffled in windows of {WINDOW},"
        f" a scrape every 100 ms, {args.seconds:.0f} s per store\n"
    )
    print(
        f"{'store':<11} {'ran':>7} {'POSTs':>7} {'5xx':>5} {'gave up':>7} {'lost':>6}"
        f" {'decreases':>9} {'series':>7} {'scrapes':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    one_store("sqlite", f"sqlite:///{WORK / 'load.db'}", list(reversed(ready)), args)
    if args.postgres:
        with postgres_database(args.postgres) as url:
            one_store("postgresql", url, list(reversed(ready)), args)


if __name__ == "__main__":
    main()
