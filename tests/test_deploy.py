"""deploy/ and docker-compose.yml hold together, checked without a container engine.

Every file or folder the compose file mounts exists (or is a secret its header tells the user to
create), every service it names is defined, Prometheus' configuration loads the generated
rules and points at Alertmanager, and deploy/rules/ is what `touchmetrics rules` writes
from deploy/touchmetrics.yaml today.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.settings import load_settings
from exporters.rules import write_rules
from tests.conftest import REPO, require

DEPLOY = REPO / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def host_path(mount: str) -> Path | None:
    """The host side of a bind mount (``./x:/y:ro``), or None for a named volume."""
    source = mount.split(":", 1)[0]
    return REPO / source if source.startswith(("./", "/")) else None


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    mounted = [
        path
        for service in compose["services"].values()
        for mount in service.get("volumes", [])
        if (path := host_path(mount)) is not None
    ]
    assert REPO / "deploy/rules/alertmanager.yml" in mounted
    assert REPO / "deploy/rules/touchmetrics.rules.yml" in mounted
    assert REPO / "dashboards/grafana" in mounted  # Grafana's provisioning folder
    assert [p for p in mounted if not (p.is_file() or p.is_dir())] == []


def test_every_secret_file_exists_or_the_header_says_how_to_create_it(
    compose: dict[str, Any],
) -> None:
    header = (REPO / "docker-compose.yml").read_text().split("\nservices:")[0]
    ignored = (REPO / ".gitignore").read_text().splitlines()
    for name, secret in compose["secrets"].items():
        path = REPO / secret["file"]
        if not path.exists():
            assert f"> {secret['file']}" in header, f"the header does not say how to make {name}"
            assert secret["file"] in ignored, f"{secret['file']} could be committed by mistake"
    used = {s for service in compose["services"].values() for s in service.get("secrets", [])}
    assert used == set(compose["secrets"])


def test_every_service_named_is_defined(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        needs = service.get("depends_on", [])
        assert set(needs) <= set(services), name
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = [
        target
        for section in (prometheus["scrape_configs"], prometheus["alerting"]["alertmanagers"])
        for entry in section
        for static in entry["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["touchmetrics:9480", "alertmanager:9093"]
    for target in targets:
        host, port = target.split(":")
        assert f"{port}:{port}" in services[host]["ports"], target


def test_prometheus_loads_the_generated_rules_as_mounted(compose: dict[str, Any]) -> None:
    require(shutil.which("promtool") is not None, "promtool not installed")
    # The rules sit next to prometheus.yml as they do in the container, so the same relative
    # path works in both places and promtool checks the rules it names as well.
    mounts = dict(m.split(":")[:2] for m in compose["services"]["prometheus"]["volumes"])
    assert mounts["./deploy/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    rules_in_container = mounts["./deploy/rules/touchmetrics.rules.yml"]
    assert rules_in_container == "/etc/prometheus/rules/touchmetrics.rules.yml"
    done = subprocess.run(
        ["promtool", "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 12 rules found" in done.stdout


def test_alertmanager_reads_the_password_from_the_mounted_secret(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "rules/alertmanager.yml").read_text())
    secret = config["global"]["smtp_auth_password_file"]
    assert secret == "/run/secrets/smtp_password"
    assert "smtp_password" in compose["services"]["alertmanager"]["secrets"]


def test_the_generated_files_are_up_to_date_with_the_objectives(tmp_path: Path) -> None:
    """After editing deploy/touchmetrics.yaml, regenerate deploy/rules (see the compose file)."""
    settings = load_settings(DEPLOY / "touchmetrics.yaml", env={})
    written = write_rules(settings, tmp_path)
    assert written.warnings == []
    names = sorted(p.name for p in written.paths)
    assert names == sorted(p.name for p in (DEPLOY / "rules").iterdir())
    for name in names:
        assert (tmp_path / name).read_text() == (DEPLOY / "rules" / name).read_text(), name


def test_the_services_read_the_configuration_the_rules_come_from(compose: dict[str, Any]) -> None:
    for name in ("migrate", "touchmetrics", "scheduler"):
        service = compose["services"][name]
        config = service["environment"]["TOUCHMETRICS_CONFIG"]
        assert f"./deploy/touchmetrics.yaml:{config}:ro" in service["volumes"], name


def test_the_deployed_rules_pass_their_tests_and_alertmanager_takes_its_config() -> None:
    require(shutil.which("promtool") is not None, "promtool not installed")
    require(shutil.which("amtool") is not None, "amtool not installed")
    for command in (
        ["promtool", "test", "rules", str(DEPLOY / "rules/touchmetrics.rules.test.yml")],
        ["amtool", "check-config", str(DEPLOY / "rules/alertmanager.yml")],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
