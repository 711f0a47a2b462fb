"""The composite GitHub Action (action.yml): well formed, and its steps, run as GitHub runs
them (bash, the inputs through `env`, GitHub's variables), install and run the check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from junitparser import JUnitXml

from tests.conftest import REPO

ACTION = REPO / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
KNOWN = re.compile(r"(inputs)\.([A-Za-z0-9_-]+)|github\.action_path")


def action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text())


def test_it_is_a_well_formed_composite_action():
    spec = action()
    assert {"name", "description", "inputs", "runs"} <= set(spec)
    inputs = spec["inputs"]
    assert {"config", "candidate", "baseline", "mapping", "fail-on-inconclusive"} <= set(inputs)
    assert [n for n, i in inputs.items() if i.get("required")] == ["config", "candidate"]
    for name, item in inputs.items():
        assert item["description"], name
        assert item.get("required") or "default" in item, f"{name}: optional without default"
    assert spec["runs"]["using"] == "composite"
    used: set[str] = set()
    for step in spec["runs"]["steps"]:
        assert "run" in step and step["shell"] == "bash", step.get("name")
        # Inputs reach a script through its environment, never pasted into the script.
        assert "${{" not in step["run"], step["name"]
        for value in step.get("env", {}).values():
            for expression in EXPRESSION.findall(str(value)):
                match = KNOWN.fullmatch(expression)
                assert match, f"an expression this test cannot stand for: {expression}"
                if match.group(1):
                    assert match.group(2) in inputs, expression
                    used.add(match.group(2))
    assert used == set(inputs), "every input is used"
    assert "--github" in spec["runs"]["steps"][-1]["run"]
    assert "--junit" in spec["runs"]["steps"][-1]["run"]


def test_the_readme_shows_a_workflow_that_uses_it():
    text = (REPO / "README.md").read_text()
    inputs = action()["inputs"]
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        workflow = yaml.safe_load(block)
        if not isinstance(workflow, dict) or "jobs" not in workflow:
            continue
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).split("@")[0].endswith("/touchmetrics"):
                    assert set(step["with"]) <= set(inputs)
                    assert {"config", "candidate"} <= set(step["with"])
                    return
    pytest.fail("no workflow in the README uses the action")


def expand(value: Any, inputs: dict[str, str], action_path: Path) -> str:
    """What GitHub puts in place of ``${{ inputs.x }}`` and ``${{ github.action_path }}``."""

    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "github.action_path":
            return str(action_path)
        return inputs[expression.removeprefix("inputs.")]

    return EXPRESSION.sub(one, str(value))


class Runner:
    """A GitHub runner for this action: its checkout, a workspace and RUNNER_TEMP."""

    def __init__(self, root: Path) -> None:
        self.action_path = root / "action"
        self.workspace = root / "workspace"
        self.temp = root / "runner-temp"
        self.summary = root / "step-summary.md"
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        for name in files:  # the action's checkout: the repository's files, no .venv
            if (REPO / name).is_file():
                target = self.action_path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, target)
        self.workspace.mkdir()
        self.temp.mkdir()

    def step(self, index: int, inputs: dict[str, str]) -> subprocess.CompletedProcess[str]:
        spec = action()
        values = {n: str(i.get("default", "")) for n, i in spec["inputs"].items()} | inputs
        step = spec["runs"]["steps"][index]
        script = self.temp / f"step-{index}.sh"
        script.write_text(step["run"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHMETRICS_")}
        env.pop("VIRTUAL_ENV", None)
        env |= {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(self.action_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(self.temp),
        }
        env |= {k: expand(v, values, self.action_path) for k, v in step.get("env", {}).items()}
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """The action's first step run once: touchmetrics installed from its checkout."""
    runner = Runner(tmp_path_factory.mktemp("github"))
    installed = runner.step(0, {"config": "", "candidate": ""})
    assert installed.returncode == 0, installed.stderr[-3000:]
    return runner


@pytest.fixture
def check_step(
    runner: Runner, check_config: Callable[..., Path], demo_logs: dict[str, Path]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the check step in the workspace, with the demo logs under logs/ in it."""
    logs = runner.workspace / "logs"
    logs.mkdir(exist_ok=True)
    for name, path in demo_logs.items():
        shutil.copy(path, logs / f"{name}.jsonl")
    shutil.copy(check_config(), runner.workspace / "touchmetrics.yaml")
    for old in (runner.summary, runner.workspace / "touchmetrics-check.xml"):
        old.unlink(missing_ok=True)

    def run(**inputs: str) -> subprocess.CompletedProcess[str]:
        return runner.step(1, {"config": "touchmetrics.yaml", **inputs})

    return run


@pytest.mark.slow
def test_its_steps_install_and_fail_the_job_on_a_regression(runner, check_step):
    done = check_step(candidate="logs/worse.jsonl", baseline="logs/baseline.jsonl")
    assert done.returncode == 1, done.stderr
    assert "::error title=touchmetrics check fail%3A The web assistant" in done.stdout
    (suite,) = list(JUnitXml.fromfile(str(runner.workspace / "touchmetrics-check.xml")))
    assert (suite.tests, suite.failures) == (4, 2)
    assert runner.summary.read_text().startswith("### touchmetrics check: fail\n")


@pytest.mark.slow
def test_it_takes_globs_and_lists_and_fails_on_inconclusive_only_when_asked(runner, check_step):
    tiny = runner.workspace / "logs" / "tiny-1.jsonl"
    lines = (runner.workspace / "logs" / "baseline.jsonl").read_text().splitlines(True)
    tiny.write_text("".join(lines[:30]))
    shutil.copy(tiny, tiny.with_name("tiny-2.jsonl"))
    lenient = check_step(candidate="logs/tiny-*.jsonl", baseline="logs/tiny-1.jsonl\n")
    assert lenient.returncode == 0, lenient.stderr
    assert "::warning title=" in lenient.stdout
    assert "candidate: 2 files," in lenient.stdout  # the glob gave both files
    strict = check_step(
        candidate="logs/tiny-1.jsonl\nlogs/tiny-2.jsonl", **{"fail-on-inconclusive": "true"}
    )
    assert strict.returncode == 1
    (suite,) = list(JUnitXml.fromfile(str(runner.workspace / "touchmetrics-check.xml")))
    assert suite.skipped == suite.tests == 4


@pytest.mark.slow
def test_a_missing_file_fails_the_step_as_a_usage_error(check_step):
    done = check_step(candidate="logs/no-such-*.jsonl")
    assert done.returncode == 2
    assert "logs/no-such-*.jsonl" in done.stderr
