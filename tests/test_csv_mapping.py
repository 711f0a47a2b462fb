"""The declarative CSV/TSV mapping: every feature and every error, on small files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from collector.cli import main
from collector.database import open_store
from collector.errors import InputError
from collector.settings import parse_settings
from collector.sources.csvmap import MappedCsvReader
from collector.sources.csvspec import parse_mapping
from collector.sources.record import Record
from tests.conftest import CHANNELS

HEADER = "id,desk+line,day,opened,bot_done,agent_reply,closed,outcome,topic,score\n"
# Europe/Paris is UTC+1 in November: 10:00 local is 09:00Z.
BOT_ROW = "1,A1,2026-11-02,10:00:00,10:00:30,,10:01:00,bot,billing,5\n"
AGENT_ROW = "2,A1,2026-11-02,11:00:00,11:00:20,11:02:20,11:10:00,solved,login,\n"
LOST_ROW = "3,B7,2026-11-02,12:00:00,12:00:10,-,-,lost,billing,\n"
TEST_ROW = "4,B7,2026-11-02,13:00:00,13:00:10,,13:00:20,test,billing,\n"
CSV = HEADER + BOT_ROW + AGENT_ROW + LOST_ROW

MAPPING: dict[str, Any] = {
    "format": "csv",
    "nulls": ["", "-"],
    "column_nulls": {"agent_reply": ["0:00:00"]},
    "timestamps": {
        "format": "%H:%M:%S",
        "timezone": "Europe/Paris",
        "date": {"column": "day", "format": "%Y-%m-%d"},
        "rollover": {"reference": "opened"},
    },
    "constants": {"site": "paris"},
    "conversation_id": "{site}-{desk+line}-{id}",
    "attributes": {"topic": "topic", "site": "site"},
    "reject_when": [{"when": {"outcome": "test"}, "reason": "test calls are not customers"}],
    "events": [
        {"type": "conversation_started", "name": "start", "at": "opened", "channel": "bot-chat"},
        {"type": "handoff", "name": "to-agent", "at": "bot_done", "channel": "chat",
         "when": {"outcome": ["solved", "lost"]}},
        {"type": "message", "name": "reply", "author": "agent", "at": "agent_reply",
         "when": {"agent_reply": {"not": None}}},
        {"type": "resolved", "at": {"latest": ["closed", "agent_reply"]},
         "when": {"outcome": ["bot", "solved"]}},
        {"type": "abandoned", "at": ["closed", "bot_done"], "when": {"outcome": "lost"}},
        {"type": "csat", "at": "closed", "score": "score", "when": {"score": {"not": None}}},
    ],
}  # fmt: skip


def mapping_with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MAPPING)
    data.update(changes)
    return data


def write_mapping(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def read(
    tmp_path: Path, text: str, mapping: dict[str, Any] | None = None, **kw: Any
) -> list[Record]:
    data = tmp_path / "export.csv"
    data.write_bytes(text.encode())
    reader = MappedCsvReader(parse_mapping(mapping or MAPPING))
    return list(reader.records(data, **kw))


def only(records: list[Record]) -> Record:
    assert len(records) == 1, records
    return records[0]


def by_name(record: Record) -> dict[str, dict[str, Any]]:
    assert record.error is None, record.error
    return {item["id"].rsplit(":", 1)[1]: item for item in record.items}


# -- what a row becomes ---------------------------------------------------------------------


def test_it_turns_a_row_into_the_events_its_templates_select(tmp_path):
    record = only(read(tmp_path, HEADER + BOT_ROW))
    assert (record.line, record.raw) == (2, BOT_ROW.strip())
    assert record.items == [
        {"id": "paris-A1-1:start", "conversation_id": "paris-A1-1", "type": "conversation_started",
         "timestamp": "2026-11-02T09:00:00Z", "channel": "bot-chat",
         "attributes": {"topic": "billing", "site": "paris"}},
        {"id": "paris-A1-1:resolved", "conversation_id": "paris-A1-1", "type": "resolved",
         "timestamp": "2026-11-02T09:01:00Z", "attributes": {"topic": "billing", "site": "paris"}},
        {"id": "paris-A1-1:csat", "conversation_id": "paris-A1-1", "type": "csat",
         "timestamp": "2026-11-02T09:01:00Z", "score": 5,
         "attributes": {"topic": "billing", "site": "paris"}},
    ]  # fmt: skip


def test_it_emits_an_event_only_for_rows_whose_when_holds(tmp_path):
    agent, lost = (by_name(r) for r in read(tmp_path, HEADER + AGENT_ROW + LOST_ROW))
    assert list(agent) == ["start", "to-agent", "reply", "resolved"]  # one of; not null
    assert list(lost) == ["start", "to-agent", "abandoned"]  # equals; "-" is null: no reply


def test_it_takes_the_first_set_column_or_the_latest_of_several(tmp_path):
    agent, lost = (by_name(r) for r in read(tmp_path, HEADER + AGENT_ROW + LOST_ROW))
    assert agent["resolved"]["timestamp"] == "2026-11-02T10:10:00Z"  # latest of closed, reply
    assert lost["abandoned"]["timestamp"] == "2026-11-02T11:00:10Z"  # closed null: bot_done


def test_it_reads_null_markers_for_all_columns_and_for_one_column(tmp_path):
    row = "5,A1,2026-11-02,10:00:00,10:00:30,0:00:00,0:00:00,bot,billing,\n"
    record = only(read(tmp_path, HEADER + row))
    events = by_name(record)
    assert "reply" not in events  # 0:00:00 means "absent" in agent_reply only ...
    assert events["resolved"]["timestamp"] == "2026-11-02T23:00:00Z"  # ... in closed, a time
    assert "topic" in events["start"]["attributes"] and "csat" not in events  # "" is null


def test_it_puts_a_time_before_the_start_on_the_next_day(tmp_path):
    row = "6,A1,2026-11-02,23:50:00,23:55:00,,00:10:00,bot,billing,\n"
    events = by_name(only(read(tmp_path, HEADER + row)))
    assert events["start"]["timestamp"] == "2026-11-02T22:50:00Z"
    assert events["resolved"]["timestamp"] == "2026-11-02T23:10:00Z"  # 00:10 on 11-03, +01:00


def test_it_keeps_a_time_within_the_rollover_tolerance_on_its_day(tmp_path):
    mapping = mapping_with()
    mapping["timestamps"]["rollover"]["tolerance_seconds"] = 3600
    row = "7,A1,2026-11-02,10:00:00,09:59:00,,10:01:00,lost,billing,\n"  # clocks disagree
    events = by_name(only(read(tmp_path, HEADER + row, mapping)))
    assert events["to-agent"]["timestamp"] == "2026-11-02T08:59:00Z"  # not a day later


def test_it_can_take_a_column_of_seconds_off_a_time_and_shift_it(tmp_path):
    mapping = mapping_with()
    mapping["events"][1]["at"] = {"first": ["agent_reply"], "minus_column": "score"}
    mapping["events"][2]["at"] = {"first": ["agent_reply"], "plus_seconds": 0.5}
    row = "8,A1,2026-11-02,11:00:00,11:00:20,11:02:20,11:10:00,solved,login,40\n"
    events = by_name(only(read(tmp_path, HEADER + row, mapping)))
    assert events["to-agent"]["timestamp"] == "2026-11-02T10:01:40Z"
    assert events["reply"]["timestamp"] == "2026-11-02T10:02:20.500000Z"


def test_it_never_puts_an_event_before_the_one_it_must_follow(tmp_path):
    mapping = mapping_with()
    mapping["events"][3]["at"] = "closed"
    mapping["events"][3]["not_before"] = ["reply"]
    row = "9,A1,2026-11-02,11:00:00,11:00:20,11:02:20,11:02:19,solved,login,\n"
    events = by_name(only(read(tmp_path, HEADER + row, mapping)))
    assert events["resolved"]["timestamp"] == events["reply"]["timestamp"]


def test_it_accepts_any_of_several_when_conditions_and_tests_for_null(tmp_path):
    mapping = mapping_with()
    mapping["events"][4]["when"] = [{"outcome": "lost"}, {"closed": None, "outcome": "gone"}]
    row = "10,A1,2026-11-02,10:00:00,10:00:30,,,gone,billing,\n"
    events = by_name(only(read(tmp_path, HEADER + row, mapping)))
    assert events["abandoned"]["timestamp"] == "2026-11-02T09:00:30Z"


def test_it_reads_tab_separated_values_with_crlf_line_ends(tmp_path):
    text = (HEADER + BOT_ROW + AGENT_ROW).replace(",", "\t").replace("\n", "\r\n")
    records = read(tmp_path, text, mapping_with(format="tsv"))
    assert [r.line for r in records] == [2, 3]
    assert records[0].raw == BOT_ROW.strip().replace(",", "\t")
    assert records[1].end == len(text.encode())
    assert by_name(records[1])["reply"]["timestamp"] == "2026-11-02T10:02:20Z"


def test_it_reads_a_file_without_a_header_by_the_declared_columns(tmp_path):
    columns = HEADER.strip().split(",")
    record = only(read(tmp_path, BOT_ROW, mapping_with(header=False, columns=columns)))
    assert record.line == 1 and by_name(record)["start"]["conversation_id"] == "paris-A1-1"


def test_it_reads_iso_and_unix_times_in_the_mapping_zone_or_the_configured_one(tmp_path):
    text = "ref,start\nr1,2026-11-02T10:00:00+02:00\nr2,2026-11-02T10:00:00\n"
    events = [{"type": "conversation_started", "at": "start", "channel": "chat"}]
    iso = {"conversation_id": "{ref}", "events": events}
    zoned = {**iso, "timestamps": {"timezone": "Asia/Tokyo"}}
    stamps = [r.items[0]["timestamp"] for r in read(tmp_path, text, zoned)]
    assert stamps == ["2026-11-02T08:00:00Z", "2026-11-02T01:00:00Z"]
    data = tmp_path / "export.csv"
    configured = MappedCsvReader(parse_mapping(iso), fallback_zone="Europe/Paris")
    assert [r.items[0]["timestamp"] for r in configured.records(data)] == [
        "2026-11-02T08:00:00Z",
        "2026-11-02T09:00:00Z",
    ]
    unix = {**iso, "timestamps": {"format": "unix"}}
    record = only(read(tmp_path, "ref,start\nr1,1793527200.5\n", unix))
    assert record.items[0]["timestamp"] == "2026-11-01T10:00:00.500000Z"


def test_it_points_a_time_without_offset_or_zone_to_the_mappings_timezone(tmp_path):
    events = [{"type": "conversation_started", "at": "start", "channel": "chat"}]
    iso = {"conversation_id": "{ref}", "events": events}
    record = only(read(tmp_path, "ref,start\nr2,2026-11-02T10:00:00\n", iso))
    assert record.error == (
        "column `start`: '2026-11-02T10:00:00' has no UTC offset, and the mapping names no "
        "zone: set its `timestamps.timezone` to the zone of the export's times "
        "(event `conversation_started`)"
    )


# -- offsets, resuming, quoted line breaks ---------------------------------------------------


def test_it_resumes_from_a_byte_offset_and_still_knows_the_header(tmp_path):
    first, *_ = read(tmp_path, CSV)
    resumed = read(tmp_path, CSV, offset=first.end, line=first.line)
    assert [r.line for r in resumed] == [3, 4]
    assert by_name(resumed[0])["reply"]["conversation_id"] == "paris-A1-2"


def test_it_keeps_lines_and_offsets_exact_across_a_quoted_line_break(tmp_path):
    text = HEADER + BOT_ROW.replace("billing", '"bill\r\ning"') + AGENT_ROW
    records = read(tmp_path, text.replace("\n", "\r\n").replace("\r\r", "\r"))
    assert [r.line for r in records] == [3, 4]  # at its last line, so a resume counts on
    assert by_name(records[0])["start"]["attributes"]["topic"] == "bill\ning"
    again = read(
        tmp_path, text.replace("\n", "\r\n").replace("\r\r", "\r"), offset=records[0].end, line=3
    )
    assert [(r.line, r.end, r.raw) for r in again] == [(r.line, r.end, r.raw) for r in records[1:]]


def test_it_leaves_a_row_whose_quoted_field_is_still_being_written(tmp_path):
    text = HEADER + BOT_ROW + '2,A1,2026-11-02,11:00:00,11:00:20,,11:10:00,bot,"half\n'
    assert [r.line for r in read(tmp_path, text, complete_only=True)] == [2]


def test_it_quarantines_a_line_with_an_unbalanced_quote_and_reads_on(tmp_path):
    text = HEADER + BOT_ROW.replace("billing", 'bill"ing') + AGENT_ROW + LOST_ROW
    records = read(tmp_path, text)
    assert records[0].error is not None and "unbalanced quote" in records[0].error
    assert [(r.line, r.error) for r in records[1:]] == [(3, None), (4, None)]


# -- rows that are quarantined ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (BOT_ROW.replace("2026-11-02", "2026-13-02"),
         "column `day`: '2026-13-02' does not match date format '%Y-%m-%d'"),
        (BOT_ROW.replace("10:01:00", "10:61:00"),
         "column `closed`: '10:61:00' does not match time format '%H:%M:%S' (event `resolved`)"),
        (BOT_ROW.replace(",5\n", ",five\n"),
         "column `score`: 'five' is not an integer (event `csat`)"),
        (BOT_ROW.replace("1,A1", "1,"), "column `desk+line`: null, but `conversation_id` needs it"),
        (BOT_ROW.replace(",5\n", ",5,extra\n"), "the row has 11 fields; the header has 10"),
        (TEST_ROW, "rejected by `reject_when.0` (`outcome` is test): test calls are not customers"),
        (BOT_ROW.replace("10:01:00", ""),
         "column `closed`: null, and so are the others of `latest` (agent_reply), "
         "but the event needs a time (event `resolved`)"),
    ],
)  # fmt: skip
def test_it_quarantines_a_bad_row_naming_the_column_and_the_rule(tmp_path, row, message):
    record = only(read(tmp_path, HEADER + row))
    assert (record.line, record.items, record.error) == (2, [], message)


def test_it_quarantines_a_row_that_no_event_template_applies_to(tmp_path):
    mapping = mapping_with()
    mapping["events"][0]["when"] = {"outcome": {"not": "other"}}
    row = BOT_ROW.replace(",bot,", ",other,").replace(",5\n", ",\n")
    record = only(read(tmp_path, HEADER + row, mapping))
    assert record.error == (
        "no event template's `when` holds for this row "
        "(rows that are not events can be passed over with `skip_when`)"
    )


# -- mappings that are wrong -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"delimeter": ";"}, "`delimeter`: Extra inputs are not permitted"),
        ({"format": "xls"}, "`format`: Input should be 'csv' or 'tsv'"),
        ({"timestamps": {"timezone": "Europe/Pariss"}},
         "`timestamps.timezone`: unknown IANA time zone"),
        ({"timestamps": {"rollover": {"reference": "opened"}}}, "also give `date`"),
        ({"conversation_id": "fixed"}, "`conversation_id`: must name at least one {column}"),
        ({"events": []}, "`events` must list at least one event template"),
        ({"events": [{"type": "opened", "at": "x"}]}, "`events.0.type`: Input should be"),
        ({"events": [{"type": "message", "at": {"first": ["a"], "latest": ["b"]}}]},
         "`events.0.at`: give exactly one of"),
        ({"events": [{"type": "message", "at": "a", "when": {"x": {"equals": 1}}}]},
         "`events.0.when`: x: a mapping condition must be {not: ...}"),
        ({"events": [{"type": "message", "at": "a"}, {"type": "message", "at": "b"}]},
         "two events are named 'message'"),
        ({"events": [{"type": "resolved", "at": "a", "not_before": ["reply"]}]},
         "no earlier event 'reply'"),
        ({"reject_when": [{"when": {}, "reason": "x"}]}, "`reject_when.0.when`:"),
        ({"columns": ["id"]}, "`conversation_id` names column 'desk+line', not in `columns`"),
    ],
)  # fmt: skip
def test_it_refuses_a_wrong_mapping_naming_the_key(tmp_path, change, message):
    path = write_mapping(tmp_path / "mapping.yaml", mapping_with(**change))
    with pytest.raises(InputError, match=r"mapping\.yaml") as caught:
        MappedCsvReader.from_file(path)
    assert message in str(caught.value)


def test_it_refuses_a_mapping_that_is_not_yaml(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("events: [\n")
    with pytest.raises(InputError, match="not valid YAML"):
        MappedCsvReader.from_file(path)


def test_it_refuses_a_mapping_naming_a_column_the_file_lacks(tmp_path):
    mapping = mapping_with(attributes={"topic": "subject"})
    with pytest.raises(
        InputError, match=r"`attributes.topic` names column 'subject', which .* not have"
    ):
        read(tmp_path, CSV, mapping)


# -- through the command line ---------------------------------------------------------------


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str | Path) -> Any:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    return write_mapping(tmp_path / "mapping.yaml", MAPPING)


def ingest(cli: Any, config: Path, mapping: Path, data: Path) -> dict[str, Any]:
    result = cli("ingest", "--config", config, "--mapping", mapping, "--json", data)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def channel_groups(cli: Any, *args: str | Path) -> dict[str, Any]:
    result = cli("report", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return {g["channel"]: g for g in report["groups"]} | {"events": report["events"]}


def test_it_imports_a_csv_and_quarantines_rejected_rows(
    cli, config_file, mapping_file, tmp_path, database_url
):
    data = tmp_path / "export.csv"
    data.write_text(CSV + TEST_ROW)
    summary = ingest(cli, config_file, mapping_file, data)
    assert (summary["accepted"], summary["rejected"]) == (3 + 4 + 3, 1)
    groups = channel_groups(cli, "--config", config_file)
    assert groups["bot-chat"]["conversations_started"] == 3
    assert groups["bot-chat"]["segments"] == {
        "ended": 3,
        "resolved": 1,
        "escalated": 2,
        "abandoned": 0,
    }
    assert groups["chat"]["segments"] == {"ended": 2, "resolved": 1, "escalated": 0, "abandoned": 1}
    assert groups["chat"]["first_response_seconds"]["max"] == 120.0
    assert groups["bot-chat"]["csat"]["responses"] == 1
    settings = parse_settings({"channels": CHANNELS, "database_url": database_url})
    store = open_store(settings)
    [row] = store.quarantined()
    store.engine.dispose()
    assert row.position.endswith("export.csv:5") and row.raw == TEST_ROW.strip()
    assert row.reason.endswith("test calls are not customers")


def test_it_adds_nothing_twice_when_a_csv_is_imported_again(
    cli, config_file, mapping_file, tmp_path
):
    data = tmp_path / "export.csv"
    data.write_text(CSV)
    ingest(cli, config_file, mapping_file, data)
    assert ingest(cli, config_file, mapping_file, data)["accepted"] == 0
    groups = channel_groups(cli, "--config", config_file)
    assert groups["events"] == {"accepted": 10, "duplicates": 0, "rejected": 0}


def test_it_imports_only_the_new_rows_of_a_grown_csv(cli, config_file, mapping_file, tmp_path):
    data = tmp_path / "export.csv"
    data.write_text(HEADER + BOT_ROW)
    assert ingest(cli, config_file, mapping_file, data)["accepted"] == 3
    with data.open("a") as handle:
        handle.write(AGENT_ROW + LOST_ROW)
    summary = ingest(cli, config_file, mapping_file, data)
    assert (summary["accepted"], summary["duplicates"]) == (7, 0)
    assert channel_groups(cli, "--config", config_file)["bot-chat"]["conversations_started"] == 3


def test_it_reports_straight_from_a_csv_file_without_a_database(cli, mapping_file, tmp_path):
    config = tmp_path / "offline.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS}))
    data = tmp_path / "export.csv"
    data.write_text(CSV + TEST_ROW)
    groups = channel_groups(cli, "--config", config, "--mapping", mapping_file, data)
    assert groups["chat"]["resolution_seconds"]["max"] == 600.0  # 11:00 → 11:10, cycle start
    assert groups["events"] == {"accepted": 10, "duplicates": 0, "rejected": 1}


def test_it_stops_an_import_with_exit_2_when_the_mapping_is_wrong(cli, config_file, tmp_path):
    mapping = write_mapping(tmp_path / "mapping.yaml", mapping_with(attributes={"topic": "subj"}))
    data = tmp_path / "export.csv"
    data.write_text(CSV)
    result = cli("ingest", "--config", config_file, "--mapping", mapping, data)
    assert result.exit_code == 2
    assert "`attributes.topic` names column 'subj'" in result.output
