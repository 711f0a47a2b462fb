"""`touchmetrics check` run as a user runs it: files or database windows, verdicts, exit codes
and the JSON contract of DESIGN section 15."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.metrics import wilson
from tests.conftest import CHECK_OBJECTIVES
from tests.test_csv_mapping import HEADER, MAPPING

RESULT_KEYS = [
    "objective", "group", "indicator", "bound", "tolerance", "candidate", "baseline",
    "difference", "objective_verdict", "baseline_verdict", "verdict",
]  # fmt: skip


def check_json(cli: Any, config: Path, *args: Any, code: int | None = None) -> dict[str, Any]:
    result = cli("check", "--config", config, "--format", "json", *args)
    if code is not None:
        assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def by_objective(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["objective"], json.dumps(r["group"])): r for r in body["results"]}


def test_a_bot_that_resolves_far_less_fails_the_build(cli, check_config, demo_logs):
    body = check_json(
        cli, check_config(), "--candidate", demo_logs["worse"],
        "--baseline", demo_logs["baseline"], code=1,
    )  # fmt: skip
    assert body["schema"] == "touchmetrics.check/1"
    assert body["verdict"] == "fail"
    results = by_objective(body)
    bot = results[("bot-containment", json.dumps({"channel": "bot-chat", "kind": "ai"}))]
    assert (bot["objective_verdict"], bot["baseline_verdict"], bot["verdict"]) == (
        "breached", "regression", "fail",
    )  # fmt: skip
    assert bot["bound"] == {"min": 0.5} and bot["tolerance"] == 0.05
    escalations = results[("bot-escalations", json.dumps({"kind": "ai"}))]
    assert escalations["bound"] == {"max": 0.45}
    assert escalations["baseline_verdict"] == "regression"  # higher is worse for a max
    people = results[("human-first-response", "{}")]
    assert people["verdict"] == "pass"  # the people did not get worse


def test_the_json_is_exactly_the_contract_with_values_not_rounded(cli, check_config, demo_logs):
    body = check_json(
        cli, check_config(), "--candidate", demo_logs["worse"], "--baseline", demo_logs["baseline"]
    )
    assert list(body) == ["schema", "verdict", "results"]
    assert [r["objective"] for r in body["results"]] == list(CHECK_OBJECTIVES)
    for r in body["results"]:
        assert list(r) == RESULT_KEYS
        for side in ("candidate", "baseline"):
            figures = r[side]
            good = round(figures["value"] * figures["n"])
            assert figures["value"] == good / figures["n"]
            assert figures["ci95"] == wilson(good, figures["n"])
        assert r["difference"]["value"] == r["candidate"]["value"] - r["baseline"]["value"]


def test_it_counts_what_the_report_counts(cli, check_config, demo_logs):
    body = check_json(cli, check_config(), "--candidate", demo_logs["worse"])
    report = json.loads(
        cli("report", "--config", check_config(), "--format", "json", demo_logs["worse"]).stdout
    )
    bot = next(g for g in report["groups"] if g["channel"] == "bot-chat")
    (result,) = [r for r in body["results"] if r["objective"] == "bot-containment"]
    assert result["candidate"] == bot["resolution_rate"]


def test_without_a_baseline_only_the_bound_is_judged(cli, check_config, demo_logs):
    body = check_json(cli, check_config(), "--candidate", demo_logs["baseline"], code=0)
    for r in body["results"]:
        assert (r["baseline"], r["difference"], r["baseline_verdict"]) == (None, None, None)
        assert r["verdict"] in ("pass", "inconclusive")


def test_a_log_against_itself_never_regresses(cli, check_config, demo_logs):
    log = demo_logs["baseline"]
    body = check_json(cli, check_config(), "--candidate", log, "--baseline", log)
    for r in body["results"]:
        assert r["difference"]["value"] == 0
        assert r["baseline_verdict"] != "regression"
    verdicts = {r["objective"]: r["baseline_verdict"] for r in body["results"]}
    assert verdicts["bot-containment"] == verdicts["bot-escalations"] == "pass"


def test_another_draw_of_the_same_bot_is_not_a_regression(cli, check_config, demo_logs):
    body = check_json(
        cli, check_config(), "--candidate", demo_logs["same"], "--baseline", demo_logs["baseline"]
    )
    assert all(r["baseline_verdict"] != "regression" for r in body["results"])
    assert body["verdict"] != "fail"


def test_objective_picks_a_subset_in_the_order_named(cli, check_config, demo_logs):
    body = check_json(
        cli, check_config(), "--candidate", demo_logs["baseline"],
        "--objective", "csat", "--objective", "bot-containment",
    )  # fmt: skip
    assert [r["objective"] for r in body["results"]] == ["csat", "bot-containment"]


def test_an_unknown_objective_is_a_usage_error_naming_it(cli, check_config, demo_logs):
    result = cli(
        "check", "--config", check_config(), "--candidate", demo_logs["baseline"],
        "--objective", "bot-containmnet",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "unknown objective 'bot-containmnet'" in result.stderr
    assert "bot-containment" in result.stderr  # the known ones are listed


def test_no_objectives_configured_is_a_clear_usage_error(cli, check_config, demo_logs):
    result = cli("check", "--config", check_config({}), "--candidate", demo_logs["baseline"])
    assert result.exit_code == 2
    assert "no objectives are configured" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the candidate"),
        (["--candidate", "LOG", "extra.jsonl"], "give each file its own option"),
        (["--candidate", "LOG", "--candidate-from", "2026-11-01T00:00:00Z"], "not both"),
        (["--candidate-from", "yesterday"], "--candidate-from"),
        (["--candidate-from", "2026-11-02T00:00:00Z", "--candidate-to", "2026-11-01T00:00:00Z"],
         "must be after"),
        (["--candidate", "LOG", "--format", "csv"], "'csv' is not one of"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_and_say_what_is_wrong(cli, check_config, demo_logs, args, message):
    args = [str(demo_logs["baseline"]) if a == "LOG" else a for a in args]
    result = cli("check", "--config", check_config(), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_empty_data_is_inconclusive_and_fails_only_when_asked(cli, check_config, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    args = ["--candidate", empty, "--baseline", empty]
    body = check_json(cli, check_config(), *args, code=0)
    assert body["verdict"] == "inconclusive"
    bot = body["results"][0]
    assert bot["candidate"] == {"value": None, "n": 0, "ci95": None}
    assert bot["difference"] == {"value": None, "ci95": None}
    result = cli("check", "--config", check_config(), *args, "--fail-on-inconclusive")
    assert result.exit_code == 1


def test_rejected_records_are_counted_and_named_on_stderr(cli, check_config, demo_logs, tmp_path):
    log = tmp_path / "some-bad.jsonl"
    log.write_text(demo_logs["baseline"].read_text() + '{"type": "message"}\n')
    result = cli("check", "--config", check_config(), "--candidate", log)
    assert "warning: 1 file, " in result.stderr
    assert "1 rejected" in result.stderr
    assert "field `conversation_id`" in result.stderr
    assert "1 rejected" in result.stdout  # in the table's footer too


def csv_export(path: Path, bot_resolved: int, handed_over: int) -> Path:
    """An export of one row per conversation: the bot resolved it, or a person did."""
    rows = [HEADER]
    for i in range(bot_resolved + handed_over):
        minute = f"{10 + i // 60:02d}:{i % 60:02d}"
        if i < bot_resolved:
            rows.append(f"{i},A1,2026-11-02,{minute}:00,{minute}:30,,{minute}:50,bot,billing,5\n")
        else:
            rows.append(
                f"{i},A1,2026-11-02,{minute}:00,{minute}:10,{minute}:40,{minute}:55,solved,login,\n"
            )
    path.write_text("".join(rows))
    return path


def test_csv_exports_are_read_through_a_mapping(cli, check_config, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False))
    candidate = csv_export(tmp_path / "candidate.csv", bot_resolved=30, handed_over=70)
    baseline = csv_export(tmp_path / "baseline.csv", bot_resolved=70, handed_over=30)
    body = check_json(
        cli, check_config(), "--mapping", mapping, "--objective", "bot-containment",
        "--candidate", candidate, "--baseline", baseline, code=1,
    )  # fmt: skip
    (bot,) = body["results"]
    assert (bot["candidate"]["n"], bot["candidate"]["value"]) == (100, 0.3)
    assert (bot["baseline"]["n"], bot["baseline"]["value"]) == (100, 0.7)
    assert bot["verdict"] == "fail"
    result = cli("check", "--config", check_config(), "--candidate", candidate)
    assert result.exit_code == 2
    assert "needs --mapping" in result.stderr


# -- windows of the database, on SQLite and PostgreSQL ----------------------------------------


@pytest.fixture
def stored_config(cli, check_config, database_url, demo_logs) -> Path:
    """A configuration on the test database holding the baseline demo log (7 days)."""
    config = check_config(database_url=database_url)
    assert cli("ingest", "--config", config, demo_logs["baseline"]).exit_code == 0
    return config


FIRST_HALF = ["2026-11-01T00:00:00Z", "2026-11-04T12:00:00Z"]
SECOND_HALF = ["2026-11-04T12:00:00Z", "2026-11-08T12:00:00Z"]


def test_it_compares_two_windows_of_the_database(cli, stored_config):
    body = check_json(
        cli, stored_config,
        "--candidate-from", SECOND_HALF[0], "--candidate-to", SECOND_HALF[1],
        "--baseline-from", FIRST_HALF[0], "--baseline-to", FIRST_HALF[1],
    )  # fmt: skip
    for window, side in ((SECOND_HALF, "candidate"), (FIRST_HALF, "baseline")):
        report = json.loads(
            cli(
                "report", "--config", stored_config, "--format", "json",
                "--from", window[0], "--to", window[1],
            ).stdout
        )  # fmt: skip
        bot = next(g for g in report["groups"] if g["channel"] == "bot-chat")
        (result,) = [r for r in body["results"] if r["objective"] == "bot-containment"]
        assert result[side] == bot["resolution_rate"]
        assert 0 < result[side]["n"] < 1300  # about half of the week each
    assert all(r["baseline_verdict"] != "regression" for r in body["results"])


def test_a_file_candidate_against_a_window_of_the_database(cli, stored_config, demo_logs):
    everything = check_json(
        cli, stored_config, "--candidate", demo_logs["worse"],
        "--baseline-from", "2026-01-01T00:00:00Z", code=1,  # to: open, all that follows
    )  # fmt: skip
    from_files = check_json(
        cli, stored_config, "--candidate", demo_logs["worse"],
        "--baseline", demo_logs["baseline"], code=1,
    )  # fmt: skip
    assert everything == from_files


def test_a_database_it_cannot_open_is_an_input_error(cli, check_config, tmp_path):
    config = check_config(database_url=f"sqlite:///{tmp_path}/missing-dir/x.db")
    result = cli("check", "--config", config, "--candidate-from", FIRST_HALF[0])
    assert result.exit_code == 2
    assert result.stderr == "Error: database unavailable: unable to open database file\n"
