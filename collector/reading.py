"""Reading a file into prepared batches, here or in a second process.

An import is two jobs of about the same size: reading, validating and preparing records
(collector.prepare), and writing them. Both are Python, so threads would take turns on
the interpreter lock; with ``ahead`` a second process prepares batches while this one
writes, on two cores. It runs at most a few batches ahead, so memory stays bounded, and
each batch still commits with its own checkpoint.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import queue
import signal
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from collector.batch import Batch, Checkpoint, GroupedPass, add_record
from collector.errors import InputError
from collector.grouping import Range, grouped, worth_grouping
from collector.ledger import IdLedger, add_checked
from collector.prepare import Prepared, prepare
from collector.schema import Validator
from collector.sources.lines import fingerprint
from collector.sources.record import Reader, Record

AHEAD = 3  # prepared batches waiting to be sent, besides the one being sent
STOP_SECONDS = 1.0  # how long a reading process may take to stop before it is ended


@dataclass(slots=True)
class Job:
    """One file to read from a point; crosses to the reading process pickled."""

    validator: Validator
    reader: Reader
    path: Path
    source: str
    offset: int
    line: int
    batch_size: int
    complete_only: bool = False
    grouped: bool | None = None  # by conversation (collector.grouping); None: if worth it
    resumed: GroupedPass | None = None  # the grouped pass under way to go on with


@dataclass(slots=True)
class Chunk:
    """A prepared batch with its checkpoint, the records it holds and where it ended, and
    how many of those records were skipped, by reason."""

    prepared: Prepared
    records: int
    end: int
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Filled:
    """A batch as records filled it: the last record, how many, how many skipped."""

    batch: Batch
    last: Record
    count: int
    skipped: Counter[str]


def chunks(job: Job, *, ahead: bool = False) -> Iterator[Chunk]:
    """The file's prepared batches in order; ``ahead`` prepares them in a second process."""
    return _from_process(job) if ahead else _prepared(job)


def batches(
    records: Iterable[Record],
    validator: Validator,
    source: str,
    size: int,
    ledger: IdLedger | None = None,
) -> Iterator[Filled]:
    """Group validated records into batches of ``size`` records (skipped ones included);
    with a ledger, a record that makes an id made before with other content is refused."""
    batch, skipped = Batch(source), Counter[str]()
    last: Record | None = None
    count = 0
    for record in records:
        if record.skipped is not None:
            skipped[record.skipped] += 1
        elif ledger is None:
            add_record(batch, validator, record)
        else:
            add_checked(batch, validator, record, ledger)
        last, count = record, count + 1
        if count >= size:
            yield Filled(batch, last, count, skipped)
            batch, skipped, count = Batch(source), Counter(), 0
    if last is not None and count:
        yield Filled(batch, last, count, skipped)


def _prepared(job: Job) -> Iterator[Chunk]:
    records: Iterable[Record] = job.reader.records(
        job.path, job.offset, job.line, complete_only=job.complete_only
    )
    if job.grouped is None and job.resumed is None:
        # Decided on the first batch of records, read once: no reader is opened twice.
        head = list(islice(records, job.batch_size))
        unread = job.path.stat().st_size - job.offset
        job.grouped = worth_grouping(unread, job.batch_size, head)
        records = chain(head, records)
    ledger = IdLedger(job.source) if job.reader.ledger else None
    if job.grouped or job.resumed is not None:
        span = Range(job.path, job.source, job.reader.key, job.offset, job.line, job.resumed)
        for cut in grouped(span, records, job.validator, job.batch_size, ledger):
            yield Chunk(prepare(cut.batch), cut.records, cut.end, cut.skipped)
        return
    for filled in batches(records, job.validator, job.source, job.batch_size, ledger):
        last, batch = filled.last, filled.batch
        mark = fingerprint(job.path, last.end)
        batch.checkpoint = Checkpoint(job.source, mark, last.end, last.line, job.reader.key)
        yield Chunk(prepare(batch), filled.count, last.end, filled.skipped)


