"""A file that is not JSON Lines gets one error saying what it is and what to do, not a
rejection per line."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml

from tests.conftest import CHANNELS
from tests.events import CONVERSATION


@pytest.fixture
def offline_config(tmp_path: Path) -> Path:
    path = tmp_path / "offline.yaml"
    path.write_text(yaml.safe_dump({"channels": CHANNELS}))
    return path


def test_a_json_array_file_is_refused_once_with_the_jq_command_to_convert_it(
    cli, config_file, tmp_path, database_url
):
    path = tmp_path / "events.json"
    path.write_text(json.dumps(CONVERSATION, indent=2))
    result = cli("ingest", "--config", config_file, path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path} holds a JSON array, but files must be JSON Lines: one event object "
        f"per line. Convert it with: jq -c '.[]' {path} > events.jsonl\n"
    )
    counts = cli("report", "--config", config_file, "--format", "json").stdout
    assert json.loads(counts)["events"] == {"accepted": 0, "duplicates": 0, "rejected": 0}


def test_a_pretty_printed_object_is_refused_with_the_jq_command_to_compact_it(
    cli, offline_config, tmp_path
):
    path = tmp_path / "events.jsonl"
    path.write_text("\n\n" + "\n".join(json.dumps(e, indent=2) for e in CONVERSATION))
    result = cli("report", "--config", offline_config, path)
    assert result.exit_code == 2
    assert "holds JSON written over several lines (pretty-printed)" in result.stderr
    assert f"jq -c . {path} > events.jsonl" in result.stderr


def test_a_csv_export_without_a_mapping_is_told_it_needs_one_whatever_its_name(
    cli, offline_config, tmp_path
):
    path = tmp_path / "export.txt"
    path.write_text("ticket,opened,closed\nT1,2026-11-01 10:00,2026-11-01 11:00\n")
    result = cli("report", "--config", offline_config, path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path} looks like CSV/TSV (its first line: 'ticket,opened,closed'): a "
        "CSV/TSV export needs --mapping, a YAML file saying which columns make which events "
        "(docs/mapping.md)\n"
    )
    named = tmp_path / "export.tsv"
    named.write_text("ticket\topened\n")
    assert "a CSV/TSV export needs --mapping" in cli("report", named).stderr


def test_json_lines_with_one_broken_line_is_still_read_line_by_line(cli, offline_config, tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [orjson.dumps(e).decode() for e in CONVERSATION]
    path.write_text("\n".join([lines[0], '{"type": "message", "text": "a, b"', *lines[1:]]))
    report = json.loads(cli("report", "--config", offline_config, "--format", "json", path).stdout)
    assert report["events"] == {"accepted": len(CONVERSATION), "duplicates": 0, "rejected": 1}
