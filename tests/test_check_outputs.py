"""The check's outputs on real runs of the command: table, Markdown, JUnit XML, GitHub."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from junitparser import Failure, JUnitXml, Skipped

from collector.check import judge_sides
from collector.evaluation import Result, Share
from collector.objectives import Objective
from exporters.check import reason

WORSE_BOT = (
    "candidate 30.9% of 1238, baseline 57.3% of 1253: below the 50.0% minimum "
    "(95% interval 28.4% to 33.6%); worse by 26.4 points, more than the 5-point tolerance"
)


@pytest.fixture
def worse_run(cli, check_config, demo_logs) -> Any:
    """Run the check with the given options on the worse bot against the baseline."""

    def run(*options: Any, env: dict[str, str] | None = None) -> Any:
        return cli(
            "check", "--config", check_config(), "--candidate", demo_logs["worse"],
            "--baseline", demo_logs["baseline"], *options, env=env,
        )  # fmt: skip

    return run


def one(objective: Objective, candidate: Share, baseline: Share | None) -> str:
    (judgement,) = judge_sides(
        [objective],
        [Result(objective, (), candidate, "met")],
        None if baseline is None else [Result(objective, (), baseline, "met")],
    )
    return reason(judgement)


def test_the_reason_says_it_in_plain_words():
    bot = Objective(name="bot", indicator="resolution_rate", min=0.5)
    # The example of the issue: 52 % of 400 against 64 % of 380 (243 of 380 is 63.9 %).
    assert one(bot, Share(208, 400), Share(243, 380)) == (
        "candidate 52.0% of 400, baseline 63.9% of 380: not clearly on either side of the "
        "50.0% minimum (95% interval 47.1% to 56.9%); worse by 11.9 points, more than the "
        "5-point tolerance"
    )
    escalations = Objective(name="esc", indicator="escalation_rate", max=0.35, min_events=50)
    assert one(escalations, Share(30, 100), Share(10, 40)) == (
        "candidate 30.0% of 100, baseline 25.0% of 40: not clearly on either side of the 35.0% "
        "maximum (95% interval 21.9% to 39.6%); too few to compare with the baseline "
        "(min_events 50)"
    )
    assert one(escalations, Share(0, 0), None) == (
        "candidate no data: too few to judge against the 35.0% maximum (0 < min_events 50)"
    )
    assert one(escalations, Share(30, 100), Share(25, 100)).endswith(
        "worse by 5.0 points; a worsening beyond the 5-point tolerance can be neither ruled "
        "out nor confirmed"
    )
    assert one(bot, Share(2000, 3000), Share(2000, 3000)).endswith(
        "unchanged, within the 5-point tolerance"
    )


def test_the_table_shows_both_sides_the_difference_and_the_reason(worse_run):
    result = worse_run("--format", "table")
    assert result.exit_code == 1
    out = result.stdout
    row = next(line for line in out.splitlines() if "bot-chat (ai)" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[1:] == [
        "bot-chat (ai)",
        "30.9% [28.4–33.6] n=1238",
        "57.3% [54.5–60.0] n=1253",
        "-26.4 pts [-30.1, -22.6]",
        "fail",
    ]
    assert f"fail: bot-containment bot-chat (ai): {WORSE_BOT}\n" in out
    assert "resolution_rate ≥ 50.0%" in out
    assert "verdict: fail (2 fail, 2 pass)\n" in out
    assert "candidate: 1 file, 18,475 records: 18,475 accepted" in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_the_markdown_is_a_table_with_a_reason_per_result(worse_run):
    out = worse_run("--format", "markdown").stdout
    lines = out.splitlines()
    assert lines[0] == "### touchmetrics check: fail"
    header = "| objective | group | candidate | baseline | difference | verdict | reason |"
    assert lines[2] == header
    assert lines[3] == "|" + " --- |" * 7
    rows = [line for line in lines[4:] if line.startswith("| ")]
    assert len(rows) == 4
    bot = rows[0].split(" | ")
    assert bot[0] == (
        "| The web assistant resolves most conversations itself<br>`resolution_rate ≥ 50.0%`"
    )
    assert bot[2:] == [
        "30.9% [28.4–33.6] n=1238",
        "57.3% [54.5–60.0] n=1253",
        "-26.4 pts [-30.1, -22.6]",
        "**fail**",
        WORSE_BOT + " |",
    ]
    assert "- baseline: 1 file, 16,268 records: 16,268 accepted, 0 duplicates, 0 rejected" in lines


def test_the_json_is_the_same_whatever_else_is_asked(worse_run, tmp_path):
    plain = json.loads(worse_run("--format", "json").stdout)
    junit = tmp_path / "report.xml"
    both = worse_run("--format", "json", "--junit", junit)
    assert json.loads(both.stdout) == plain


def test_junit_has_a_case_per_objective_and_group_failed_or_skipped_with_reasons(
    cli, check_config, demo_logs, tmp_path
):
    junit = tmp_path / "out" / "check.xml"
    junit.parent.mkdir()
    config = check_config()
    result = cli(
        "check", "--config", config, "--candidate", demo_logs["worse"],
        "--baseline", demo_logs["baseline"], "--junit", junit, "--format", "json",
    )  # fmt: skip
    results = json.loads(result.stdout)["results"]
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    cases = list(suite)
    assert len(cases) == len(results) == suite.tests == 4
    assert (suite.failures, suite.skipped, suite.errors) == (2, 0, 0)
    by_name = {case.name: case for case in cases}
    bot = by_name["bot-containment [bot-chat (ai)]"]
    assert bot.classname == "touchmetrics.check.bot-containment"
    (failure,) = bot.result
    assert isinstance(failure, Failure)
    assert failure.message == WORSE_BOT
    assert failure.type == "breached and regression"
    assert "difference: -26.4 pts [-30.1, -22.6]" in failure.text
    assert by_name["human-first-response [all]"].is_passed

    # Too little data: the same objectives on a tiny log are skipped, each with its reason.
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text("".join(demo_logs["baseline"].read_text().splitlines(True)[:40]))
    cli("check", "--config", config, "--candidate", tiny, "--junit", junit)
    (suite,) = list(JUnitXml.fromfile(str(junit)))
    assert (suite.tests, suite.failures, suite.skipped) == (4, 0, 4)
    for case in suite:
        (skipped,) = case.result
        assert isinstance(skipped, Skipped)
        assert "too few to judge" in skipped.message


def test_junit_to_a_path_it_cannot_write_is_an_input_error(worse_run, tmp_path):
    result = worse_run("--junit", tmp_path / "no-such-dir" / "x.xml")
    assert result.exit_code == 2
    assert "--junit" in result.stderr


def test_a_step_summary_it_cannot_write_is_an_input_error_like_junit(worse_run, tmp_path):
    target = tmp_path / "no-such-dir" / "summary.md"
    result = worse_run("--github", env={"GITHUB_STEP_SUMMARY": str(target)})
    assert result.exit_code == 2
    assert f"$GITHUB_STEP_SUMMARY {target}: No such file or directory" in result.stderr


def test_github_gets_a_command_per_result_that_does_not_pass_and_a_step_summary(
    cli, check_config, demo_logs, tmp_path
):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = cli(
        "check", "--config", check_config(), "--candidate", demo_logs["worse"],
        "--baseline", demo_logs["baseline"], "--github", "--format", "json",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    verdicts = {r["objective"]: r["verdict"] for r in json.loads(result.stdout.split("\n::")[0])[
        "results"
    ]}  # fmt: skip
    assert sum(v != "pass" for v in verdicts.values()) == len(commands) == 2
    assert commands[0] == (
        "::error title=touchmetrics check fail%3A The web assistant resolves most conversations "
        f"itself bot-chat (ai)::{WORSE_BOT.replace('%', '%25')}"  # GitHub reads %25 as %
    )
    assert commands[1].startswith("::error title=touchmetrics check fail%3A bot-escalations ai::")
    text = summary.read_text()
    assert text.startswith("earlier step\n### touchmetrics check: fail\n")
    assert WORSE_BOT in text


def test_github_warns_on_inconclusive_and_escapes_what_would_break_a_command(
    cli, check_config, demo_logs, tmp_path
):
    objectives = {"odd": {"title": "50% of: a, b", "indicator": "csat", "by": "all", "min": 0.5}}
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text("".join(demo_logs["baseline"].read_text().splitlines(True)[:40]))
    result = cli(
        "check", "--config", check_config(objectives), "--candidate", tiny, "--github",
        env={"GITHUB_STEP_SUMMARY": ""},
    )  # fmt: skip
    assert result.exit_code == 0
    (command,) = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert command.startswith(
        "::warning title=touchmetrics check inconclusive%3A 50%25 of%3A a%2C b all::candidate "
    )
    assert re.fullmatch(r"::warning title=[^:]*::[^\n]*", command)


def test_without_github_actions_nothing_is_written_for_it(worse_run, tmp_path: Path):
    out = worse_run("--format", "markdown", env={"GITHUB_STEP_SUMMARY": ""}).stdout
    assert "::error" not in out
