"""The README's message-level walk-through, run exactly as written in a copy of the repo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from tests.conftest import REPO


def walkthrough() -> tuple[str, list[str], list[str]]:
    """The rows the README shows, its commands, and the output it shows for each."""
    text = (REPO / "README.md").read_text()
    section = text.split("### A message-level export, step by step", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```sh\n(.*?)```", section, re.S)
    shown = re.findall(r"```text\n(.*?)```", section, re.S)
    assert commands and len(shown) == 3, "the README's walk-through lost its blocks"
    return shown[0], commands.group(1).strip().splitlines(), shown[1:]


def test_the_readme_walkthrough_prints_what_it_shows(tmp_path):
    rows, commands, outputs = walkthrough()
    posts = (REPO / "examples" / "social" / "posts.csv").read_text()
    assert posts.startswith(rows)
    shutil.copytree(REPO / "examples" / "social", tmp_path / "examples" / "social")
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TOUCHMETRICS_CONFIG", None)
    runs = [
        subprocess.run(
            ["bash", "-c", c], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        for c in commands
    ]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    check, ingest = runs
    assert (check.stdout, check.stderr) == (outputs[0], "")
    assert (ingest.stdout, ingest.stderr) == ("", outputs[1])
    again = subprocess.run(
        ["bash", "-c", commands[1]], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert "(resumed after line 168): 0 rows: 0 taken" in again.stderr
