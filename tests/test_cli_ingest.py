"""`touchmetrics ingest`, `report` and `quarantine` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner

from collector.cli import main
from tests.conftest import CHANNELS, REPO
from tests.events import CONVERSATION, start


@pytest.fixture
def cli():
    runner = CliRunner(env={"COLUMNS": "240"})  # a wide terminal: channels side by side

    def invoke(*args: str | Path):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def jsonl(path: Path, events: list[dict], *, append: bool = False) -> Path:
    with path.open("a" if append else "w") as handle:
        for event in events:
            handle.write(orjson.dumps(event).decode() + "\n")
    return path


def test_it_imports_a_log_and_reports_it(cli, config_file, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", CONVERSATION)
    result = cli("ingest", "--config", config_file, "--json", log)
    assert result.exit_code == 0
    totals = {
        "records": 7, "taken": 7, "skipped": 0, "rejected": 0,
        "events": 7, "accepted": 7, "duplicates": 0,
        "skipped_by_reason": {}, "rejected_by_rule": [], "earlier_rejected": 0,
    }  # fmt: skip
    assert json.loads(result.stdout) == {
        **totals,
        "files": [{"path": str(log), **totals, "resumed_after_line": 0}],
    }
    report = json.loads(cli("report", "--config", config_file, "--format", "json").stdout)
    groups = {g["channel"]: g for g in report["groups"]}
    assert list(groups) == ["bot-chat", "chat", "email", "phone", "voice-bot"]
    assert groups["bot-chat"]["escalation_rate"] == {
        "value": 1.0,
        "n": 1,
        "ci95": [pytest.approx(0.2065, abs=1e-4), 1.0],
    }
    assert groups["chat"]["first_response_seconds"]["p50"] == 60.0
    assert groups["chat"]["csat"]["satisfied"] == 1
    assert groups["email"]["segments"] == {
        "ended": 0,
        "resolved": 0,
        "escalated": 0,
        "abandoned": 0,
    }
    assert report["events"] == {"accepted": 7, "duplicates": 0, "rejected": 0}


def test_it_adds_nothing_twice_when_an_import_is_run_again(cli, config_file, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", CONVERSATION)
    cli("ingest", "--config", config_file, log)
    again = cli("ingest", "--config", config_file, "--json", log)
    assert json.loads(again.stdout)["records"] == 0  # resumed at the end: nothing new to read
    report = json.loads(cli("report", "--config", config_file, "--format", "json").stdout)
    assert report["events"]["accepted"] == 7
    assert sum(g["conversations_started"] for g in report["groups"]) == 1


def test_it_imports_only_the_new_lines_of_a_grown_file(cli, config_file, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", CONVERSATION[:3])
    cli("ingest", "--config", config_file, log)
    jsonl(log, CONVERSATION[3:], append=True)
    grown = cli("ingest", "--config", config_file, log)
    assert grown.stderr == (
        f"{log} (resumed after line 3): 4 lines: "
        "4 taken as 4 events (4 new, 0 duplicates), 0 rejected\n"
    )


def test_it_reads_a_replaced_file_again_and_counts_duplicates(cli, config_file, tmp_path):
    log = jsonl(tmp_path / "log.jsonl", CONVERSATION[:3])
    cli("ingest", "--config", config_file, log)
    jsonl(log, [CONVERSATION[1], CONVERSATION[0], CONVERSATION[2], CONVERSATION[3]])
    result = json.loads(cli("ingest", "--config", config_file, "--json", log).stdout)
    assert (result["accepted"], result["duplicates"]) == (1, 3)


def test_it_quarantines_bad_records_with_file_line_and_reason(cli, config_file, tmp_path):
    log = tmp_path / "bad.jsonl"
    log.write_text(
        orjson.dumps(CONVERSATION[0]).decode() + "\n"
        + "{not json\n"
        + "\n"
        + orjson.dumps({**CONVERSATION[1], "timestamp": "2026-11-01T10:00:00"}).decode() + "\n"
        + orjson.dumps({**CONVERSATION[2], "score": 3, "id": "e1"}).decode() + "\n"
    )  # fmt: skip
    result = cli("ingest", "--config", config_file, log)
    assert result.exit_code == 0
    assert "4 lines: 1 taken as 1 event (1 new, 0 duplicates), 3 rejected" in result.stderr
    listed = cli("quarantine", "list", "--config", config_file).stdout
    source = str(log.resolve())
    assert f"{source}:2: invalid JSON: " in listed
    assert f"{source}:4: field `timestamp`: needs an offset or Z" in listed
    assert f"{source}:5: field `id`: already used by an event with different content" in listed
    exported = [
        json.loads(line)
        for line in cli("quarantine", "export", "--config", config_file).stdout.splitlines()
    ]
    assert [e["position"] for e in exported] == [f"{source}:2", f"{source}:4", f"{source}:5"]
    assert exported[0]["raw"] == "{not json"


def test_it_exits_one_under_strict_when_anything_was_rejected(cli, config_file, tmp_path):
    log = tmp_path / "bad.jsonl"
    log.write_text('{"type": "message"}\n')
    assert cli("ingest", "--config", config_file, "--strict", log).exit_code == 1
    good = jsonl(tmp_path / "good.jsonl", CONVERSATION)
    assert cli("ingest", "--config", config_file, "--strict", good).exit_code == 0


def test_it_exits_two_on_a_bad_configuration(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels:\n  chat: {kind: person}\n")
    result = cli("report", "--config", bad)
    assert result.exit_code == 2
    assert "`channels.chat.kind`" in result.stderr


def test_it_reports_a_window_half_open_in_event_time(cli, config_file, tmp_path):
    cli("ingest", "--config", config_file, jsonl(tmp_path / "log.jsonl", CONVERSATION))
    # resolved at 10:01:40; a window ending exactly then leaves it out
    args = ("report", "--config", config_file, "--format", "json", "--group-by", "kind")
    before = json.loads(
        cli(*args, "--from", "2026-11-01T10:00:00Z", "--to", "2026-11-01T10:01:40Z").stdout
    )
    after = json.loads(cli(*args, "--from", "2026-11-01T10:01:40Z", "--to", "2026-11-02").stdout)
    assert [g["kind"] for g in before["groups"]] == ["ai", "human"]
    assert before["groups"][1]["segments"]["resolved"] == 0
    assert after["groups"][1]["segments"]["resolved"] == 1
    assert after["groups"][0]["conversations_started"] == 0
    assert before["window"] == {"from": "2026-11-01T10:00:00Z", "to": "2026-11-01T10:01:40Z"}


def test_it_reports_the_same_from_files_as_from_the_database(cli, config_file, tmp_path):
    log = jsonl(
        tmp_path / "log.jsonl",
        [*CONVERSATION, start(300, cid="c2", channel="email", attributes={"topic": "billing"})],
    )
    cli("ingest", "--config", config_file, log)
    for group_by in ("channel", "kind", "topic"):
        args = ("report", "--config", config_file, "--format", "json", "--group-by", group_by)
        assert cli(*args).stdout == cli(*args, log).stdout


def test_it_groups_by_topic_with_no_topic_last(cli, config_file, tmp_path):
    log = jsonl(
        tmp_path / "log.jsonl",
        [*CONVERSATION, start(300, cid="c2", channel="email", attributes={"topic": "billing"})],
    )
    report = json.loads(
        cli(
            "report", "--config", config_file, "--format", "json", "--group-by", "topic", log
        ).stdout
    )
    assert [g["topic"] for g in report["groups"]] == ["billing", None]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_it_renders_the_same_numbers_as_a_table_markdown_and_csv(
    cli, offline_config, tmp_path, fmt
):
    log = jsonl(tmp_path / "log.jsonl", CONVERSATION)
    out = cli("report", "--config", offline_config, "--format", fmt, log).stdout
    if fmt == "csv":
        header, *rows = out.splitlines()
        assert header.startswith(
            "channel,kind,conversations_started,segments.ended,segments.resolved"
        )
        assert rows[0].startswith("bot-chat,ai,1,1,0,1,0,0.0,1,0.0,")
    else:
        assert "bot-chat (ai)" in out and "chat (human)" in out
        assert "60.0s" in out  # chat's first response
        assert "100.0% [21–100] n=1" in out  # bot-chat escalation rate with its interval


@pytest.fixture
def offline_config(tmp_path: Path) -> Path:
    path = tmp_path / "offline.yaml"
    path.write_text(yaml.safe_dump({"channels": CHANNELS}))
    return path


def test_it_counts_records_not_lines(cli, config_file, tmp_path):
    log = tmp_path / "gappy.jsonl"
    log.write_text(
        "\n".join(orjson.dumps(e).decode() for e in CONVERSATION[:3]).replace("\n", "\n\n", 1)
        + "\n"
    )
    result = json.loads(cli("ingest", "--config", config_file, "--json", log).stdout)
    assert (result["records"], result["accepted"]) == (3, 3)


def test_a_table_too_wide_for_the_terminal_lists_channels_as_rows(tmp_path: Path):
    many = {f"line-{n:02d}": {"kind": "human"} for n in range(18)} | {"bot": {"kind": "ai"}}
    config = tmp_path / "many.yaml"
    config.write_text(yaml.safe_dump({"channels": many}))
    log = jsonl(tmp_path / "log.jsonl", [
        {"id": "a", "conversation_id": "c", "type": "conversation_started", "timestamp": 0,
         "channel": "bot"},
        {"id": "b", "conversation_id": "c", "type": "resolved", "timestamp": 5},
    ])  # fmt: skip
    runner = CliRunner(env={"COLUMNS": "100"})
    out = runner.invoke(main, ["report", "--config", str(config), str(log)]).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert sum(line.startswith("│ line-") for line in lines) == 18
    bot = next(line for line in lines if line.startswith("│ bot (ai)"))
    assert "100.0%" in bot
    assert "[21–100]" in out  # rich wraps the interval under its value when space is short


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--channel", "nope"], "no channel named 'nope'"),
        (["--from", "2026-11-02", "--to", "2026-11-01"], "`to` must be after `from`"),
        (["--from", "yesterday"], "`from`"),
    ],
)
def test_a_report_that_would_silently_show_nothing_is_a_usage_error(
    cli, offline_config, tmp_path, args, says
):
    log = jsonl(tmp_path / "log.jsonl", CONVERSATION)
    result = CliRunner().invoke(main, ["report", "--config", str(offline_config), str(log), *args])
    assert result.exit_code == 2
    assert says in result.output


def test_make_run_and_the_command_line_share_one_default_database():
    from collector.settings import Settings, load_settings

    demo = load_settings(REPO / "examples" / "demo.yaml", env={})
    assert demo.database_url == Settings.model_fields["database_url"].default


def test_a_hint_to_list_the_quarantine_carries_the_config_it_needs(cli, config_file, tmp_path):
    log = tmp_path / "bad.jsonl"
    log.write_text('{"type": "message"}\n')
    result = cli("ingest", "--config", config_file, log)
    assert f"`touchmetrics quarantine list --config {config_file}`" in result.stderr
