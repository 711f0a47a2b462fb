"""The quarantine after a fix: export the records as they came, replay them, and keep count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner, Result

from collector.cli import main
from tests.conftest import CHANNELS

T = "2026-11-01T10:00:0{}"
NAIVE = [  # written without an offset: rejected until default_timezone says what they mean
    {"id": "n1", "conversation_id": "q1", "type": "conversation_started",
     "timestamp": T.format(0), "channel": "chat"},
    {"id": "n2", "conversation_id": "q1", "type": "message", "author": "customer",
     "timestamp": T.format(1)},
]  # fmt: skip
GOOD = {"id": "g1", "conversation_id": "q2", "type": "conversation_started",
        "timestamp": "2026-11-01T10:00:00Z", "channel": "bot-chat"}  # fmt: skip


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def imported(config_file: Path, tmp_path: Path) -> Path:
    """A log of one good event, two naive timestamps and a line that is not JSON, imported."""
    log = tmp_path / "log.jsonl"
    lines = [orjson.dumps(e).decode() for e in (GOOD, *NAIVE)] + ["{not json"]
    log.write_text("\n".join(lines) + "\n")
    result = run("ingest", "--config", config_file, log)
    assert "4 lines: 1 taken as 1 event (1 new, 0 duplicates), 3 rejected" in result.stderr
    return log


def fixed(config_file: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(config_file.read_text())
    config_file.write_text(yaml.safe_dump({**data, "default_timezone": "UTC"}))
    return config_file


def started(config_file: Path) -> int:
    report = orjson.loads(run("report", "--config", config_file, "--format", "json").stdout)
    return sum(g["conversations_started"] for g in report["groups"])


def test_a_raw_export_is_the_records_as_they_came(imported: Path, config_file: Path, tmp_path):
    out = tmp_path / "rejected.jsonl"
    assert run("quarantine", "export", "--raw", "--config", config_file, "-o", out).exit_code == 0
    assert out.read_text().splitlines() == imported.read_text().splitlines()[1:]


def test_fixing_the_configuration_and_ingesting_the_raw_export_takes_the_records(
    imported: Path, config_file: Path, tmp_path: Path
):
    out = tmp_path / "rejected.jsonl"
    run("quarantine", "export", "--raw", "--reason", "offset", "--config", config_file, "-o", out)
    result = run("ingest", "--config", fixed(config_file), out)
    assert "2 lines: 2 taken as 2 events (2 new, 0 duplicates), 0 rejected" in result.stderr
    assert started(config_file) == 2


def test_a_replay_takes_what_passes_now_and_resolves_those_rows(imported: Path, config_file: Path):
    assert started(config_file) == 1
    replayed = run("quarantine", "replay", "--config", fixed(config_file))
    assert replayed.exit_code == 0
    assert replayed.stdout.splitlines()[0] == (
        "3 examined: 2 resolved (2 events accepted, 0 duplicates), 1 still rejected"
    )
    assert "1: not a JSON record" in replayed.stdout
    assert started(config_file) == 2
    listed = run("quarantine", "list", "--config", config_file)
    assert "{not json" in listed.stdout and "needs an offset" not in listed.stdout
    assert "2 resolved by replay, not shown (--all shows them)" in listed.stderr
    everything = run("quarantine", "list", "--all", "--config", config_file)
    assert everything.stdout.count("(resolved by replay)") == 2
    again = run("quarantine", "replay", "--config", config_file)
    assert again.stdout.startswith("1 examined: 0 resolved")
    assert started(config_file) == 2


def test_a_replay_under_the_same_configuration_changes_nothing(imported: Path, config_file: Path):
    replayed = run("quarantine", "replay", "--reason", "offset", "--config", config_file)
    assert replayed.stdout.startswith("2 examined: 0 resolved (0 events accepted")
    assert replayed.stdout.count(": field `timestamp`: needs an offset or Z") == 2
    assert started(config_file) == 1


def test_a_list_says_how_many_more_there_are_and_limit_zero_shows_all(
    imported: Path, config_file: Path
):
    short = run("quarantine", "list", "--limit", "1", "--config", config_file)
    assert short.stdout.count("\n    ") == 1
    assert "… 2 more (--limit 0 shows all)" in short.stderr
    everything = run("quarantine", "list", "--limit", "0", "--config", config_file)
    assert everything.stdout.count("\n    ") == 3
    assert "empty" not in everything.stderr


def test_an_empty_export_still_writes_an_empty_file(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"channels": CHANNELS, "database_url": f"sqlite:///{tmp_path}/q.db"})
    )
    run("db", "upgrade", "--config", config)
    out = tmp_path / "none.jsonl"
    assert run("quarantine", "export", "--raw", "--config", config, "-o", out).exit_code == 0
    assert out.exists() and out.read_text() == ""
    assert "the quarantine is empty" in run("quarantine", "list", "--config", config).stderr
