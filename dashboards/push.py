"""Uploading the dashboards to a running Grafana with grafana-client.

Into one folder (uid ``touchmetrics``, created when missing), each dashboard replacing the one
with the same uid. The token authenticates every request and appears in no message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import niquests
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from collector.errors import PushError
from dashboards.provisioning import FOLDER_TITLE, FOLDER_UID

TIMEOUT_SECONDS = 10.0
MESSAGE = "touchmetrics dashboards push"


@dataclass(frozen=True, slots=True)
class Pushed:
    """One dashboard as Grafana stored it."""

    uid: str
    title: str
    url: str
    version: int | None


def push(url: str, token: str | None, dashboards: Mapping[str, dict[str, Any]]) -> list[Pushed]:
    """Upload every dashboard into the touchmetrics folder.

    1. Look the folder up by uid; create it when Grafana answers 404.
    2. Post each dashboard with ``overwrite``, so the same uid is replaced, never duplicated.
    3. Return what Grafana answered for each; any refusal raises PushError naming it.
    """
    api = GrafanaApi.from_url(url, credential=token, timeout=TIMEOUT_SECONDS)
    where = shown(url)
    _ensure_folder(api, where)
    pushed = []
    for uid, model in dashboards.items():
        body = {
            "dashboard": {**model, "id": None},
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": MESSAGE,
        }
        answer = _call(where, f"dashboard {uid}", lambda b=body: api.dashboard.update_dashboard(b))
        pushed.append(
            Pushed(
                uid, str(model.get("title", uid)), str(answer.get("url", "")), answer.get("version")
            )
        )
    return pushed


def _ensure_folder(api: GrafanaApi, where: str) -> None:
    try:
        api.folder.get_folder(FOLDER_UID)
        return
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise _refused(where, f"folder {FOLDER_UID}", exc) from exc
    except (GrafanaException, niquests.exceptions.RequestException) as exc:
        raise _unreachable(where, exc) from exc
    _call(
        where,
        f"folder {FOLDER_UID}",
        lambda: api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID),
    )


def _call(where: str, what: str, request: Any) -> dict[str, Any]:
    try:
        answer = request()
    except GrafanaException as exc:
        raise _refused(where, what, exc) from exc
    except niquests.exceptions.RequestException as exc:
        raise _unreachable(where, exc) from exc
    return answer if isinstance(answer, dict) else {}


def _refused(where: str, what: str, exc: GrafanaException) -> PushError:
    hint = " (check TOUCHMETRICS_GRAFANA_TOKEN)" if exc.status_code in (401, 403) else ""
    return PushError(f"Grafana at {where} refused {what}: {exc.status_code} {_message(exc)}{hint}")


def _unreachable(where: str, exc: Exception) -> PushError:
    return PushError(f"Grafana at {where} cannot be reached: {type(exc).__name__}")


def _message(exc: GrafanaException) -> str:
    response = exc.response
    if isinstance(response, dict) and "message" in response:
        return str(response["message"])[:200]
    return str(exc.message)[:200]


def shown(url: str) -> str:
    """The URL without any user or password in it, fit for a message."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
