"""The committed mapping examples: made by their generators, imported with exact figures
counted independently from the files themselves, on both stores."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

SOCIAL = REPO / "examples" / "social"
TICKETS = REPO / "examples" / "tickets"


@pytest.mark.parametrize(("folder", "name"), [(SOCIAL, "posts.csv"), (TICKETS, "requests.csv")])
def test_the_committed_export_is_what_its_generator_makes(folder, name):
    made = subprocess.run(
        [sys.executable, str(folder / "make_export.py")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert made.stdout == (folder / name).read_text()


@pytest.fixture
def example_config(tmp_path: Path, database_url: str) -> Any:
    """An example's configuration, on the test database."""

    def on_test_database(folder: Path) -> Path:
        data = yaml.safe_load((folder / "touchmetrics.yaml").read_text())
        path = tmp_path / f"{folder.name}.yaml"
        path.write_text(yaml.safe_dump({**data, "database_url": database_url}))
        return path

    return on_test_database


def imported(cli: Any, config: Path, folder: Path, name: str) -> tuple[dict[str, Any], Any]:
    result = cli("ingest", "--config", config, "--mapping", folder / "mapping.yaml", "--json",
                 folder / name)  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(cli("report", "--config", config, "--format", "json").stdout)
    return json.loads(result.stdout), {g["channel"]: g for g in report["groups"]}


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if r["post_id" if "post_id" in r else "sr_number"] not in (
        "post_id", "sr_number")]  # fmt: skip


def test_the_social_log_imports_as_its_rows_say(cli, example_config):
    rows = rows_of(SOCIAL / "posts.csv")
    ids = {r["post_id"] for r in rows}
    roots = [r for r in rows if not r["in_reply_to"]]
    orphans = {r["in_reply_to"] for r in rows if r["in_reply_to"] and
               r["in_reply_to"].removesuffix(".0") not in ids}  # fmt: skip
    status = Counter(r["status"] for r in rows)
    summary, groups = imported(cli, example_config(SOCIAL), SOCIAL, "posts.csv")
    assert (summary["records"], summary["skipped"], summary["rejected"]) == (len(rows) + 1, 1, 0)
    assert summary["accepted"] == len(roots) + len(rows) + status["handoff"] + status["resolved"]
    started = Counter(r["account"] for r in roots)
    assert groups["bolt-assistant"]["conversations_started"] == started["BoltAssist"]
    assert groups["social"]["conversations_started"] == started["AcmeDeals"]
    # A thread whose first post is not in the export starts with its first reply there.
    assert len(orphans) == 1
    assert groups["acme-help"]["conversations_started"] == started["AcmeHelp"] + 1
    closed_by = Counter(r["account"] for r in rows if r["status"] == "resolved")
    bot = groups["bolt-assistant"]["segments"]
    assert (bot["escalated"], bot["resolved"]) == (status["handoff"], closed_by["BoltAssist"])
    assert groups["acme-help"]["segments"]["resolved"] == closed_by["AcmeHelp"]
    assert groups["social"]["segments"]["resolved"] == closed_by["AcmeDeals"]
    assert groups["bolt-assistant"]["first_response_seconds"]["n"] == started["BoltAssist"]


def test_the_ticket_export_imports_as_its_rows_say(cli, example_config, database_url):
    rows = rows_of(TICKETS / "requests.csv")
    broken = [r for r in rows if r["closed_date"].startswith("00/")]
    kept = [r for r in rows if r["status"] != "Duplicate" and r not in broken]
    status = Counter(r["status"] for r in kept)
    updates = sum(1 for r in kept if r["first_update"])
    summary, groups = imported(cli, example_config(TICKETS), TICKETS, "requests.csv")
    assert (summary["records"], summary["taken"]) == (len(rows), len(kept))
    assert summary["skipped_by_reason"] == {
        "a duplicate of another request, closed as such": len(rows) - len(kept) - len(broken)
    }
    [rule] = summary["rejected_by_rule"]
    assert rule["count"] == len(broken) == 2
    assert rule["rule"] == (
        "column `closed_date`: … does not match time format … (event `resolved`)"
    )
    assert summary["accepted"] == 2 * len(kept) + updates + status["Completed"] + status["Canceled"]
    by_department = Counter(r["department"] for r in kept)
    assert {name: g["conversations_started"] for name, g in groups.items()} == {
        "animal-care-control": by_department["Animal Care & Control"],
        "solid-waste": by_department["Solid Waste"],
        "streets-sanitation": by_department["Streets & Sanitation"],
        "water-management": by_department["Water Management"],
    }
    assert sum(g["segments"]["abandoned"] for g in groups.values()) == status["Canceled"]
    assert sum(g["first_response_seconds"]["n"] for g in groups.values()) == updates
