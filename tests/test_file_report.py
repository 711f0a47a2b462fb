"""`report` straight from files: a messy log read in buckets gives the database's report."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector import buckets, early, offline
from collector.batch import CONFLICT
from collector.demo import DemoSpec, generate
from collector.early import EarlyReplay
from collector.offline import FileLog, read_files
from collector.schema import Validator
from collector.settings import parse_settings
from collector.sources.jsonl import JsonLinesReader
from tests.conftest import CHANNELS


@pytest.fixture
def messy_log(tmp_path: Path) -> Path:
    """Demo conversations shuffled, with repeated lines, conflicting repeats of an id and
    events arriving long after the rest of their conversation."""
    rng = random.Random(7)
    lines = list(generate(DemoSpec(seed=3), conversations=300))
    repeats = rng.sample(lines, 200)
    conflicts = []
    for line in rng.sample(lines, 50):
        event = orjson.loads(line)
        event["timestamp"] = event["timestamp"].replace("Z", "+00:00")  # same instant
        event["conversation_id"] += "-moved"  # but another conversation: a conflict
        conflicts.append(orjson.dumps(event).decode() + "\n")
    late = [lines.pop(rng.randrange(len(lines))) for _ in range(100)]
    rng.shuffle(lines)
    mixed = lines + repeats + conflicts
    rng.shuffle(mixed)
    path = tmp_path / "messy.jsonl"
    path.write_text("".join(mixed + late))
    return path


@pytest.fixture
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets that write to their temporary files after a few events, as at 1M."""
    monkeypatch.setattr(buckets, "SPILL_AT", 8)
    monkeypatch.setattr(offline, "IN_MEMORY_BYTES", 0)


@pytest.mark.usefixtures("small_buckets")
@pytest.mark.parametrize("group_by", ["channel", "kind", "topic"])
def test_a_shuffled_log_with_repeats_conflicts_and_late_events_reports_as_the_database(
    cli, config_file, messy_log, group_by
):
    summary = orjson.loads(cli("ingest", "--config", config_file, "--json", messy_log).stdout)
    assert (summary["duplicates"], summary["rejected"]) == (200, 50)
    assert [rule["rule"] for rule in summary["rejected_by_rule"]] == [CONFLICT]
    args = ("report", "--config", config_file, "--format", "json", "--group-by", group_by)
    assert cli(*args, messy_log).stdout == cli(*args).stdout


def test_the_report_of_a_file_does_not_depend_on_the_order_of_its_lines(cli, tmp_path):
    config = tmp_path / "offline.yaml"
    config.write_text(orjson.dumps({"channels": CHANNELS}).decode())  # YAML reads JSON
    lines = list(generate(DemoSpec(seed=4), conversations=300))
    in_order = tmp_path / "in-order.jsonl"
    in_order.write_text("".join(lines))
    random.Random(4).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(lines))
    args = ("report", "--config", config, "--format", "json")
    assert cli(*args, in_order).stdout == cli(*args, shuffled).stdout


@pytest.mark.usefixtures("small_buckets")
def test_reading_a_file_keeps_at_most_a_buffer_per_bucket_in_memory(messy_log):
    log = FileLog(Validator(parse_settings({"channels": CHANNELS})))
    log.read(JsonLinesReader(), messy_log)
    in_memory = sum(len(bucket.pending) for bucket in log.buckets)
    assert log.summary.accepted > offline.BUCKETS * buckets.SPILL_AT >= in_memory
    assert sum(1 for _ in log.facts()) == sum(1 for _ in log.facts())  # read again from disk
    log.close()


def test_a_small_input_is_read_in_memory_into_the_facts_a_spilled_one_gives(messy_log, monkeypatch):
    validator = Validator(parse_settings({"channels": CHANNELS}))
    with read_files(validator, [(JsonLinesReader(), messy_log)]) as in_memory:
        assert not in_memory.buckets  # no bucket, no temporary file
        held = sorted(in_memory.facts(), key=repr), in_memory.summary.as_dict()
    monkeypatch.setattr(buckets, "SPILL_AT", 8)
    monkeypatch.setattr(offline, "IN_MEMORY_BYTES", 0)
    with read_files(validator, [(JsonLinesReader(), messy_log)]) as spilled:
        assert any(bucket.file for bucket in spilled.buckets)
        assert (sorted(spilled.facts(), key=repr), spilled.summary.as_dict()) == held


@pytest.fixture
def in_conversation_order(tmp_path: Path) -> Path:
    """Demo conversations one after another, as an export by conversation writes them."""
    path = tmp_path / "by-conversation.jsonl"
    path.write_text("".join(generate(DemoSpec(seed=5), conversations=300)))
    return path


@pytest.fixture
def second_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any file is validated in a second process, on any machine; the names of the
    processes started are listed."""
    started: list[str] = []
    real = offline.offloaded

    def counted(produce: Any, work: Any, name: str) -> Any:
        started.append(name)
        return real(produce, work, name)

    monkeypatch.setattr(offline, "OFFLOAD_BYTES", 0)
    monkeypatch.setattr(offline, "cores", lambda: 2)
    monkeypatch.setattr(offline, "offloaded", counted)
    return started


@pytest.mark.usefixtures("small_buckets")
@pytest.mark.parametrize(
    "window", [(), ("--from", "2026-11-02T00:00:00Z", "--to", "2026-11-05T12:00:00Z")]
)
def test_a_log_by_conversation_is_replayed_as_it_is_read_into_the_databases_report(
    cli, config_file, in_conversation_order, monkeypatch, window
):
    monkeypatch.setattr(early, "HELD", 40)  # a few conversations held at a time
    given_up: list[bool] = []
    real = EarlyReplay.finish

    def finish(self: EarlyReplay) -> Any:
        given_up.append(self.given_up)
        return real(self)

    monkeypatch.setattr(EarlyReplay, "finish", finish)
    cli("ingest", "--config", config_file, in_conversation_order)
    args = ("report", "--config", config_file, "--format", "json", *window)
    assert cli(*args, in_conversation_order).stdout == cli(*args).stdout
    assert given_up == [False]  # replayed early, not from the buckets


@pytest.mark.usefixtures("small_buckets")
def test_a_large_file_is_validated_in_a_second_process_into_the_same_report(
    cli, config_file, messy_log, second_process
):
    args = ("report", "--config", config_file, "--format", "json", messy_log)
    offloaded = cli(*args).stdout
    assert second_process == ["touchmetrics-reader"]
    with pytest.MonkeyPatch.context() as here:
        here.setattr(offline, "OFFLOAD_BYTES", 1 << 40)
        assert cli(*args).stdout == offloaded
    assert second_process == ["touchmetrics-reader"]  # the second run read it here


def test_an_error_in_the_second_process_stops_the_report_with_its_message(
    cli, config_file, tmp_path, second_process
):
    array = tmp_path / "array.json"
    array.write_text('[{"id": "a"}]\n')
    result = cli("report", "--config", config_file, array)
    assert second_process == ["touchmetrics-reader"]
    assert result.exit_code == 2
    assert "holds a JSON array, but files must be JSON Lines" in result.output
