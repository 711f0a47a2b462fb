"""Grafana dashboards as code (DESIGN section 14), built with grafana-foundation-sdk.

``build(settings)`` gives both dashboards as Grafana JSON models, keyed by uid;
``write_folder`` writes them with their provisioning files; ``push`` uploads them.
"""

from __future__ import annotations

from typing import Any

from collector.settings import Settings
from dashboards.detail import build_detail
from dashboards.frame import DETAIL_UID, OVERVIEW_UID, as_json
from dashboards.overview import build_overview
from dashboards.provisioning import FOLDER_TITLE, FOLDER_UID, Target, write_folder


def build(settings: Settings) -> dict[str, dict[str, Any]]:
    """Both dashboards for these channels and objectives, by uid."""
    return {
        OVERVIEW_UID: as_json(build_overview(settings)),
        DETAIL_UID: as_json(build_detail(settings)),
    }


__all__ = [
    "DETAIL_UID",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "OVERVIEW_UID",
    "Target",
    "build",
    "write_folder",
]
