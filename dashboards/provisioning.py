"""Grafana provisioning files: a Prometheus data source, a dashboard provider, the JSON.

The folder written is laid out as Grafana's own provisioning folder, so mounting it at
``/etc/grafana/provisioning`` is all a stock Grafana needs::

    datasources/touchmetrics.yaml      the Prometheus data source (uid touchmetrics-prometheus)
    dashboards/touchmetrics.yaml       a file provider reading the JSON beside it
    dashboards/<uid>.json              one file per dashboard
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dashboards.frame import DATASOURCE_UID

FOLDER_TITLE = "touchmetrics"
FOLDER_UID = "touchmetrics"
PROVISIONING_PATH = "/etc/grafana/provisioning"


@dataclass(frozen=True, slots=True)
class Target:
    """Where Grafana finds Prometheus and, inside its container, the provisioning folder."""

    prometheus_url: str = "http://prometheus:9090"
    scrape_interval: str = "15s"
    mounted_at: str = PROVISIONING_PATH


def datasource(target: Target) -> dict[str, Any]:
    """The data source file: Prometheus, default, with its scrape interval for $__rate_interval."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "touchmetrics",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": target.prometheus_url,
                "isDefault": True,
                "editable": False,
                "jsonData": {"timeInterval": target.scrape_interval, "httpMethod": "POST"},
            }
        ],
    }


def provider(target: Target) -> dict[str, Any]:
    """The dashboard provider file: the JSON files beside it, in one folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "touchmetrics",
                "type": "file",
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": f"{target.mounted_at}/dashboards"},
            }
        ],
    }


def write_folder(
    out: Path, dashboards: dict[str, dict[str, Any]], target: Target = Target()
) -> list[Path]:
    """Write the provisioning folder; returns the files written, in a stable order."""
    written = []
    files: list[tuple[Path, str]] = [
        (out / "datasources" / "touchmetrics.yaml", _yaml(datasource(target))),
        (out / "dashboards" / "touchmetrics.yaml", _yaml(provider(target))),
    ]
    for uid, model in sorted(dashboards.items()):
        text = json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        files.append((out / "dashboards" / f"{uid}.json", text))
    for path, text in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _yaml(data: dict[str, Any]) -> str:
    header = "# Written by `touchmetrics dashboards build`; regenerate rather than edit.\n"
    return header + yaml.safe_dump(data, sort_keys=False)
