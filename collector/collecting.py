"""The cyclic garbage collector, run rarely while a file is read."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
