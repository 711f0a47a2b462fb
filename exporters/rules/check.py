"""`touchmetrics rules --check`: promtool and amtool on what `rules` wrote."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from collector.errors import ToolMissing
from exporters.rules.files import ALERTMANAGER_FILE, RULES_FILE, test_files

TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check: the command, whether it passed (None: not run) and what it printed."""

    command: tuple[str, ...]
    passed: bool | None
    output: str

    @property
    def line(self) -> str:
        verdict = {True: "ok", False: "FAILED", None: "skipped"}[self.passed]
        return f"{verdict}: {' '.join(self.command)}"


def check_rules(out_dir: Path, prometheus_config: Path | None = None) -> list[Outcome]:
    """Run every check that applies; raises ToolMissing when promtool is not installed.

    1. ``promtool check rules`` and ``promtool test rules`` on the rules and their tests.
    2. ``promtool check config`` on a Prometheus configuration, when one is given (it
       should load the rules: promtool checks the rule files it names too).
    3. ``amtool check-config`` on alertmanager.yml when it was written; skipped with a
       note when amtool is not installed.
    """
    if shutil.which("promtool") is None:
        raise ToolMissing(
            "promtool is not installed: `--check` needs it (Debian/Ubuntu: apt-get install "
            "prometheus; or the promtool of a Prometheus release)"
        )
    outcomes = [
        _run("promtool", "check", "rules", str(out_dir / RULES_FILE)),
        _run("promtool", "test", "rules", *(str(p) for p in test_files(out_dir))),
    ]
    if prometheus_config is not None:
        outcomes.append(_run("promtool", "check", "config", str(prometheus_config)))
    alertmanager = out_dir / ALERTMANAGER_FILE
    if alertmanager.exists():
        if shutil.which("amtool") is None:
            note = "amtool is not installed (Debian: prometheus-alertmanager): not checked"
            outcomes.append(Outcome(("amtool", "check-config", str(alertmanager)), None, note))
        else:
            outcomes.append(_run("amtool", "check-config", str(alertmanager)))
    return outcomes


def _run(*command: str) -> Outcome:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(command, False, f"gave up after {TIMEOUT_SECONDS:.0f} s")
    except OSError as exc:
        return Outcome(command, False, f"cannot run: {exc.strerror}")
    return Outcome(command, done.returncode == 0, (done.stdout + done.stderr).strip())
