"""A small HTTP server that stands in for Grafana, which cannot run on these machines.

It answers the few routes `touchmetrics dashboards push` uses the way Grafana's HTTP API
documents them (folders by uid, POST /api/dashboards/db with overwrite) and records every
request it receives, headers and JSON bodies included, so a test can check what was sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class State:
    """What the stand-in holds: folders and dashboards by uid, and every request seen."""

    token: str
    requests: list[Received] = field(default_factory=list)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class StandInGrafana:
    """Serves on a free loopback port until stopped."""

    def __init__(self, token: str) -> None:
        self.state = State(token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        if not self._record(None):
            return
        if self.path.startswith("/api/folders/"):
            uid = self.path.removeprefix("/api/folders/")
            found = self.state.folders.get(uid)
            if found is None:
                self._answer(404, {"message": "folder not found"})
            else:
                self._answer(200, found)
        else:
            self._answer(404, {"message": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"null")
        if not self._record(body):
            return
        with self.state.lock:
            if self.path == "/api/folders":
                self._create_folder(body)
            elif self.path == "/api/dashboards/db":
                self._save_dashboard(body)
            else:
                self._answer(404, {"message": "not found"})

    def _record(self, body: Any) -> bool:
        """Record the request; answer 401 (as Grafana does) unless it carries the token."""
        self.state.requests.append(Received(self.command, self.path, dict(self.headers), body))
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            self._answer(401, {"message": "invalid API key"})
            return False
        return True

    def _create_folder(self, body: dict[str, Any]) -> None:
        uid = body["uid"]
        if uid in self.state.folders:
            self._answer(409, {"message": "a folder with the same uid already exists"})
            return
        self.state.folders[uid] = {
            "uid": uid,
            "title": body["title"],
            "id": len(self.state.folders) + 1,
        }
        self._answer(200, self.state.folders[uid])

    def _save_dashboard(self, body: dict[str, Any]) -> None:
        model = body["dashboard"]
        uid = model["uid"]
        if body.get("folderUid") not in self.state.folders:
            self._answer(400, {"message": "folder not found"})
            return
        if uid in self.state.dashboards and not body.get("overwrite"):
            self._answer(412, {"message": "a dashboard with the same uid already exists"})
            return
        self.state.versions[uid] = self.state.versions.get(uid, 0) + 1
        self.state.dashboards[uid] = body
        slug = model["title"].lower().replace(" ", "-").replace(":", "")
        self._answer(
            200,
            {
                "uid": uid,
                "url": f"/d/{uid}/{slug}",
                "version": self.state.versions[uid],
                "status": "success",
            },
        )

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
