"""`touchmetrics dashboards build|push`: the Grafana dashboards of DESIGN section 14.

What Prometheus makes of every query is proven in tests/test_dashboards_prometheus.py; here,
the files a user gets and what reaches Grafana.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from collector.cli import main
from dashboards.mockup import render
from tests.conftest import CHANNELS, DESIGN_OBJECTIVES, REPO

TOKEN = "grafana-test-token"


@pytest.fixture
def dashboard_config(tmp_path: Path) -> Path:
    """The demo channels with the objectives of DESIGN section 11 (no database needed)."""
    path = tmp_path / "touchmetrics.yaml"
    path.write_text(yaml.safe_dump({"channels": CHANNELS, "objectives": DESIGN_OBJECTIVES}))
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"TOUCHMETRICS_CONFIG": None, **(env or {})})


@pytest.fixture
def built(dashboard_config: Path, tmp_path: Path) -> Path:
    out = tmp_path / "provisioning"
    result = run("dashboards", "build", "--config", str(dashboard_config), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def load(folder: Path, uid: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((folder / "dashboards" / f"{uid}.json").read_text())
    return found


def targets(panel: dict[str, Any]) -> list[str]:
    return [target["expr"] for target in panel.get("targets", [])]


def test_build_writes_both_dashboards_and_what_grafana_provisions_them_from(built: Path):
    files = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file())
    assert files == [
        "dashboards/touchmetrics-channel.json",
        "dashboards/touchmetrics-overview.json",
        "dashboards/touchmetrics.yaml",
        "datasources/touchmetrics.yaml",
    ]
    source = yaml.safe_load((built / "datasources" / "touchmetrics.yaml").read_text())
    [prometheus] = source["datasources"]
    assert (prometheus["type"], prometheus["uid"]) == ("prometheus", "touchmetrics-prometheus")
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["jsonData"]["timeInterval"] == "15s"
    [provider] = yaml.safe_load((built / "dashboards" / "touchmetrics.yaml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards"
    assert provider["folderUid"] == "touchmetrics"
    overview = load(built, "touchmetrics-overview")
    detail = load(built, "touchmetrics-channel")
    assert (overview["uid"], overview["title"]) == (
        "touchmetrics-overview",
        "Support overview: AI and human",
    )
    assert (detail["uid"], detail["title"]) == ("touchmetrics-channel", "Channel detail")


def test_every_row_of_the_overview_puts_ai_next_to_human(built: Path):
    panels = load(built, "touchmetrics-overview")["panels"]
    rows = [i for i, p in enumerate(panels) if p["type"] == "row"]
    kind_rows = 0
    for start, end in zip(rows, [*rows[1:], len(panels)], strict=True):
        title, members = panels[start]["title"], panels[start + 1 : end]
        if title.startswith("Objectives"):
            continue
        kind_rows += 1
        [ai, human] = members
        assert ai["title"].startswith("AI: ") and human["title"].startswith("Human: "), title
        assert (ai["gridPos"]["x"], human["gridPos"]["x"]) == (0, 12)
        assert ai["gridPos"]["y"] == human["gridPos"]["y"]
        assert all('kind="ai"' in e for e in targets(ai)), targets(ai)
        assert all('kind="human"' in e for e in targets(human)), targets(human)
    titles = [panels[i]["title"] for i in rows]
    assert kind_rows == 7, titles
    for figure in ("Conversations started", "Resolution", "Escalation", "Abandonment",
                   "First response", "CSAT: satisfied", "CSAT: responses"):  # fmt: skip
        assert any(t.startswith(figure) for t in titles), (figure, titles)


def test_units_are_set_and_each_objective_is_drawn_against_its_bound(built: Path):
    panels = [p for p in load(built, "touchmetrics-overview")["panels"] if p["type"] != "row"]
    for panel in panels:
        unit = panel["fieldConfig"]["defaults"]["unit"]
        assert unit in ("percentunit", "s", "suffix:/h"), (panel["title"], unit)
        if "rate" in panel["title"] or "share" in panel["title"]:
            assert unit == "percentunit", panel["title"]
        if "first response" in panel["title"]:
            assert unit == "s", panel["title"]
    by_objective: dict[str, list[dict[str, Any]]] = {}
    for panel in panels:
        for expr in targets(panel):
            if "touchmetrics:objective_ratio" in expr:
                name = expr.split('objective="')[1].split('"')[0]
                by_objective.setdefault(name, []).append(panel)
    assert set(by_objective) == set(DESIGN_OBJECTIVES)
    for name, found in by_objective.items():
        spec = DESIGN_OBJECTIVES[name]
        assert {p["type"] for p in found} == {"stat", "timeseries"}, name
        for panel in found:
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            if "min" in spec:
                assert steps == [
                    {"color": "red", "value": None},
                    {"color": "green", "value": spec["min"]},
                ]
            else:
                assert steps == [
                    {"color": "green", "value": None},
                    {"color": "red", "value": spec["max"]},
                ]
            assert panel["title"] == spec.get("title", name)
        [graph] = [p for p in found if p["type"] == "timeseries"]
        assert (
            graph["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed+area"
        )
        [now] = [p for p in found if p["type"] == "stat"]
        window = spec.get("window", "1h")
        min_events = spec.get("min_events", 20)
        assert targets(now) == [
            f'touchmetrics:objective_ratio:{window}{{objective="{name}"}}\n'
            f'  and (touchmetrics:objective_events:{window}{{objective="{name}"}} >= {min_events})'
        ]
        assert now["fieldConfig"]["defaults"]["noValue"] == f"no data (< {min_events} events)"


def test_series_show_channel_titles_and_pooled_kinds(built: Path):
    panels = load(built, "touchmetrics-overview")["panels"]
    [containment] = [p for p in panels if p["title"] == "AI: containment (resolved by the bot)"]
    assert [t["legendFormat"] for t in containment["targets"]] == ["{{channel}}", "all AI"]
    renames = {t["options"]["renamePattern"] for t in containment["transformations"]}
    assert renames == {"Web chat assistant$1", "Live chat agents$1"}  # the channels with a title
    assert containment["targets"][1]["expr"] == (
        'sum (increase(touchmetrics_segments_ended_total{kind="ai", outcome="resolved"}[$window]))'
        '\n  / sum (increase(touchmetrics_segments_ended_total{kind="ai"}[$window]))'
    )


def test_the_detail_dashboard_follows_its_channel_variable(built: Path):
    detail = load(built, "touchmetrics-channel")
    variables = {v["name"]: v for v in detail["templating"]["list"]}
    assert set(variables) == {"datasource", "window", "channel", "kind"}
    assert variables["channel"]["query"]["query"] == (
        "label_values(touchmetrics_conversations_started_total, channel)"
    )
    panels = [p for p in detail["panels"] if p["type"] != "row"]
    types = {p["type"] for p in panels}
    assert {"heatmap", "stat", "timeseries"} <= types
    for panel in panels:
        for expr in targets(panel):
            if "events_received_total" in expr:
                continue  # events are counted before they have a channel
            assert '"$channel"' in expr or '"$kind"' in expr, (panel["title"], expr)
    titles = " | ".join(p["title"] for p in panels)
    wanted_titles = ("heatmap", "reopened", "Events received", "last event", "open conversations")
    for wanted in wanted_titles:
        assert wanted in titles, wanted
    # An objective pooled over every channel says nothing about one: it is on the overview only.
    assert not any('objective="csat"' in e for p in panels for e in targets(p))


def test_a_build_is_reproducible(dashboard_config: Path, built: Path, tmp_path: Path):
    again = tmp_path / "again"
    assert (
        run("dashboards", "build", "--config", str(dashboard_config), "-o", str(again)).exit_code
        == 0
    )
    for path in built.rglob("*.*"):
        assert (again / path.relative_to(built)).read_bytes() == path.read_bytes(), path


def test_without_objectives_there_are_no_objective_panels(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS}))
    result = run("dashboards", "build", "--config", str(config), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    panels = load(tmp_path / "out", "touchmetrics-overview")["panels"]
    assert not [p for p in panels if "Objectives" in p["title"]]
    assert len(panels) == 7 * 3


def test_push_uploads_both_into_one_folder_replacing_the_same_uid(
    dashboard_config: Path, standin_grafana: Any
):
    env = {"TOUCHMETRICS_GRAFANA_TOKEN": TOKEN}
    args = (
        "dashboards",
        "push",
        "--config",
        str(dashboard_config),
        "--grafana-url",
        standin_grafana.url,
    )
    first = run(*args, env=env)
    second = run(*args, env=env)
    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    state = standin_grafana.state
    assert list(state.folders) == ["touchmetrics"]
    assert set(state.dashboards) == {"touchmetrics-overview", "touchmetrics-channel"}
    assert state.versions == {"touchmetrics-overview": 2, "touchmetrics-channel": 2}
    for body in state.dashboards.values():
        assert (body["folderUid"], body["overwrite"], body["dashboard"]["id"]) == (
            "touchmetrics",
            True,
            None,
        )
    assert [r.method + " " + r.path for r in state.requests if r.method == "POST"].count(
        "POST /api/folders"
    ) == 1
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in state.requests)
    assert "touchmetrics-overview: Support overview: AI and human -> " in second.output
    assert "/d/touchmetrics-overview/" in second.output and "(version 2)" in second.output
    assert TOKEN not in first.output + second.output


def test_push_with_a_wrong_token_names_the_variable_not_the_token(
    dashboard_config: Path, standin_grafana: Any
):
    wrong = "not-the-right-token-1234"
    url = standin_grafana.url
    result = run(
        "dashboards", "push", "--config", str(dashboard_config), "--grafana-url", url,
        env={"TOUCHMETRICS_GRAFANA_TOKEN": wrong},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "refused folder touchmetrics: 401" in result.output
    assert "TOUCHMETRICS_GRAFANA_TOKEN" in result.output
    assert wrong not in result.output
    assert not standin_grafana.state.dashboards


def test_push_to_an_address_where_nothing_listens_says_so(dashboard_config: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = run(
            "dashboards", "push", "--config", str(dashboard_config),
            "--grafana-url", f"http://admin:secret@127.0.0.1:{port}",
            env={"TOUCHMETRICS_GRAFANA_TOKEN": TOKEN},
        )  # fmt: skip
    assert result.exit_code == 2
    assert f"Grafana at http://127.0.0.1:{port} cannot be reached" in result.output
    assert "secret" not in result.output and TOKEN not in result.output


def test_the_committed_grafana_folder_is_built_from_the_deploy_configuration(tmp_path: Path):
    out = tmp_path / "grafana"
    result = run(
        "dashboards",
        "build",
        "--config",
        str(REPO / "deploy" / "touchmetrics.yaml"),
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    committed = REPO / "dashboards" / "grafana"
    fresh = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    for path in fresh:
        assert (out / path).read_bytes() == (committed / path).read_bytes(), (
            f"{path} is stale: touchmetrics dashboards build --config deploy/touchmetrics.yaml "
            "-o dashboards/grafana"
        )


def test_the_readme_mockup_is_drawn_from_the_overview_json():
    model = load(REPO / "dashboards" / "grafana", "touchmetrics-overview")
    drawn = render(model)
    assert (REPO / "docs" / "overview-dashboard.svg").read_text() == drawn, (
        "python -m dashboards.mockup dashboards/grafana/dashboards/touchmetrics-overview.json "
        "docs/overview-dashboard.svg"
    )
    panels = [p for p in model["panels"] if p["type"] != "row"]
    assert drawn.count('rx="4"') == len(panels)
    assert "Mock-up drawn from the dashboard JSON" in drawn
    for row in (p for p in model["panels"] if p["type"] == "row"):
        assert row["title"] in drawn


def test_docker_compose_mounts_the_grafana_folder_where_its_provider_looks():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert "./dashboards/grafana:/etc/grafana/provisioning:ro" in grafana["volumes"]
    [provider] = yaml.safe_load(
        (REPO / "dashboards" / "grafana" / "dashboards" / "touchmetrics.yaml").read_text()
    )["providers"]
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards"
    [source] = yaml.safe_load(
        (REPO / "dashboards" / "grafana" / "datasources" / "touchmetrics.yaml").read_text()
    )["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
    for name in ("touchmetrics", "scheduler", "migrate"):
        service = compose["services"][name]
        assert (
            service["environment"]["TOUCHMETRICS_CONFIG"] == "/etc/touchmetrics/touchmetrics.yaml"
        )
        assert (
            "./deploy/touchmetrics.yaml:/etc/touchmetrics/touchmetrics.yaml:ro"
            in service["volumes"]
        )
