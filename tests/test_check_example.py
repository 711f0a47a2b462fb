"""The README's worked example of the check, run exactly as written, in a copy of the repo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "check"


def readme_example() -> tuple[list[str], str]:
    """The commands of "A worked example" and the output the README shows for them."""
    text = (REPO / "README.md").read_text()
    section = text.split("### A worked example", 1)[1].split("\n### ", 1)[0]
    commands = re.search(r"```sh\n(.*?)```", section, re.S)
    shown = re.search(r"```text\n(.*?)```", section, re.S)
    assert commands and shown, "the README's worked example lost its blocks"
    return commands.group(1).strip().splitlines(), shown.group(1)


def test_the_readme_example_makes_the_committed_logs_and_shows_its_real_table(tmp_path):
    commands, shown = readme_example()
    assert len(commands) == 3 and all(c.startswith("touchmetrics ") for c in commands)
    assert "It exits 1 and prints:" in (REPO / "README.md").read_text()
    (tmp_path / "examples").mkdir()
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "check")
    for path in (tmp_path / "examples" / "check").glob("*.jsonl"):
        path.unlink()  # made again by the README's own lines
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TOUCHMETRICS_CONFIG", None)
    runs = [
        subprocess.run(
            ["bash", "-c", c], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        for c in commands
    ]
    assert [r.returncode for r in runs] == [0, 0, 1], [r.stderr for r in runs]
    for name in ("baseline.jsonl", "candidate.jsonl"):
        made = (tmp_path / "examples" / "check" / name).read_bytes()
        assert made == (EXAMPLE / name).read_bytes(), f"{name} is not what the README makes"
    assert runs[2].stdout == shown
    assert "verdict: fail (1 fail, 1 inconclusive, 2 pass)" in shown
