"""Importing files into the store: read, validate, batch, commit with a checkpoint.

Steps for one file:
1. Find where an earlier import of the same file stopped (and that it is the same file).
2. Read records from there into prepared batches (collector.reading), in a second
   process when the file is big enough to repay starting one.
3. Commit each batch with its checkpoint in the same transaction, so a crash re-reads at
   most the uncommitted batches and nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collector.batch import Checkpoint
from collector.collecting import rare_collections
from collector.offload import cores
from collector.reading import Job, chunks
from collector.schema import Validator
from collector.sources.lines import fingerprint
from collector.sources.record import Reader
from collector.store import Store
from collector.summary import Summary

Progress = Callable[[int], None]  # bytes read since the last call

# Below this many unread bytes (about 30,000 events) starting a second process costs
# more than it saves.
READ_AHEAD_BYTES = 4 << 20


def ingest_file(
    store: Store,
    validator: Validator,
    reader: Reader,
    path: Path,
    *,
    progress: Progress | None = None,
    complete_only: bool = False,
    read_ahead: bool | None = None,
    restart: bool = False,
    grouped: bool | None = None,
) -> Summary:
    """Import one file from where the last import of it, read the same way, stopped.

    ``restart`` forgets that checkpoint and reads the file from its start (ids keep what
    was stored from being stored twice). ``read_ahead`` reads and prepares batches in a
    second process while this one writes; None decides by the file's unread size and the
    number of cores. ``grouped`` commits the records grouped by conversation
    (collector.grouping), so that a file in random order costs little more than one in
    conversation order; None groups a file holding more than one batch.
    """
    source = str(path.resolve())
    summary = Summary(unit=reader.unit)
    saved = _resume_point(store, path, source, reader.key, restart=restart)
    offset, line = saved.offset, saved.line
    summary.resumed_after_line, summary.earlier_rejected = line, saved.rejected
    size = _batch_size(store)
    job = Job(
        validator, reader, path, source, offset, line, size, complete_only,
        grouped=grouped,
        resumed=saved.grouped,
    )  # fmt: skip
    if read_ahead is None:
        read_ahead = _worth_reading_ahead(path, offset)
    with rare_collections():
        for chunk in chunks(job, ahead=read_ahead):
            summary.records += chunk.records  # not lines: headers, blank lines and wrapped rows
            summary.skipped.update(chunk.skipped)
            summary.add(store.write_batch(chunk.prepared))
            if progress is not None:
                progress(chunk.end - offset)
            offset = chunk.end
    return summary


def _batch_size(store: Store) -> int:
    """The setting, else what measured best per backend. On PostgreSQL each batch pays
    round trips and replays the conversations it shares with the batch before: 300k
    events took 36 s in batches of 5,000, 25 s in batches of 20,000; at a million, 10,000
    was as fast as 20,000 and peaked at 282 MiB instead of 372."""
    chosen = store.settings.ingest_batch_size
    return chosen if chosen is not None else (5_000 if store.sqlite else 10_000)


def _worth_reading_ahead(path: Path, offset: int) -> bool:
    return cores() > 1 and path.stat().st_size - offset >= READ_AHEAD_BYTES


def _resume_point(store: Store, path: Path, source: str, key: str, *, restart: bool) -> Checkpoint:
    """Where to read from (offset, line, a grouped pass under way) and how many records
    earlier runs rejected."""
    saved = store.checkpoint(source, key)
    if saved is None:
        return Checkpoint(source, "", 0, 0, key)
    # A grouped pass under way read its range to the end before committing anything.
    read = saved.grouped.end if saved.grouped else saved.offset
    grown = path.stat().st_size >= read
    if restart or not grown or fingerprint(path, read) != saved.fingerprint:
        # Asked to, or another file under the same name: read it all; ids keep it
        # idempotent, and the count of rejections starts again with it.
        store.forget_checkpoint(source, key)
        return Checkpoint(source, "", 0, 0, key)
    return saved
