"""Live stream benchmark: time-ordered events POSTed to `touchmetrics serve`, as a new user would.

    .venv/bin/python bench/stream.py                  # 200k events per case, median of 3 runs
    .venv/bin/python bench/stream.py --quick          # 20k events per case, 1 run
    .venv/bin/python bench/stream.py --store sqlite postgresql
    .venv/bin/python bench/stream.py --code /work/tm-before   # another checkout's service

Cases: conversations of 10 events vs 250 (an LLM assistant or an e-mail thread with many
turns), the same number of events in all, many conversations open at once (bench/traffic.py),
NDJSON batches of 100, by 1 client and by 4 (each client owns a share of the conversations and
posts its own events in time order). Each run serves a fresh SQLite file (or a throwaway
PostgreSQL database) with the default settings. The bodies are made before the clock starts;
the clock runs from the first POST to the last answer. It prints events/s per case and the
ratio of long to short conversations (issue 13's target: >= 0.80); it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codebase import add_comparison_arguments, write_figures
from service import OUT, median, postgres_database, run_cli, serving, timed_together, write_config
from traffic import bodies, stream

WORK = OUT / "stream"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
Case = tuple[str, int, int]  # store, clients, events per conversation


def main() -> None:
    args = _arguments()
    events = args.events or (20_000 if args.quick else 200_000)
    runs = args.runs or (1 if args.quick else 3)
    posts = {
        (clients, length): bodies(stream(events, length, args.open), clients, args.batch)
        for clients in args.clients
        for length in args.lengths
    }
    print(f"bodies ready: {events:,} events per case", file=sys.stderr, flush=True)
    rates: dict[Case, list[float]] = {}
    for _ in range(runs):  # a round of every case at a time, so drift in the load hits all
        for store in args.store:
            for (clients, length), work in posts.items():
                rate = one_run(store, work, args)
                rates.setdefault((store, clients, length), []).append(rate)
                print(
                    f"  {store}, {clients} client(s), {length}-event conversations:"
                    f" {rate:,.0f} events/s",
                    file=sys.stderr,
                    flush=True,
                )
    figures = summarise(rates, args.lengths)
    print_table(rates, figures, events, args)
    write_figures(args.figures, figures)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k events per case, one run")
    parser.add_argument("--events", type=int, help="events per case (default 200k)")
    parser.add_argument("--runs", type=int, help="runs per case (median shown)")
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=[10, 250],
        help="events per conversation; the first is the baseline of the ratio",
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch", type=int, default=100, help="events per POST")
    parser.add_argument("--open", type=int, default=200, help="conversations open at once")
    parser.add_argument("--store", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite"])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL server URL")
    add_comparison_arguments(parser)
    return parser.parse_args()


def one_run(store: str, work: list[list[bytes]], args: argparse.Namespace) -> float:
    """Serve a fresh database and post every client's bodies; events/s."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with _database(store, args.postgres) as url:
        config = write_config(WORK / "touchmetrics.yaml", url)
        if store == "postgresql":  # serve makes a new SQLite file's schema, not PostgreSQL's
            run_cli(["db", "upgrade", "--config", str(config)], code=args.code)
        with serving(config, WORK / "serve.log", code=args.code) as base:
            seconds = post_all(base, work)
    return sum(body.count(b"\n") for mine in work for body in mine) / seconds


@contextmanager
def _database(store: str, server_url: str) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{WORK / 'stream.db'}"
    else:
        with postgres_database(server_url, "tm_stream") as url:
            yield url


def post_all(base: str, work: list[list[bytes]]) -> float:
    """Every client posts its bodies in order, all clients at once; the seconds it took."""
    failures: list[str] = []
    seconds = timed_together([partial(_client, base, mine, failures) for mine in work])
    if failures:
        raise SystemExit(f"{len(failures)} POSTs went wrong; the first: {failures[0]}")
    return seconds


def _client(base: str, mine: list[bytes], failures: list[str], start: threading.Barrier) -> None:
    headers = {"Content-Type": "application/x-ndjson"}
    with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
        client.get("/healthz")  # connect before the clock starts
        start.wait()
        for body in mine:
            answer = client.post("/api/v1/events", content=body)
            problem = _problem(answer, body.count(b"\n"))
            if problem:
                failures.append(problem)


def _problem(answer: httpx.Response, expected: int) -> str | None:
    if answer.status_code != 200:
        return f"{answer.status_code} {answer.text[:300]}"
    got = answer.json()
    if got["accepted"] != expected or got["duplicates"] or got["rejected"]:
        return f"expected {expected} accepted, got {str(got)[:300]}"
    return None


def summarise(rates: dict[Case, list[float]], lengths: list[int]) -> dict[str, float]:
    """Median events/s per case, and each longer length's ratio to the first."""
    figures: dict[str, float] = {_name(c): round(median(found)) for c, found in rates.items()}
    for store, clients, length in rates:
        base = rates.get((store, clients, lengths[0]))
        if length != lengths[0] and base:
            ratio = median(rates[(store, clients, length)]) / median(base)
            figures[f"{store} {clients} client(s) ratio {length}/{lengths[0]}"] = round(ratio, 3)
    return figures


def _name(case: Case) -> str:
    store, clients, length = case
    return f"{store} {clients} client(s) {length}-event events/s"


def print_table(
    rates: dict[Case, list[float]], figures: dict[str, float], events: int, args: argparse.Namespace
) -> None:
    print(
        f"\nLive stream into `touchmetrics serve` ({args.code}): {os.cpu_count()} cores,"
        f" {events:,} events per case, {args.batch} per POST, {args.open} conversations open"
    )
    print("events/s: median of the runs (min-max)\n")
    header = f"{'store':<10} {'clients':>7} {'events/conv.':>12} {'runs':>4} {'events/s':>9}"
    header += f" {'min-max':>15} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for (store, clients, length), found in rates.items():
        ratio = figures.get(f"{store} {clients} client(s) ratio {length}/{args.lengths[0]}")
        spread = f"{min(found):,.0f}-{max(found):,.0f}"
        print(
            f"{store:<10} {clients:>7} {length:>12} {len(found):>4} {median(found):>9,.0f}"
            f" {spread:>15} {'' if ratio is None else f'{ratio:.2f}':>6}"
        )


if __name__ == "__main__":
    main()
