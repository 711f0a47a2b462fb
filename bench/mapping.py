"""Message-level CSV through a mapping: the memory of the id ledger and of reply threads,
and the time and peak memory of an import (printed; it asserts nothing).

    .venv/bin/python bench/mapping.py                 # 1M ids and replies; a 200k-row import
    .venv/bin/python bench/mapping.py --rows 50000 --ids 100000

1. The ledger (collector/ledger.py) and the thread index (collector/sources/csvthreads.py)
   are filled in this process under tracemalloc: bytes per event id, and per reply at the
   peak of the first pass and once followed.
2. An export of ``--rows`` messages in threads of one to seven messages, newest first
   (every reply before the message it answers), is imported into a fresh SQLite file
   with examples/social/mapping.yaml, and reported straight from the file.
"""

from __future__ import annotations

import argparse
import random
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import OUT, REPO, Figures, run

from collector.batch import Incoming
from collector.ledger import IdLedger
from collector.schema import Event
from collector.sources.csvspec import Threads
from collector.sources.csvthreads import ThreadIndex

SOCIAL = REPO / "examples" / "social"


def ledger_bytes(ids: int) -> float:
    """Bytes the ledger holds per event id."""
    events = (
        Incoming(Event(f"{10**18 + i}", "c", "message", 0, None, None, "agent", True, None, 5,
                       None, f"{i:032x}"), "", i)
        for i in range(ids)
    )  # fmt: skip
    tracemalloc.start()
    ledger = IdLedger("bench.csv")
    for item in events:
        ledger.conflict([item], item.line)
    held, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held / ids


def thread_bytes(replies: int) -> tuple[float, float]:
    """Bytes per reply at the peak of the first pass and once every thread was followed to
    its first post; replies in shuffled order, so many come before what they answer. The
    id texts are made while measuring, as reading a file makes them."""
    rng = random.Random(1)
    pairs: list[tuple[int, int]] = []
    post = 10**18
    while len(pairs) < replies:
        parent = post
        for _ in range(rng.randint(1, 6)):
            post += 1
            pairs.append((post, parent))
            parent = post
        post += 1
    rng.shuffle(pairs)
    tracemalloc.start()
    index = ThreadIndex(Threads(message="m", parent="p", max_replies=len(pairs)))
    for message, parent in pairs:
        index.add({"m": str(message), "p": str(parent)}, "bench")
    held, _peak = tracemalloc.get_traced_memory()
    for message, parent in pairs:
        index.thread_of({"m": str(message), "p": str(parent)})
    followed, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held / len(pairs), followed / len(pairs)


def export(rows: int) -> Path:
    """A message-level export of about ``rows`` rows, newest first (every reply before the
    message it answers), written once."""
    path = OUT / f"messages-{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(2)
    lines = []
    post, at = 2_000_000, datetime(2026, 11, 2, tzinfo=UTC)
    while len(lines) < rows:
        account = rng.choice(["BoltAssist", "AcmeHelp"])
        parent = None
        for turn in range(rng.randint(1, 7)):
            post += 1
            at += timedelta(seconds=rng.randint(1, 90))
            inbound = turn % 2 == 0
            stamp = at.strftime("%a %b %d %H:%M:%S +0000 %Y")
            reply_to = f"{parent}.0" if parent else ""
            lines.append(f'{post},{reply_to},{account},{inbound},{stamp},,"text"\n')
            parent = post
    lines.reverse()
    OUT.mkdir(exist_ok=True)
    path.write_text("post_id,in_reply_to,account,inbound,created_at,status,text\n" + "".join(lines))
    return path


def timed(rows: int, runs: int) -> tuple[Figures, Figures]:
    data = export(rows)
    config = OUT / "mapping-bench.yaml"
    database = OUT / "mapping-bench.db"
    settings = yaml.safe_load((SOCIAL / "touchmetrics.yaml").read_text())
    config.write_text(yaml.safe_dump({**settings, "database_url": f"sqlite:///{database}"}))
    mapping = str(SOCIAL / "mapping.yaml")
    imports, reports = Figures(), Figures()
    for _ in range(runs):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        imports.runs.append(run(["ingest", "--config", str(config), "--mapping", mapping,
                                 str(data)]))  # fmt: skip
        reports.runs.append(run(["report", "--config", str(config), "--mapping", mapping,
                                 "--format", "json", str(data)]))  # fmt: skip
    return imports, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # The commands first: a child forked from this process would count its memory.
    imports, reports = timed(args.rows, args.runs)
    for name, figures in (("ingest", imports), ("report from the file", reports)):
        rate = args.rows / figures.seconds
        print(f"{name}, {args.rows:,} rows: {figures.seconds:.1f} s ({rate:,.0f} rows/s), "
              f"peak {figures.peak_mib:.0f} MiB, median of {len(figures.runs)}")  # fmt: skip
    per_id = ledger_bytes(args.ids)
    print(f"ledger: {per_id:.0f} bytes per event id, {per_id * 1e6 / 2**20:.0f} MiB per million")
    peak, followed = thread_bytes(args.ids)
    print(f"threads: {peak:.0f} bytes per reply after the first pass, {followed:.0f} once "
          f"followed; {peak * 1e6 / 2**20:.0f} MiB per million replies")  # fmt: skip


if __name__ == "__main__":
    main()
