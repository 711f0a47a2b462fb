"""An import's account of every row: taken as events, skipped or rejected (grouped by rule),
one id never made twice silently, and a checkpoint per file and mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector import offline
from collector.database import open_store
from collector.rejections import rule_of
from collector.settings import parse_settings
from tests.conftest import CHANNELS
from tests.test_csv_messages import HEADER, MESSAGES, THREAD

REPLY_TWICE = "101,100.0,Acme Help,False,2026-11-02T10:06:00Z\n"  # id 101 again, other time
BAD_TIME = "104,103.0,Acme Help,False,2026-11-02T10:61:00Z\n"
OTHER_BAD_TIME = "105,103.0,Acme Help,False,yesterday\n"


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    path = tmp_path / "messages.yaml"
    path.write_text(yaml.safe_dump(MESSAGES, sort_keys=False))
    return path


def export(tmp_path: Path, rows: list[str], name: str = "messages.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows))
    return path


def ingest_json(cli: Any, config: Path, mapping: Path, data: Path, *more: str) -> dict[str, Any]:
    result = cli("ingest", "--config", config, "--mapping", mapping, "--json", *more, data)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def quarantined(database_url: str) -> list[Any]:
    with open_store(parse_settings({"channels": CHANNELS, "database_url": database_url})) as s:
        return s.quarantined()


# -- one id, two rows -------------------------------------------------------------------------


def test_it_refuses_a_second_row_making_an_id_with_other_content_naming_both_rows(
    cli, config_file, mapping_file, tmp_path, database_url
):
    data = export(tmp_path, [*THREAD, REPLY_TWICE])
    summary = ingest_json(cli, config_file, mapping_file, data)
    assert (summary["taken"], summary["rejected"], summary["accepted"]) == (4, 1, 5)
    source = str(data.resolve())
    [row] = quarantined(database_url)
    assert (row.position, row.raw) == (f"{source}:6", REPLY_TWICE.strip())
    assert row.reason == (
        f"field `id`: '101' is also the id of an event of {source}:3 with other content: the "
        "mapping makes one id from two rows; give the event an `id` template that tells them "
        "apart"
    )


def test_it_counts_a_row_repeated_word_for_word_as_duplicates_not_a_conflict(
    cli, config_file, mapping_file, tmp_path, database_url
):
    data = export(tmp_path, [*THREAD, THREAD[1]])
    summary = ingest_json(cli, config_file, mapping_file, data)
    assert (summary["taken"], summary["accepted"], summary["duplicates"]) == (5, 5, 1)
    assert quarantined(database_url) == []


def test_it_names_both_rows_when_reporting_straight_from_the_file(cli, mapping_file, tmp_path):
    config = tmp_path / "offline.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS}))
    data = export(tmp_path, [*THREAD, REPLY_TWICE])
    result = cli("report", "--config", config, "--mapping", mapping_file, "--format", "json", data)
    report = json.loads(result.stdout)
    assert report["events"] == {"accepted": 5, "duplicates": 0, "rejected": 1}
    assert report["groups"][0]["response_seconds"]["n"] == 2  # 10:05 and 10:08, not 10:06


def test_a_mapped_export_validated_in_a_second_process_reports_as_one_read_here(
    cli, mapping_file, tmp_path, monkeypatch
):
    config = tmp_path / "offline.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS}))
    rows = [*THREAD[:2], HEADER, *THREAD[2:], BAD_TIME, REPLY_TWICE, THREAD[1]]
    data = export(tmp_path, rows)
    args = ("report", "--config", config, "--mapping", mapping_file, "--format", "json", data)
    here = cli(*args).stdout
    monkeypatch.setattr(offline, "OFFLOAD_BYTES", 0)  # any file: a second process
    monkeypatch.setattr(offline, "cores", lambda: 2)
    started: list[str] = []
    real = offline.offloaded
    monkeypatch.setattr(offline, "offloaded", lambda *a: started.append(a[-1]) or real(*a))
    assert cli(*args).stdout == here
    assert started == ["touchmetrics-reader"]
    # the ledger's conflict, a bad time and a repeated row, as the import counts them
    assert json.loads(here)["events"] == {"accepted": 5, "duplicates": 1, "rejected": 2}


# -- rows add up ------------------------------------------------------------------------------


def test_it_accounts_for_every_row_in_text_and_json(cli, config_file, mapping_file, tmp_path):
    rows = [*THREAD[:2], HEADER, *THREAD[2:], BAD_TIME, OTHER_BAD_TIME]
    data = export(tmp_path, rows)
    text = cli("ingest", "--config", config_file, "--mapping", mapping_file, data)
    source = str(data.resolve())
    assert text.exit_code == 0
    assert text.stderr == (
        f"{data}: 7 rows: 4 taken as 5 events (5 new, 0 duplicates), 1 skipped, 2 rejected\n"
        "skipped by reason:\n"
        "         1  a header row, repeated\n"
        "rejected by rule (count, then the first of them):\n"
        f"         2  {source}:7: column `created_at`: '2026-11-02T10:61:00Z' does not match "
        "time format 'iso' (event `reply`)\n"
        f"see every one with `touchmetrics quarantine list --config {config_file}`\n"
    )
    again = ingest_json(cli, config_file, mapping_file, data, "--restart")
    assert {k: again[k] for k in ("records", "taken", "skipped", "rejected")} == {
        "records": 7, "taken": 4, "skipped": 1, "rejected": 2,
    }  # fmt: skip
    assert (again["events"], again["accepted"], again["duplicates"]) == (5, 0, 5)
    assert again["skipped_by_reason"] == {"a header row, repeated": 1}
    assert again["rejected_by_rule"] == [
        {"rule": "column `created_at`: … does not match time format … (event `reply`)",
         "count": 2,
         "example": {"position": f"{source}:7",
                     "reason": "column `created_at`: '2026-11-02T10:61:00Z' does not match "
                               "time format 'iso' (event `reply`)"}},
    ]  # fmt: skip


def test_a_clean_import_with_skipped_rows_leaves_the_quarantine_empty(
    cli, config_file, mapping_file, tmp_path, database_url
):
    data = export(tmp_path, [*THREAD[:2], HEADER, *THREAD[2:]])
    summary = ingest_json(cli, config_file, mapping_file, data, "--strict")
    assert (summary["skipped"], summary["rejected"]) == (1, 0)
    assert quarantined(database_url) == []


@pytest.mark.parametrize(
    ("reason", "rule"),
    [("(row of lines 3-5) column `closed`: '10:61:00' does not match time format '%H:%M:%S' "
      "(event `resolved`)",
      "column `closed`: … does not match time format … (event `resolved`)"),
     ("field `timestamp`: needs an offset or Z (got '2026-11-01T10:00:00'); or configure "
      "default_timezone",
      "field `timestamp`: needs an offset or Z (got …); or configure default_timezone"),
     ("the row has 11 fields; the header has 10", "the row has N fields; the header has N"),
     ("invalid JSON: unexpected character at column 17", "invalid JSON: unexpected character "
      "at column N"),
     ("column `q2`: \"it's\" is not an integer", "column `q2`: … is not an integer"),
     ("set the mapping's `timestamps.timezone` to the export's zone",
      "set the mapping's `timestamps.timezone` to the export's zone")],
)  # fmt: skip
def test_a_rule_is_its_reason_without_the_values_and_positions(reason, rule):
    assert rule_of(reason) == rule


# -- checkpoints per file and mapping ---------------------------------------------------------


def test_another_mapping_reads_a_file_again_and_every_output_says_where_it_resumed(
    cli, config_file, mapping_file, tmp_path
):
    data = export(tmp_path, THREAD[:2])
    assert ingest_json(cli, config_file, mapping_file, data)["accepted"] == 3
    with data.open("a") as handle:
        handle.write("".join(THREAD[2:]))
    grown = ingest_json(cli, config_file, mapping_file, data)
    assert (grown["records"], grown["accepted"]) == (2, 2)
    assert grown["files"][0]["resumed_after_line"] == 3
    text = cli("ingest", "--config", config_file, "--mapping", mapping_file, data)
    assert text.stderr.startswith(f"{data} (resumed after line 5): 0 rows: 0 taken")
    other = tmp_path / "other.yaml"
    changed = {**MESSAGES, "attributes": {"account": "account", "inbound": "inbound"}}
    other.write_text(yaml.safe_dump(changed, sort_keys=False))
    anew = ingest_json(cli, config_file, other, data)  # other events: read from the start
    assert (anew["files"][0]["resumed_after_line"], anew["records"]) == (0, 4)


def test_restart_reads_the_file_from_its_start_and_adds_nothing_twice(
    cli, config_file, mapping_file, tmp_path
):
    data = export(tmp_path, THREAD)
    ingest_json(cli, config_file, mapping_file, data)
    again = ingest_json(cli, config_file, mapping_file, data, "--restart")
    assert (again["files"][0]["resumed_after_line"], again["records"]) == (0, 4)
    assert (again["accepted"], again["duplicates"]) == (0, 5)


def test_strict_still_fails_a_resumed_import_of_a_file_that_had_rejections(
    cli, config_file, mapping_file, tmp_path
):
    data = export(tmp_path, [*THREAD[:2], BAD_TIME])
    args = ("ingest", "--config", config_file, "--mapping", mapping_file, "--strict")
    assert cli(*args, data).exit_code == 1
    with data.open("a") as handle:
        handle.write("".join(THREAD[2:]))
    resumed = cli(*args, data)
    assert resumed.exit_code == 1
    assert "(resumed after line 4)" in resumed.stderr
    assert resumed.stderr.rstrip().endswith("0 rejected; earlier runs rejected 1")
    assert cli(*args, "--restart", export(tmp_path, THREAD)).exit_code == 0


# -- a row is taken whole or not at all -------------------------------------------------------


def test_a_row_with_an_event_conflicting_with_a_stored_one_is_refused_whole(
    cli, config_file, mapping_file, tmp_path, database_url
):
    ingest_json(cli, config_file, mapping_file, export(tmp_path, THREAD))
    # Post 102 again, now as the first post of a thread: "102:start" is new, but "102" is
    # stored with other content. The reply 300 to it stands alone.
    clash = "102,,Acme Help,True,2026-11-02T12:00:00Z\n"
    reply = "300,102.0,Acme Help,False,2026-11-02T12:05:00Z\n"
    data = export(tmp_path, [clash, reply], name="later.csv")
    summary = ingest_json(cli, config_file, mapping_file, data)
    assert (summary["taken"], summary["rejected"], summary["accepted"]) == (1, 1, 1)
    [row] = quarantined(database_url)
    assert (row.position, row.raw) == (f"{data.resolve()}:2", clash.strip())
    assert row.reason == "field `id`: already used by an event with different content (conflict)"
    settings = parse_settings({"channels": CHANNELS, "database_url": database_url})
    with open_store(settings) as store, store.engine.connect() as conn:
        ids = {r[0] for r in conn.exec_driver_sql("SELECT id FROM events")}
        stored = conn.exec_driver_sql(
            "SELECT events FROM conversations WHERE id = 't-102'"
        ).scalar_one()
    assert "102:start" not in ids and "300" in ids
    assert stored == 1  # replayed from what was stored, not as prepared from the batch
    report = json.loads(cli("report", "--config", config_file, "--format", "json").stdout)
    [acme] = [g for g in report["groups"] if g["channel"] == "acme-help"]
    assert acme["conversations_started"] == 1
    assert report["events"] == {"accepted": 6, "duplicates": 0, "rejected": 1}
