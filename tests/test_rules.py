"""`touchmetrics rules` (DESIGN 13): the rules, their promtool tests and alertmanager.yml.

The generated tests are themselves put to the test: they pass with promtool, and they fail
when the rules are wrong in the ways that matter (no `min_events` guard, the bound on the
wrong side, a bucket bound that /metrics does not print).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.cli import main
from collector.connect import make_engine
from collector.settings import Settings, parse_settings
from collector.store import Store
from exporters.prometheus import make_registry, render_metrics
from exporters.rules import le_label, write_rules
from tests.conftest import CHANNELS, require
from tests.test_objectives import SECTION_11

SMTP = {
    "smtp_host": "smtp.example.com",
    "smtp_username": "touchmetrics",
    "smtp_password": "never-in-a-file",
    "smtp_from": "touchmetrics@example.com",
    "alert_email_to": ["leads@example.com", "ops@example.com"],
}


@pytest.fixture
def rules_cli(tmp_path: Path) -> Callable[..., Result]:
    """`touchmetrics rules --config C -o OUT ...` for a configuration given as a mapping."""

    def run(data: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> Result:
        config = tmp_path / "touchmetrics.yaml"
        config.write_text(yaml.safe_dump({"channels": CHANNELS, **data}))
        argv = ["rules", "--config", str(config), "-o", str(tmp_path / "out"), *args]
        return CliRunner().invoke(main, argv, catch_exceptions=False, env=env)

    return run


def promtool_tests(folder: Path) -> subprocess.CompletedProcess[str]:
    files = sorted(str(p) for p in folder.glob("touchmetrics.rules.test*.yml"))
    return subprocess.run(
        ["promtool", "test", "rules", *files], capture_output=True, text=True, timeout=300
    )


def needs_promtool() -> None:
    require(shutil.which("promtool") is not None, "promtool not installed")


def test_it_writes_the_three_files_and_promtool_passes_them(rules_cli, tmp_path):
    needs_promtool()
    result = rules_cli({"objectives": SECTION_11, "alert_mail": "alertmanager", **SMTP}, "--check")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "alertmanager.yml",
        "touchmetrics.rules.test.yml",
        "touchmetrics.rules.yml",
    ]
    assert f"ok: promtool check rules {out / 'touchmetrics.rules.yml'}" in result.stdout
    assert f"ok: promtool test rules {out / 'touchmetrics.rules.test.yml'}" in result.stdout
    if shutil.which("amtool"):
        assert f"ok: amtool check-config {out / 'alertmanager.yml'}" in result.stdout
    assert result.stderr == ""


def test_one_objective_becomes_two_recording_rules_and_one_alert(tmp_path):
    settings = parse_settings({"channels": CHANNELS, "objectives": SECTION_11})
    write_rules(settings, tmp_path)
    groups = yaml.safe_load((tmp_path / "touchmetrics.rules.yml").read_text())["groups"]
    assert [g["name"] for g in groups] == [f"touchmetrics-objective-{n}" for n in SECTION_11]
    ratio = 'touchmetrics_segments_ended_total{channel="bot-chat"'
    assert groups[0]["rules"] == [
        {
            "record": "touchmetrics:objective_ratio:1h",
            "expr": f'sum by (channel, kind) (increase({ratio},outcome="resolved"}}[1h]))\n'
            f"/\nsum by (channel, kind) (increase({ratio}}}[1h]))",
            "labels": {"objective": "bot-containment"},
        },
        {
            "record": "touchmetrics:objective_events:1h",
            "expr": f"sum by (channel, kind) (increase({ratio}}}[1h]))",
            "labels": {"objective": "bot-containment"},
        },
        {
            "alert": "TouchmetricsObjectiveBreached",
            "expr": 'touchmetrics:objective_ratio:1h{objective="bot-containment"} < 0.6\n'
            'and touchmetrics:objective_events:1h{objective="bot-containment"} >= 20',
            "for": "5m",
            "labels": {"objective": "bot-containment", "severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.channel }} resolution rate "
                "{{ $value | humanizePercentage }} over 1h, objective ≥ 60%",
                "title": "The web assistant resolves most conversations itself",
                "description": "The web assistant resolves most conversations itself: the "
                "resolution rate of {{ $labels.channel }} must stay at or above 60% over the "
                "trailing 1h, judged once it holds at least 20 ended segments. Objective "
                "`bot-containment`, severity warning. "
                "Numbers: http://127.0.0.1:9480/api/v1/summary",
            },
        },
    ]
    escalations = groups[2]["rules"]
    assert escalations[0]["expr"].startswith(
        'sum by (kind) (increase(touchmetrics_segments_ended_total{kind="ai",outcome="escalated"}'
    )
    first_response = groups[1]["rules"][0]["expr"]
    assert (
        'touchmetrics_first_response_seconds_bucket{kind="human",le="120.0"}[1h]' in first_response
    )
    assert 'touchmetrics_first_response_seconds_count{kind="human"}[1h]' in first_response
    csat = groups[3]["rules"]
    assert csat[2]["expr"].endswith('touchmetrics:objective_events:1d{objective="csat"} >= 50')


def test_the_le_label_is_the_text_metrics_prints_for_the_threshold(
    make_settings: Callable[..., Settings],
):
    fast = {**SECTION_11["human-first-response"], "within_seconds": 45}
    settings = make_settings(objectives={"fast": fast})
    store = Store(make_engine(settings.database_url), settings)
    try:
        exposition = render_metrics(make_registry(store))[0].decode()
    finally:
        store.close()
    label = le_label(45)  # 45 s is no default bound: the objective adds it
    assert label == "45.0"
    bucket = f'{{channel="chat",kind="human",le="{label}"}} 0.0'
    assert f"touchmetrics_first_response_seconds_bucket{bucket}" in exposition.splitlines()


@pytest.mark.parametrize(
    ("breakage", "old", "new"),
    [
        (
            "no min_events guard",
            "\n      and touchmetrics:objective_events:1h",
            "\n      or touchmetrics:objective_events:1h",
        ),
        ("the bound on the wrong side", "} < 0.6\n", "} <= 0.6\n"),
        ("a bucket /metrics does not print", 'le="120.0"', 'le="120"'),
        ("a window cut short", "[1h]))\n      /", "[30m]))\n      /"),
    ],
)
def test_the_generated_tests_fail_rules_that_are_wrong(breakage, old, new, tmp_path):
    needs_promtool()
    settings = parse_settings({"channels": CHANNELS, "objectives": SECTION_11})
    write_rules(settings, tmp_path)
    assert promtool_tests(tmp_path).returncode == 0
    rules = tmp_path / "touchmetrics.rules.yml"
    text = rules.read_text()
    assert old in text, breakage
    rules.write_text(text.replace(old, new, 1))
    assert promtool_tests(tmp_path).returncode == 1, breakage


def test_check_exits_1_with_the_output_of_the_check_that_failed(rules_cli, tmp_path):
    needs_promtool()
    broken = tmp_path / "prometheus.yml"
    broken.write_text("rule_files: [nowhere/touchmetrics.rules.yml]\n")
    result = rules_cli({"objectives": SECTION_11}, "--check", "--prometheus-config", str(broken))
    assert result.exit_code == 1
    assert f"FAILED: promtool check config {broken}" in result.stdout
    assert "nowhere/touchmetrics.rules.yml" in result.stdout  # promtool's own words follow


def test_check_without_promtool_says_what_to_install(rules_cli, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = rules_cli({"objectives": SECTION_11}, "--check", env={"PATH": str(empty)})
    assert result.exit_code == 2
    assert "promtool is not installed" in result.stderr
    assert "apt-get install prometheus" in result.stderr


def test_check_without_amtool_checks_the_rest_and_says_so(rules_cli, tmp_path):
    needs_promtool()
    only = tmp_path / "bin"
    only.mkdir()
    (only / "promtool").symlink_to(shutil.which("promtool") or "promtool")
    data = {"objectives": SECTION_11, "alert_mail": "alertmanager", **SMTP}
    result = rules_cli(data, "--check", env={"PATH": str(only)})
    assert result.exit_code == 0, result.output
    assert "skipped: amtool check-config" in result.stdout
    assert "amtool is not installed (Debian: prometheus-alertmanager): not checked" in result.stdout


def test_it_warns_that_builtin_mail_and_alertmanager_would_both_mail(rules_cli):
    result = rules_cli({"objectives": SECTION_11, **SMTP})
    assert result.exit_code == 0
    assert "warning: alert_mail is `builtin`" in result.stderr
    assert "set alert_mail: alertmanager" in result.stderr


def test_alertmanager_routes_by_severity_to_mail_from_the_smtp_settings(tmp_path):
    settings = parse_settings(
        {"channels": CHANNELS, "objectives": SECTION_11, "alert_mail": "alertmanager", **SMTP}
    )
    write_rules(settings, tmp_path)
    text = (tmp_path / "alertmanager.yml").read_text()
    assert "never-in-a-file" not in text
    config = yaml.safe_load(text)
    assert config["global"] == {
        "smtp_smarthost": "smtp.example.com:587",
        "smtp_from": "touchmetrics@example.com",
        "smtp_auth_username": "touchmetrics",
        "smtp_auth_password_file": "/run/secrets/smtp_password",
        "smtp_require_tls": True,
    }
    route = config["route"]
    assert route["group_by"] == ["alertname", "objective", "channel", "kind"]
    assert route["routes"] == [
        {"matchers": ['severity="critical"'], "receiver": "touchmetrics-critical"},
        {"matchers": ['severity="warning"'], "receiver": "touchmetrics-warning"},
    ]
    (mail,) = config["receivers"][0]["email_configs"]
    assert (mail["to"], mail["send_resolved"]) == ("leads@example.com, ops@example.com", True)


def test_an_objective_with_its_own_recipients_gets_its_own_route(tmp_path):
    objectives = {**SECTION_11, "csat": {**SECTION_11["csat"], "notify": ["cx@example.com"]}}
    settings = parse_settings({"channels": CHANNELS, "objectives": objectives, **SMTP})
    write_rules(settings, tmp_path)
    config = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    assert config["route"]["routes"][0] == {
        "matchers": ['objective="csat"'],
        "receiver": "touchmetrics-csat",
    }
    receivers = {r["name"]: r["email_configs"][0]["to"] for r in config["receivers"]}
    assert receivers["touchmetrics-csat"] == "cx@example.com"


@pytest.mark.parametrize(
    ("security", "port", "require_tls"),
    [("starttls", 587, True), ("ssl", 465, False), ("none", 25, False)],
)
def test_smtp_security_maps_to_what_alertmanager_does(security, port, require_tls, tmp_path):
    data = {**SMTP, "smtp_security": security, "smtp_port": port}
    write_rules(parse_settings({"channels": CHANNELS, **data}), tmp_path)
    config = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    assert config["global"]["smtp_smarthost"] == f"smtp.example.com:{port}"
    assert config["global"]["smtp_require_tls"] is require_tls


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({}, "`smtp_host` is not set"),
        (
            {**SMTP, "smtp_security": "ssl", "smtp_port": 2465},
            "`smtp_security: ssl` needs `smtp_port: 465`",
        ),
        ({**SMTP, "alert_email_to": []}, "`alert_email_to` is empty and objectives"),
    ],
)
def test_without_a_way_to_mail_it_writes_the_rules_and_says_why_not_alertmanager(
    rules_cli, tmp_path, data, says
):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "alertmanager.yml").write_text("stale: true\n")
    result = rules_cli({"objectives": SECTION_11, "alert_mail": "alertmanager", **data})
    assert result.exit_code == 0
    assert f"warning: alertmanager.yml not written: {says}" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "touchmetrics.rules.test.yml",
        "touchmetrics.rules.yml",
    ]


def test_windows_far_apart_get_test_files_of_their_own(rules_cli, tmp_path):
    needs_promtool()
    objectives = {
        "fast": {"indicator": "csat", "min": 0.8, "window": "5m", "for": "0s"},
        "monthly": {"indicator": "resolution_rate", "min": 0.6, "window": "30d", "for": "1h"},
    }
    result = rules_cli({"objectives": objectives}, "--check")
    assert result.exit_code == 0, result.output
    tests = sorted(p.name for p in (tmp_path / "out").glob("touchmetrics.rules.test*.yml"))
    assert tests == ["touchmetrics.rules.test.7d12h.yml", "touchmetrics.rules.test.yml"]
    steps = [
        yaml.safe_load((tmp_path / "out" / n).read_text())["evaluation_interval"] for n in tests
    ]
    assert steps == ["7d12h", "1m15s"]  # a quarter of each file's shortest window


OBJECTIVE = st.fixed_dictionaries(
    {
        "indicator": st.sampled_from(
            ["resolution_rate", "escalation_rate", "csat", "first_response"]
        ),
        "window": st.sampled_from(["5m", "1h", "90m", "1d", "7d"]),
        "for": st.sampled_from(["0s", "1m", "5m", "1h"]),
        "min_events": st.sampled_from([1, 2, 20, 150]),
        "severity": st.sampled_from(["warning", "critical"]),
        "by": st.sampled_from(["channel", "kind", "all"]),
        "cover": st.sampled_from(
            [{}, {"kind": "ai"}, {"kind": "human"}, {"channels": ["bot-chat", "chat"]}]
        ),
        "bound": st.sampled_from(
            [{"min": 0.6}, {"max": 0.35}, {"min": 0.999}, {"max": 0.0}, {"min": 0.0}]
        ),
    }
)


def _objective(spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    entry = {**spec.pop("cover"), **spec.pop("bound"), **spec}
    if entry["indicator"] == "first_response":
        entry["within_seconds"] = 45
    return entry


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(OBJECTIVE, min_size=1, max_size=4))
def test_promtool_passes_the_tests_generated_for_any_mix_of_objectives(tmp_path, specs):
    """Objectives that overlap (one alert name for all) still get tests that hold."""
    needs_promtool()
    objectives = {f"o{i}": _objective(s) for i, s in enumerate(specs)}
    folder = tmp_path / str(abs(hash(repr(objectives))))
    write_rules(parse_settings({"channels": CHANNELS, "objectives": objectives}), folder)
    done = promtool_tests(folder)
    assert done.returncode == 0, done.stdout[-3000:]
