"""Importing a file with a second process preparing batches (collector.reading).

The second process must change nothing but the speed: the same rows, totals, quarantine
and checkpoint as an import in one process, the same errors, and no process left behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.connect import make_engine
from collector.demo import DemoSpec, generate
from collector.errors import InputError
from collector.ingest import READ_AHEAD_BYTES, ingest_file
from collector.schema import Validator
from collector.sources.csvmap import MappedCsvReader
from collector.sources.jsonl import JsonLinesReader
from collector.store import Store
from collector.summary import Summary
from tests.conftest import CHANNELS, REPO
from tests.stores import emptied, store_contents, write_messy_log

BATCH = 40  # records per batch: the log below spans about a hundred batches


@pytest.fixture
def small_batches(make_settings: Any) -> Any:
    return make_settings(ingest_batch_size=BATCH)


@pytest.fixture
def small_batch_store(small_batches: Any) -> Any:
    store = Store(make_engine(small_batches.database_url), small_batches)
    yield store
    store.close()


@pytest.fixture
def messy_log(tmp_path: Path) -> Path:
    return write_messy_log(tmp_path / "messy.jsonl")


def test_it_stores_exactly_what_an_import_in_one_process_stores(small_batch_store, messy_log):
    here = _import(small_batch_store, messy_log, ahead=False)
    stored_here = store_contents(small_batch_store)
    with emptied(small_batch_store) as store:
        ahead = _import(store, messy_log, ahead=True)
        assert ahead.as_dict() == here.as_dict()
        assert ahead.duplicates >= 60 and ahead.rejected == 3  # the log's repeats, bad lines
        assert store_contents(store) == stored_here


def test_it_resumes_after_the_reading_process_is_killed(small_batch_store, messy_log):
    done = [0]

    def kill_reader_at_a_third(read: int) -> None:
        done[0] += read  # bytes since the last call
        if done[0] > messy_log.stat().st_size // 3 and multiprocessing.active_children():
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    with pytest.raises(InputError, match="reading process stopped"):
        _import(small_batch_store, messy_log, ahead=True, progress=kill_reader_at_a_third)
    first = small_batch_store.checkpoint(str(messy_log.resolve()))
    assert first is not None and 0 < first.offset < messy_log.stat().st_size
    _import(small_batch_store, messy_log, ahead=True)
    resumed = store_contents(small_batch_store)
    with emptied(small_batch_store) as store:
        _import(store, messy_log, ahead=False)
        assert resumed == store_contents(store)


def test_it_stops_the_reading_process_when_the_import_is_interrupted(small_batch_store, messy_log):
    def press_ctrl_c(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _import(small_batch_store, messy_log, ahead=True, progress=press_ctrl_c)
    assert multiprocessing.active_children() == []
    saved = small_batch_store.checkpoint(str(messy_log.resolve()))
    assert saved is not None and saved.line == BATCH  # the first batch, and only it


def test_it_raises_the_reading_process_error_as_an_import_in_one_process_would(
    small_batch_store, tmp_path
):
    table = tmp_path / "calls.tsv"
    table.write_text("call_id\tcall_id\n1\t2\n")
    reader = MappedCsvReader.from_file(REPO / "examples" / "technion_bank.yaml")
    errors = []
    for ahead in (False, True):
        with pytest.raises(InputError) as caught:
            ingest_file(
                small_batch_store,
                Validator(small_batch_store.settings),
                reader,
                table,
                read_ahead=ahead,
            )
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "twice" in errors[0]
    assert multiprocessing.active_children() == []


def test_the_reading_process_exits_when_the_importer_is_killed(tmp_path):
    config_file = tmp_path / "touchmetrics.yaml"
    database = {"database_url": f"sqlite:///{tmp_path / 'tm.db'}"}
    config_file.write_text(yaml.safe_dump({"channels": CHANNELS, **database}))
    log = tmp_path / "big.jsonl"
    log.write_text("".join(generate(DemoSpec(seed=3), min_events=40_000)))
    assert log.stat().st_size >= READ_AHEAD_BYTES  # big enough to be read ahead
    importer = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "ingest", "--config", str(config_file), str(log)],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
    )
    try:
        reader = _wait_for(lambda: _children(importer.pid), "the reading process to start")
        importer.kill()  # no chance to stop its reader
        importer.wait()
        _wait_for(lambda: not _alive(reader[0]), "the orphaned reader to exit", seconds=15)
    finally:
        importer.kill()


def _import(store: Store, path: Path, *, ahead: bool, progress: Any = None) -> Summary:
    validator = Validator(store.settings)
    reader = JsonLinesReader()
    return ingest_file(store, validator, reader, path, read_ahead=ahead, progress=progress)


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").glob("*/children")
    return [int(child) for task in tasks for child in task.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; init reaps it


def _wait_for(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)
    return found