def _from_process(job: Job) -> Iterator[Chunk]:
    context = multiprocessing.get_context("spawn")  # no fork: the parent may run threads
    receiver, sender = context.Pipe(duplex=False)
    # A daemon: a process that exits mid-import (a service stopping while the scheduler
    # imports a spool file) ends its reader instead of waiting for it at exit.
    child = context.Process(
        target=_serve, args=(job, sender), name="touchmetrics-reader", daemon=True
    )
    child.start()
    sender.close()  # the child holds the only sending end, so its end reads as EOF here
    try:
        while (chunk := _receive(receiver, child)) is not None:
            yield chunk
    finally:
        receiver.close()  # a child still sending gets a broken pipe and stops
        child.join(timeout=STOP_SECONDS)
        if child.is_alive():
            child.terminate()
            child.join()


def _receive(receiver: Any, child: Any) -> Chunk | None:
    try:
        message = receiver.recv()
    except (EOFError, OSError):  # OSError: it stopped halfway through a message
        child.join()
        raise InputError(
            f"the reading process stopped without a word (exit code {child.exitcode})"
        ) from None
    if isinstance(message, _Failure):
        raise message.error
    return message  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Failure:
    error: Exception


def _serve(job: Job, sender: Any) -> None:
    """Steps in the reading process:
    1. leave Ctrl-C to the importing process, which stops this one;
    2. prepare the file's batches, as that process would, into an outbox of ``AHEAD``
       that a mailer thread sends down the pipe, so that preparing goes on while a
       send waits for the importer (and the importer seldom waits for a batch);
    3. post the end, or the error that stopped it (as InputError when the error itself
       cannot be pickled), and wait until the mailer has sent everything;
    4. stop early when the importer is gone: the mailer finds its end of the pipe
       closed and stops taking mail."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox: queue.Queue[Chunk | _Failure | None] = queue.Queue(maxsize=AHEAD)
    mailer = threading.Thread(target=_mail, args=(outbox, sender), name="mailer", daemon=True)
    mailer.start()
    try:
        with rare_collections():
            for chunk in _prepared(job):
                if not _post(outbox, mailer, chunk):
                    return
        _post(outbox, mailer, None)
    except Exception as exc:
        _post(outbox, mailer, _Failure(_portable(exc)))
    finally:
        mailer.join()
        sender.close()


def _post(outbox: queue.Queue[Chunk | _Failure | None], mailer: Any, message: Any) -> bool:
    """Put a message in the outbox; False once the mailer has stopped (importer gone)."""
    while mailer.is_alive():
        try:
            outbox.put(message, timeout=STOP_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _mail(outbox: queue.Queue[Chunk | _Failure | None], sender: Any) -> None:
    """Send the outbox down the pipe until the last message, or until nobody reads."""
    while True:
        message = outbox.get()
        try:
            sender.send(message)
        except BrokenPipeError:
            return  # the importer stopped first
        if not isinstance(message, Chunk):
            return


def _portable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return InputError(f"{type(exc).__name__}: {exc}")
    return exc


_GC_LOCK = threading.Lock()
_GC_USERS: list[tuple[int, int, int]] = []  # the thresholds to restore, while any import runs
GC_THRESHOLD = 50_000


@contextmanager
def rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely while reading a file.

    Reading allocates millions of short-lived tuples, dicts and lists; reference counting
    frees them, but at the default threshold (700 allocations) the cyclic collector also
    ran some 800 times per 100k events, each pass walking the live objects, for a tenth of
    an import's CPU. The thresholds are process-wide, so concurrent imports share one
    raise and the last one out restores them.
    """
    with _GC_LOCK:
        if not _GC_USERS:
            saved = gc.get_threshold()
            gc.set_threshold(max(saved[0], GC_THRESHOLD), saved[1], saved[2])
        else:
            saved = _GC_USERS[0]
        _GC_USERS.append(saved)
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS.pop()
            if not _GC_USERS:
                gc.set_threshold(*saved)
