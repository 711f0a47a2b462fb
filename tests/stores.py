"""What imports are compared by: a store's contents, an emptied store, a messy log."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, select

from collector import tables as t
from collector.connect import make_engine
from collector.demo import DemoSpec, generate
from collector.store import Store


def write_messy_log(path: Path, conversations: int = 500) -> Path:
    """A demo log with what real logs have: repeats, a conflict, late events out of order
    (so conversations span batches), and records that fail validation."""
    lines = list(generate(DemoSpec(seed=7), conversations=conversations))
    rng = random.Random(7)
    late = [lines.pop(rng.randrange(len(lines))) for _ in range(150)]
    lines.extend(late)  # late arrivals for conversations written batches earlier
    lines.extend(rng.sample(lines, 60))  # repeats, some within a batch, most across
    conflicting = orjson.loads(lines[10])
    conflicting["timestamp"] = "2026-11-01T23:59:59Z"
    lines.insert(500, orjson.dumps(conflicting).decode() + "\n")
    lines.insert(700, '{"type": "message", "conversation_id": "x"\n')  # not JSON
    lines.insert(900, '{"type": "tweet", "conversation_id": "x"}\n')  # no such type
    path.write_text("".join(lines))
    return path


def store_contents(store: Store, *, checkpoints: bool = True) -> dict[str, Any]:
    """Every table's rows, less what differs between two imports of the same records:
    arrival times and generated ids. Unless ``checkpoints``, also less what differs
    between two files, or two orders, of the same records: the imports table, the file
    each event came from, and the time of the event that first named each channel."""
    ignore = {"received_at", "updated_at"} | (set() if checkpoints else {"source", "first_seen"})
    contents: dict[str, Any] = {}
    tables = (t.events, t.conversations, t.facts, t.channels, t.quarantine, t.imports)
    with store.engine.connect() as conn:
        for table in tables if checkpoints else tables[:-1]:
            columns = [c for c in table.columns if c.name not in ignore and c.name != "id"]
            if table is not t.facts and "id" in table.c and table is not t.quarantine:
                columns.insert(0, table.c.id)
            contents[table.name] = sorted(map(tuple, conn.execute(select(*columns))), key=repr)
    # Sums of floats added in another order differ in the last bits; a cell counted up and
    # down again (a conversation open across batches) is as good as none.
    totals = {key: round(value, 6) for key, value in store.totals().items()}
    contents["rollups"] = {key: value for key, value in totals.items() if value}
    return contents


@contextmanager
def emptied(store: Store) -> Iterator[Store]:
    """The same database with every row deleted, in a new Store (a Store caches channels)."""
    with store.engine.begin() as conn:
        for table in (t.events, t.conversations, t.facts, t.channels, t.quarantine):
            conn.execute(delete(table))
        conn.execute(delete(t.rollups))
        conn.execute(delete(t.imports))
    with Store(make_engine(store.settings.database_url), store.settings) as fresh:
        yield fresh
