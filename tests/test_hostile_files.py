"""Hostile input through `touchmetrics ingest` and `report`, on SQLite and PostgreSQL.

The same limits hold for files as for HTTP (tests/test_hostile_input.py): a bad line is
quarantined with its file, line and reason, every other line is imported, and a second
run of the same import adds nothing and fails nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner

from collector.cli import main
from tests.hostile import TIMESTAMPS_IN, TIMESTAMPS_OUT, attributes, good, nested, with_field


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str | Path):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def ingest(cli, config: Path, *files: Path, mapping: Path | None = None) -> dict:
    extra = ("--mapping", mapping) if mapping else ()
    result = cli("ingest", "--config", config, *extra, "--json", *files)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def quarantine(cli, config: Path) -> dict[str, dict]:
    """The quarantine by position (file:line)."""
    out = cli("quarantine", "export", "--config", config).stdout
    return {item["position"]: item for item in map(json.loads, out.splitlines())}


def lines(*items: dict | bytes) -> bytes:
    return b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)


NUL_LINE = b'{"id": "x\x00", "conversation_id": "c", "type": "resolved", "timestamp": 0}'
BAD_UTF8 = b'{"id": "caf\xe9", "conversation_id": "c", "type": "resolved", "timestamp": 0}'


def test_it_imports_a_file_around_nul_bytes_and_invalid_utf8_and_again_adds_nothing(
    cli, config_file, tmp_path
):
    log = tmp_path / "log.jsonl"
    escaped_nul = {**good(3), "id": "e\x003"}
    log.write_bytes(lines(good(0), NUL_LINE, escaped_nul, BAD_UTF8, good(4)))
    first = ingest(cli, config_file, log)
    assert (first["records"], first["accepted"], first["rejected"]) == (5, 2, 3)
    where = f"{log.resolve()}:"
    held = quarantine(cli, config_file)
    assert (
        held[f"{where}2"]["reason"] == "a NUL byte (U+0000) at column 10: no input may contain NUL"
    )
    assert held[f"{where}2"]["raw"] == NUL_LINE.decode().replace("\x00", "\\u0000")
    assert held[f"{where}3"]["reason"].startswith("field `id`: must not contain NUL (U+0000)")
    assert held[f"{where}4"]["reason"] == "invalid UTF-8 at column 12 (byte 0xe9)"
    assert held[f"{where}4"]["raw"] == BAD_UTF8.decode("utf-8", "backslashreplace")
    again = ingest(cli, config_file, log)
    assert again["records"] == 0  # resumed after the last line: nothing read twice
    replayed = cli("quarantine", "replay", "--config", config_file)
    assert replayed.exit_code == 0  # the escaped records are refused again, not a fault
    assert "3 examined: 0 resolved (0 events accepted, 0 duplicates), 3 still rejected" in (
        replayed.stdout
    )
    report = json.loads(cli("report", "--config", config_file, "--format", "json").stdout)
    assert report["events"] == {"accepted": 2, "duplicates": 0, "rejected": 3}


def test_it_applies_the_schema_limits_to_a_file_as_to_http(cli, config_file, tmp_path):
    out_of_range = [
        {**good(1), "id": f"out{i}", "timestamp": t} for i, t in enumerate(TIMESTAMPS_OUT)
    ]
    in_range = [{**good(2), "id": f"in{i}", "timestamp": t} for i, t in enumerate(TIMESTAMPS_IN)]
    over = [
        {**good(3), "attributes": attributes(keys=33)},
        {**good(3), "attributes": attributes(key_length=65)},
        {**good(3), "attributes": attributes(value_length=1025)},
        {**good(3), "type": "y" * 100_000},
    ]
    log = tmp_path / "limits.jsonl"
    log.write_bytes(lines(good(0), *out_of_range, *in_range, *over))
    result = ingest(cli, config_file, log)
    assert result["records"] == 1 + len(out_of_range) + len(in_range) + len(over)
    assert result["accepted"] == 1 + len(in_range)
    assert result["rejected"] == len(out_of_range) + len(over)
    reasons = [item["reason"] for item in quarantine(cli, config_file).values()]
    assert all(r.startswith("field `timestamp`: out of range: ") for r in reasons[:7])
    assert reasons[7:10] == [
        "field `attributes`: at most 32 keys (got 33)",
        "field `attributes`: a key of at most 64 characters (got '00000000000000000000000000000"
        "000000000000000000000000000000000000')",
        "field `attributes.00000`: at most 1024 characters (got 1025)",
    ]
    assert reasons[10].startswith("field `type`: must be one of ") and len(reasons[10]) < 400
    # The report straight from the file sees exactly what the database holds.
    args = ("report", "--config", config_file, "--format", "json")
    assert cli(*args).stdout == cli(*args, log).stdout


def test_it_reads_a_file_that_begins_with_a_byte_order_mark(cli, config_file, tmp_path):
    log = tmp_path / "bom.jsonl"
    log.write_bytes(b"\xef\xbb\xbf" + lines(good(0), good(1)))
    assert ingest(cli, config_file, log)["accepted"] == 2


def test_it_imports_around_a_line_nested_1000_deep_that_hides_a_nul(cli, config_file, tmp_path):
    deep = with_field(good(1), "extra", nested(1000, '"x"')).encode()
    poisoned = with_field(good(2), "extra", nested(1000, '"\\u0000"')).encode()
    log = tmp_path / "deep.jsonl"
    log.write_bytes(lines(good(0), deep, poisoned))
    result = ingest(cli, config_file, log)
    assert (result["records"], result["accepted"], result["rejected"]) == (3, 2, 1)
    (held,) = quarantine(cli, config_file).values()
    assert held["reason"].startswith("field `extra[0][0][0]")
    assert "must not contain NUL (U+0000)" in held["reason"] and len(held["reason"]) < 400
    assert held["raw"] == poisoned.decode()
    # Straight from the file (as `check` reads its logs), the same line is refused alike.
    offline = json.loads(cli("report", "--config", config_file, "--format", "json", log).stdout)
    assert offline["events"] == {"accepted": 2, "duplicates": 0, "rejected": 1}


MAPPING = {
    "format": "csv",
    "timestamps": {"format": "iso"},
    "conversation_id": "{ticket}",
    "events": [{"type": "conversation_started", "at": "opened", "channel": "chat"}],
}


def test_it_quarantines_a_csv_row_holding_invalid_utf8_or_a_nul(cli, config_file, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING))
    data = tmp_path / "export.csv"
    data.write_bytes(
        b"ticket,opened\n"
        b"t1,2026-11-01T10:00:00Z\n"
        b"t\xff2,2026-11-01T10:00:00Z\n"
        b"t3\x00,2026-11-01T10:00:00Z\n"
        b"t4,2026-11-01T10:00:00Z\n"
    )
    result = ingest(cli, config_file, data, mapping=mapping)
    assert (result["records"], result["accepted"], result["rejected"]) == (4, 2, 2)
    held = quarantine(cli, config_file)
    where = f"{data.resolve()}:"
    assert held[f"{where}3"]["reason"] == "invalid UTF-8 at column 2 (byte 0xff)"
    assert (
        held[f"{where}4"]["reason"] == "a NUL byte (U+0000) at column 3: no input may contain NUL"
    )


@pytest.mark.parametrize("option", ["--from", "--to"])
@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1969-12-31T23:59:59Z"]
)
def test_it_exits_two_naming_a_report_bound_out_of_range(cli, config_file, tmp_path, option, value):
    log = tmp_path / "log.jsonl"
    log.write_bytes(lines(good(0)))
    for files in ((), (log,)):  # from the database, and straight from the file
        result = cli("report", "--config", config_file, option, value, *files)
        assert result.exit_code == 2
        assert f"`{option[2:]}`: out of range: must fall in [1970-01-01T00:00:00Z" in result.stderr


def test_it_refuses_a_mapping_whose_text_holds_a_nul(cli, config_file, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    held = {**MAPPING, "constants": {"site": "paris\x00"}, "conversation_id": "{site}-{ticket}"}
    mapping.write_text(yaml.safe_dump(held))
    data = tmp_path / "export.csv"
    data.write_bytes(b"ticket,opened\nt1,2026-11-01T10:00:00Z\n")
    result = cli("ingest", "--config", config_file, "--mapping", mapping, data)
    assert result.exit_code == 2
    assert "`constants.site`: no text may contain NUL (U+0000)" in result.stderr
