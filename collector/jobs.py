"""Scheduled jobs: plain functions that do one unit of work and say whether they found any.

APScheduler only calls them (collector/scheduler.py); tests call them directly.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from collector.batch import batch_of_events
from collector.demo import LiveFeed
from collector.errors import InputError
from collector.ingest import ingest_file
from collector.schema import Validator
from collector.sources.jsonl import JsonLinesReader
from collector.store import Store
from collector.summary import Summary
from collector.totals import rebuild_totals, totals_layout

log = logging.getLogger("touchmetrics.jobs")
SPOOL_PATTERNS = ("*.jsonl", "*.ndjson")


def import_spool(store: Store, validator: Validator, spool_dir: Path) -> bool:
    """Import what is new in the spool folder.

    1. List the JSON Lines files in the folder, oldest name first.
    2. Import each from its checkpoint, complete lines only: a line still being written
       waits for the next run. A file that cannot be read at all (a JSON array dropped
       there) is logged and passed over; the others are still imported.
    3. Return whether any record was read.
    """
    found = False
    reader = JsonLinesReader()
    for path in sorted(p for pattern in SPOOL_PATTERNS for p in spool_dir.glob(pattern)):
        try:
            summary: Summary = ingest_file(store, validator, reader, path, complete_only=True)
        except InputError as exc:
            log.error("spool %s: not imported: %s", path.name, exc)
            continue
        if summary.records:
            found = True
            log.info("spool %s", summary.describe(path.name))
    return found


def maintain_rollups(store: Store) -> bool:
    """Rebuild the all-time totals when the histogram buckets changed; True if rebuilt.

    1. Compare the bucket layout in force with the one the totals were built for.
    2. If they differ (or were never recorded), recount every fact into the new buckets.
    """
    recorded = totals_layout(store)
    if recorded == store.layout.fingerprint:
        return False
    started = time.monotonic()
    rebuild_totals(store)
    if recorded is not None:
        elapsed = time.monotonic() - started
        log.info("recounted the totals into new histogram buckets in %.1fs", elapsed)
    return True


def feed_demo(feed: LiveFeed, store: Store, validator: Validator) -> bool:
    """Write the demo events now due, as a client posting them would; True if any."""
    events = feed.due(time.time())
    if not events:
        return False
    store.write_batch(batch_of_events(validator, "demo", events))
    return True
