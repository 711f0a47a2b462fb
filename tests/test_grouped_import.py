"""Importing a file grouped by conversation (collector.grouping): arrival order changes
nothing stored, and a pass killed halfway resumes to what one clean run stores."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from collector.connect import make_engine
from collector.demo import DemoSpec, generate
from collector.errors import InputError
from collector.grouping import BUCKET_BYTES, RECORD_BYTES, bucket_count, worth_grouping
from collector.ingest import ingest_file
from collector.schema import Validator
from collector.settings import parse_settings
from collector.sources.csvmap import MappedCsvReader
from collector.sources.jsonl import JsonLinesReader
from collector.sources.record import Reader
from collector.store import Store
from collector.summary import Summary
from tests.conftest import REPO
from tests.stores import emptied, store_contents, write_messy_log

BATCH = 40  # records per batch: the logs below span about a hundred batches


class _Stop(Exception):
    """Stands for a crash between two committed batches."""


@pytest.fixture
def small_batch_store(make_settings: Any) -> Any:
    settings = make_settings(ingest_batch_size=BATCH)
    with Store(make_engine(settings.database_url), settings) as store:
        yield store


@pytest.fixture
def messy_log(tmp_path: Path) -> Path:
    return write_messy_log(tmp_path / "messy.jsonl")


def test_a_shuffled_file_stores_exactly_what_the_file_in_conversation_order_stores(
    small_batch_store, tmp_path
):
    lines = list(generate(DemoSpec(seed=3), conversations=400))
    lines += random.Random(3).sample(lines, 50)  # repeats: duplicates whatever the order
    in_order, shuffled = tmp_path / "in-order.jsonl", tmp_path / "shuffled.jsonl"
    in_order.write_text("".join(lines))
    random.Random(4).shuffle(lines)
    shuffled.write_text("".join(lines))
    first = _import(small_batch_store, in_order)
    stored = store_contents(small_batch_store, checkpoints=False)
    with emptied(small_batch_store) as store:
        second = _import(store, shuffled)
        assert store_contents(store, checkpoints=False) == stored
    assert (second.records, second.accepted, second.duplicates) == (
        first.records, first.accepted, first.duplicates,
    )  # fmt: skip
    assert first.duplicates == 50


@pytest.mark.parametrize("ahead", [False, True])
def test_a_grouped_import_stores_exactly_what_an_import_in_file_order_stores(
    small_batch_store, messy_log, ahead
):
    in_file_order = _import(small_batch_store, messy_log, grouped=False)
    stored = store_contents(small_batch_store, checkpoints=False)
    with emptied(small_batch_store) as store:
        grouped = _import(store, messy_log, grouped=True, ahead=ahead)
        assert store_contents(store, checkpoints=False) == stored
        assert store.checkpoint(str(messy_log.resolve())) == small_batch_store.checkpoint(
            str(messy_log.resolve())
        )  # the pass's end, its fingerprint and the count of rejections
    assert _counted(grouped) == _counted(in_file_order)  # rejections at their lines too


def test_an_id_made_again_with_other_content_is_the_later_lines_conflict_as_in_file_order(
    small_batch_store, tmp_path
):
    # The later maker sits in another conversation (another bucket) or sorts before the
    # first one in time: grouped, it may be committed first, yet it must be the one refused.
    lines = list(generate(DemoSpec(seed=5), conversations=400))
    rng = random.Random(5)
    random.Random(6).shuffle(lines)
    for first in rng.sample(range(len(lines) // 2), 30):
        copy = orjson.loads(lines[first])
        if first % 2:
            copy["conversation_id"] = orjson.loads(lines[first + 1])["conversation_id"]
        copy["timestamp"] = "2026-01-01T00:00:00Z"  # before every event of the log
        lines.insert(rng.randrange(first + 1, len(lines)), orjson.dumps(copy).decode() + "\n")
    path = tmp_path / "conflicts.jsonl"
    path.write_text("".join(lines))
    in_file_order = _import(small_batch_store, path, grouped=False)
    stored = store_contents(small_batch_store, checkpoints=False)
    assert in_file_order.rejected == 30
    with emptied(small_batch_store) as store:
        grouped = _import(store, path, grouped=True)
        assert store_contents(store, checkpoints=False) == stored  # quarantine: same lines
    # The example a rule shows is the first line met, which grouping changes.
    assert (grouped.accepted, grouped.duplicates, grouped.rejected, grouped.reasons()[0][1]) == (
        in_file_order.accepted, in_file_order.duplicates, 30, 30,
    )  # fmt: skip


@pytest.mark.parametrize("batches", [1, 7, 60])
def test_an_import_stopped_after_some_batches_resumes_to_what_one_clean_run_stores(
    small_batch_store, messy_log, batches
):
    clean = _import(small_batch_store, messy_log, grouped=True)
    stored = store_contents(small_batch_store)
    with emptied(small_batch_store) as store:
        with pytest.raises(_Stop):
            _import(store, messy_log, grouped=True, progress=_stop_after(batches))
        saved = store.checkpoint(str(messy_log.resolve()))
        assert saved is not None and saved.offset == 0 and saved.grouped is not None
        before = store.event_counts()
        assert before["rejected"] < clean.rejected or before["accepted"] < clean.accepted
        rerun = _import(store, messy_log, grouped=False)  # a pass under way goes on grouped
        assert store_contents(store) == stored  # nothing stored or quarantined twice
    assert rerun.accepted + before["accepted"] == clean.accepted
    assert rerun.duplicates + before["duplicates"] == clean.duplicates
    assert rerun.rejected + rerun.earlier_rejected == clean.rejected
    assert rerun.earlier_rejected == before["rejected"]


def test_a_pass_whose_reading_process_is_killed_resumes_to_what_one_clean_run_stores(
    small_batch_store, messy_log
):
    clean = _import(small_batch_store, messy_log, grouped=True)
    stored = store_contents(small_batch_store)
    done = [0]

    def kill_reader_after_some_batches(_read: int) -> None:
        done[0] += 1
        if done[0] == 20 and multiprocessing.active_children():
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    with emptied(small_batch_store) as store:
        with pytest.raises(InputError, match="reading process stopped"):
            _import(store, messy_log, grouped=True, ahead=True,
                    progress=kill_reader_after_some_batches)  # fmt: skip
        saved = store.checkpoint(str(messy_log.resolve()))
        assert saved is not None and saved.grouped is not None and saved.grouped.done > 0
        rerun = _import(store, messy_log, ahead=True)
        assert store_contents(store) == stored
    assert rerun.rejected + rerun.earlier_rejected == clean.rejected


def test_a_file_that_grew_after_a_grouped_import_resumes_at_its_old_end(
    small_batch_store, tmp_path
):
    lines = list(generate(DemoSpec(seed=5), conversations=300))
    log = tmp_path / "growing.jsonl"
    log.write_text("".join(lines[:2000]))
    first = _import(small_batch_store, log, grouped=True)
    with log.open("a") as handle:
        handle.write("".join(lines[2000:]))
    second = _import(small_batch_store, log, grouped=True)
    assert (first.records, first.resumed_after_line) == (2000, 0)
    assert (second.records, second.resumed_after_line) == (len(lines) - 2000, 2000)
    assert second.accepted == len(lines) - 2000
    saved = small_batch_store.checkpoint(str(log.resolve()))
    assert saved is not None and saved.grouped is None and saved.line == len(lines)


@pytest.mark.parametrize("folder", ["social", "tickets"])
def test_a_csv_export_imports_grouped_as_it_does_in_file_order(tmp_path, database_url, folder):
    """Message-level rows with threads (social, read twice) and rows of several events
    taken whole (tickets) group as JSON lines do."""
    example = REPO / "examples" / folder
    config = yaml.safe_load((example / "touchmetrics.yaml").read_text())
    settings = parse_settings({**config, "database_url": database_url, "ingest_batch_size": 7})
    reader = MappedCsvReader.from_file(example / "mapping.yaml")
    export = next(example.glob("*.csv"))
    with Store(make_engine(database_url), settings) as store:
        in_file_order = _import(store, export, reader, grouped=False)
        stored = store_contents(store, checkpoints=False)
        with emptied(store) as fresh:
            grouped = _import(fresh, export, reader, grouped=True)
            assert store_contents(fresh, checkpoints=False) == stored
    assert _counted(grouped) == _counted(in_file_order)


def test_a_file_of_several_batches_is_grouped_unless_in_conversation_order(tmp_path):
    lines = list(generate(DemoSpec(seed=6), conversations=200))
    in_order, shuffled = tmp_path / "in-order.jsonl", tmp_path / "shuffled.jsonl"
    in_order.write_text("".join(lines))
    random.Random(6).shuffle(lines)
    shuffled.write_text("".join(lines))
    reader, size = JsonLinesReader(), shuffled.stat().st_size
    assert worth_grouping(size, BATCH, reader.records(shuffled))
    assert not worth_grouping(size, BATCH, reader.records(in_order))
    assert not worth_grouping(BATCH * RECORD_BYTES, BATCH, reader.records(shuffled))  # 1 batch


def test_a_bucket_holds_at_most_a_bounded_share_of_the_file():
    assert bucket_count(0) == bucket_count(BUCKET_BYTES) == 1
    assert bucket_count(BUCKET_BYTES + 1) == 2
    for size in (10**6, 10**9, 10**11):
        assert size / bucket_count(size) <= BUCKET_BYTES


def _import(
    store: Store,
    path: Path,
    reader: Reader | None = None,
    *,
    grouped: bool | None = None,
    ahead: bool = False,
    progress: Any = None,
) -> Summary:
    validator = Validator(store.settings)
    return ingest_file(
        store, validator, reader or JsonLinesReader(), path,
        read_ahead=ahead, grouped=grouped, progress=progress,
    )  # fmt: skip


def _counted(summary: Summary) -> dict[str, object]:
    """A summary as `ingest --json` prints it, its rules sorted: rules broken equally
    often are listed in the order they were met, which grouping changes."""
    counted = summary.as_dict()
    counted["rejected_by_rule"] = sorted(summary.by_rule.as_list(), key=repr)
    return counted


def _stop_after(batches: int) -> Any:
    """A progress callback that crashes the import once ``batches`` have committed."""
    done = [0]

    def count(_read: int) -> None:
        done[0] += 1
        if done[0] == batches:
            raise _Stop

    return count
