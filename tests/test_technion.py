"""A real call-centre month (Technion "Anonymous Bank", February 1999) through the mapping.

The expected figures are computed here from the TSV with the csv module alone, by the
rules the mapping's comments state, and compared with what touchmetrics reports.

The whole month is imported once per backend (module scope) and reported from the store
and straight from the file; both backends also import a slice that holds every edge case
the mapping decides.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from collector.cli import main
from collector.database import open_store
from collector.settings import parse_settings
from tests.conftest import (
    REPO,
    SHARED_DATA,
    create_postgres_database,
    drop_postgres_database,
    require,
)

TSV = SHARED_DATA / "technion_anonymous_bank_1999_02.tsv"
MAPPING = REPO / "examples" / "technion_bank.yaml"
CONFIG = REPO / "examples" / "technion_bank.config.yaml"
CALLS = 33_344
NEVER = "0:00:00"
ANSWER_OFFSET = 1e-6  # a direct call is answered a microsecond after its handoff


def seconds(clock: str) -> int:
    hours, minutes, secs = map(int, clock.split(":"))
    return hours * 3600 + minutes * 60 + secs


@dataclass(frozen=True)
class Expected:
    """What the rows say, by the rules the mapping documents."""

    calls: int
    phantom: int
    served: int  # by an agent: queued with outcome AGENT, or straight to a named agent
    hung_up_in_queue: int
    vru_resolved: int
    vru_abandoned: int
    mean_wait: float
    max_wait: int
    topics: dict[str, int]

    @classmethod
    def of(cls, rows: list[dict[str, str]]) -> Expected:
        real = [r for r in rows if r["outcome"] != "PHANTOM"]
        queued = [r for r in real if r["q_exit"] != NEVER]
        waits = [int(r["q_time"]) for r in queued if r["outcome"] == "AGENT"]
        direct = [
            r for r in real
            if r["q_exit"] == NEVER and r["outcome"] == "AGENT" and r["server"] != "NO_SERVER"
        ]  # fmt: skip
        alone = [r for r in real if r["q_exit"] == NEVER and r not in direct]
        served = len(waits) + len(direct)
        return cls(
            calls=len(rows),
            phantom=len(rows) - len(real),
            served=served,
            hung_up_in_queue=sum(r["outcome"] == "HANG" for r in queued),
            vru_resolved=sum(r["outcome"] == "AGENT" for r in alone),
            vru_abandoned=sum(r["outcome"] == "HANG" for r in alone),
            mean_wait=(sum(waits) + len(direct) * ANSWER_OFFSET) / served,
            max_wait=max(waits),
            topics=dict(Counter(r["type"] for r in real)),
        )


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def tsv() -> Path:
    require(TSV.exists(), f"the Technion data set is missing: {TSV}")
    return TSV


@pytest.fixture(scope="module")
def month(tsv: Path) -> Expected:
    return Expected.of(read_tsv(tsv))


def invoke(*args: str | Path) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_config(path: Path, database_url: str | None) -> Path:
    config = yaml.safe_load(CONFIG.read_text())
    if database_url is None:
        del config["database_url"]
    else:
        config["database_url"] = database_url
    path.write_text(yaml.safe_dump(config))
    return path


def ingest(config: Path, data: Path) -> dict[str, Any]:
    return invoke("ingest", "--config", config, "--mapping", MAPPING, "--json", data)


def report(*args: str | Path, group_by: str = "channel") -> dict[str, Any]:
    return invoke("report", "--format", "json", "--group-by", group_by, *args)


def quarantined(database_url: str) -> list[Any]:
    settings = parse_settings({"channels": {}, "database_url": database_url})
    store = open_store(settings)
    try:
        return store.quarantined()
    finally:
        store.engine.dispose()


@dataclass(frozen=True)
class Imported:
    database_url: str
    config: Path
    summary: dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def imported_month(
    request: pytest.FixtureRequest,
    tsv: Path,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Imported]:
    """The whole month imported once per backend, into a database of its own."""
    folder = tmp_path_factory.mktemp("technion")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "technion.db")
        url: str | None = f"sqlite:///{folder / 'technion.db'}"
    else:
        url = create_postgres_database("tm_technion")
        require(url is not None, "no PostgreSQL server for the month import")
    assert url is not None
    config = write_config(folder / "config.yaml", url)
    yield Imported(url, config, ingest(config, tsv))
    if request.param == "postgresql":
        drop_postgres_database(url)


def assert_report_matches(result: dict[str, Any], expected: Expected) -> None:
    groups = {g["channel"]: g for g in result["groups"]}
    vru, agents = groups["vru"], groups["agents"]
    assert (vru["kind"], agents["kind"]) == ("ai", "human")
    assert vru["conversations_started"] == expected.calls - expected.phantom
    assert agents["conversations_started"] == 0
    assert vru["segments"] == {
        "ended": expected.calls - expected.phantom,
        "resolved": expected.vru_resolved,
        "escalated": expected.served + expected.hung_up_in_queue,
        "abandoned": expected.vru_abandoned,
    }
    assert agents["segments"] == {
        "ended": expected.served + expected.hung_up_in_queue,
        "resolved": expected.served,
        "escalated": 0,
        "abandoned": expected.hung_up_in_queue,
    }
    wait = agents["first_response_seconds"]
    assert wait["n"] == expected.served
    assert wait["mean"] == pytest.approx(expected.mean_wait, abs=1e-9)
    assert wait["max"] == expected.max_wait  # a midnight crossing read wrong would be ~86400
    assert result["anomalies"] == {}


@pytest.mark.slow
def test_it_accounts_for_every_call_of_the_month(imported_month, month):
    assert month.calls == CALLS
    summary = imported_month.summary
    assert (summary["records"], summary["rejected"]) == (CALLS, 0)
    assert summary["skipped_by_reason"] == {
        "PHANTOM is a virtual call; the Technion documentation says to ignore it": month.phantom
    }
    assert quarantined(imported_month.database_url) == []  # PHANTOM calls are no calls
    started = report("--config", imported_month.config)["groups"]
    assert sum(g["conversations_started"] for g in started) + month.phantom == CALLS
    assert summary["taken"] == CALLS - month.phantom


@pytest.mark.slow
def test_it_reports_the_month_as_the_tsv_says(imported_month, month):
    assert_report_matches(report("--config", imported_month.config), month)


@pytest.mark.slow
def test_it_reports_the_same_month_straight_from_the_file(tsv, month, tmp_path):
    config = write_config(tmp_path / "offline.yaml", None)
    result = report("--config", config, "--mapping", MAPPING, tsv)
    assert_report_matches(result, month)
    assert result["events"]["rejected"] == 0  # PHANTOM calls are skipped, not rejected
    by_topic = report("--config", config, "--mapping", MAPPING, tsv, group_by="topic")
    assert {g["topic"]: g["conversations_started"] for g in by_topic["groups"]} == month.topics


def edge_cases(rows: list[dict[str, str]]) -> Iterator[int]:
    """Rows where the mapping had to decide something, by index."""
    for index, r in enumerate(rows):
        entry = seconds(r["vru_entry"])
        times = [seconds(r[c]) for c in ("q_exit", "ser_exit") if r[c] != NEVER]
        if (
            int(r["vru_time"]) < 0  # VRU exit before entry: clock skew, not midnight
            or any(t < entry - 43200 for t in times)  # past midnight
            or (r["q_start"] == NEVER and r["q_exit"] != NEVER)  # queued at midnight
            or (r["outcome"] == "AGENT" and r["ser_exit"] == NEVER)  # served, no times
            or (r["q_exit"] == NEVER and r["ser_exit"] != NEVER and r["server"] != "NO_SERVER"
                and seconds(r["ser_exit"]) < seconds(r["vru_exit"]))  # ends before it began
        ):  # fmt: skip
            yield index


def test_it_reads_the_hard_rows_alike_on_each_backend(tsv, database_url, tmp_path):
    lines = tsv.read_bytes().split(b"\r\n")
    rows = read_tsv(tsv)
    chosen = sorted(set(range(1000)) | set(edge_cases(rows)))
    assert len(chosen) > 1100  # the edge cases are there, not only the first rows
    data = tmp_path / "slice.tsv"
    data.write_bytes(b"".join(lines[i] + b"\r\n" for i in [0, *(i + 1 for i in chosen)]))
    config = write_config(tmp_path / "config.yaml", database_url)
    summary = ingest(config, data)
    expected = Expected.of([rows[i] for i in chosen])
    assert (summary["skipped"], summary["rejected"], summary["duplicates"]) == (
        expected.phantom, 0, 0,
    )  # fmt: skip
    assert_report_matches(report("--config", config), expected)
