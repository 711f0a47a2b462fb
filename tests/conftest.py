"""Shared fixtures. Every test that touches the database runs against SQLite and PostgreSQL.

PostgreSQL comes from $TOUCHMETRICS_TEST_POSTGRES_URL (default: the CI server at
127.0.0.1:5432). Each test session makes its own database there, so parallel runs do not
meet. Without a server the PostgreSQL variants skip, unless TOUCHMETRICS_REQUIRE_ALL=1
(set by .ci/run), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from collector import tables
from collector.batch import Incoming
from collector.connect import make_engine
from collector.database import upgrade
from collector.schema import Validator
from collector.settings import Settings, parse_settings
from collector.store import Store
from collector.summary import Summary

REPO = Path(__file__).resolve().parent.parent
TOUCHMETRICS = [sys.executable, "-m", "collector.cli"]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_URL = os.environ.get(
    "TOUCHMETRICS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CHANNELS = {
    "bot-chat": {"kind": "ai", "title": "Web chat assistant"},
    "voice-bot": {"kind": "ai"},
    "chat": {"kind": "human", "title": "Live chat agents"},
    "phone": {"kind": "human"},
    "email": {"kind": "human"},
}
# The objectives of DESIGN section 11's example: a channel, a kind pooled, all pooled, and a
# duration threshold that becomes a bucket bound.
DESIGN_OBJECTIVES: dict[str, dict[str, Any]] = {
    "bot-containment": {
        "title": "The web assistant resolves most conversations itself",
        "indicator": "resolution_rate",
        "channels": ["bot-chat"],
        "min": 0.60,
    },
    "human-first-response": {
        "title": "People answer within two minutes",
        "indicator": "first_response",
        "kind": "human",
        "within_seconds": 120,
        "min": 0.90,
    },
    "bot-escalations": {
        "indicator": "escalation_rate",
        "kind": "ai",
        "by": "kind",
        "max": 0.35,
        "severity": "critical",
    },
    "csat": {"indicator": "csat", "min": 0.80, "window": "1d", "min_events": 50, "by": "all"},
}


def require(condition: bool, reason: str) -> None:
    """Skip when a needed part is missing, or fail when TOUCHMETRICS_REQUIRE_ALL=1."""
    if condition:
        return
    if os.environ.get("TOUCHMETRICS_REQUIRE_ALL") == "1":
        pytest.fail(f"required for this run: {reason}")
    pytest.skip(reason)


def create_postgres_database(prefix: str = "tm_test") -> str | None:
    """A new, migrated database on the PostgreSQL server; None when there is no server."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        return None
    finally:
        admin.dispose()
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_postgres_database(url: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str | None]:
    """A database of this session's own on the PostgreSQL server, dropped at the end."""
    url = create_postgres_database()
    yield url
    if url is not None:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An upgraded empty SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_server_url: str | None,
) -> Iterator[str]:
    """An empty, current database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "touchmetrics.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    require(postgres_server_url is not None, f"no PostgreSQL server at {POSTGRES_URL}")
    assert postgres_server_url is not None
    engine = create_engine(postgres_server_url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in tables.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    engine.dispose()
    yield postgres_server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A current database of each backend for this test alone, for tests that change the
    schema itself (a failure halfway leaves nothing behind for the next test)."""
    if request.param == "sqlite":
        path = tmp_path / "own.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = create_postgres_database("tm_own")
    require(url is not None, f"no PostgreSQL server at {POSTGRES_URL}")
    assert url is not None
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def config_file(tmp_path: Path, database_url: str) -> Path:
    """A configuration file with the demo channels on the test database."""
    path = tmp_path / "touchmetrics.yaml"
    path.write_text(yaml.safe_dump({"channels": CHANNELS, "database_url": database_url}))
    return path


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings on the test database with the demo channels, overridable per test."""

    def build(**overrides: Any) -> Settings:
        data: dict[str, Any] = {"channels": CHANNELS, "database_url": database_url}
        data.update(overrides)
        return parse_settings(data)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(make_engine(settings.database_url), settings)
    yield store
    store.engine.dispose()


@pytest.fixture
def offline_settings() -> Settings:
    """Settings for work that needs no database (file reports, validation)."""
    return parse_settings({"channels": CHANNELS})


@pytest.fixture
def write(store: Store) -> Callable[..., Summary]:
    """Validate and commit events in one batch, as `ingest` would; returns the summary."""

    def write_events(events: list[dict[str, Any]], source: str = "test") -> Summary:
        from collector.batch import batch_of_events

        batch = batch_of_events(Validator(store.settings), source, events)
        summary = Summary(records=len(events))
        summary.add(store.write_batch(batch))
        return summary

    return write_events


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A private CA, and a certificate for 127.0.0.1 it signed: (ca, certificate, key)."""
    from tests.mailserver import make_certificates

    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted_ca(certificates: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test CA trusted as a deployment would trust a private CA: SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates[0]))
    return certificates[0]


@pytest.fixture
def mail_servers(certificates: tuple[Path, Path, Path]) -> Iterator[Callable[..., Any]]:
    """Start real SMTP servers (aiosmtpd) on loopback; all stopped at the end of the test."""
    from tests.mailserver import MailServer, server_context

    started: list[MailServer] = []

    def start(security: str = "none", **options: Any) -> MailServer:
        tls = server_context(certificates[1], certificates[2]) if security != "none" else None
        server = MailServer(security, tls, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def mail_server(mail_servers: Callable[..., Any]) -> Any:
    """A plain SMTP server on loopback that keeps what it receives."""
    return mail_servers()


@pytest.fixture
def mail_settings(
    make_settings: Callable[..., Settings], mail_server: Any
) -> Callable[..., Settings]:
    """Settings that send alert mail to ``mail_server``, overridable per test."""

    def build(**overrides: Any) -> Settings:
        data: dict[str, Any] = {
            "smtp_host": "127.0.0.1", "smtp_port": mail_server.port, "smtp_security": "none",
            "smtp_from": "touchmetrics@example.org", "alert_email_to": ["ops@example.org"],
            "public_url": "https://metrics.example.org", "smtp_timeout_seconds": 5,
        }  # fmt: skip
        data.update(overrides)
        return make_settings(**data)

    return build


@pytest.fixture
def config_of(tmp_path: Path) -> Callable[[Settings], Path]:
    """Write settings to a YAML file a command or a child process can load (no secrets)."""

    def write(settings: Settings) -> Path:
        path = tmp_path / f"config-{uuid.uuid4().hex[:8]}.yaml"
        data = settings.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.pop("smtp_password", None)  # dumped masked; give it through *_FILE instead
        path.write_text(yaml.safe_dump(data))
        return path

    return write


CONTAINMENT = {
    "title": "The web assistant resolves most conversations itself",
    "indicator": "resolution_rate",
    "channels": ["bot-chat"],
    "min": 0.6,
    "window": "10m",
    "for": "5m",
    "min_events": 5,
}


@pytest.fixture
def alert_store(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Store]]:
    """Stores on the test database judging CONTAINMENT (overridable) with mail queued for
    ops@example.org; every one closed at the end of the test."""
    opened: list[Store] = []

    def build(objective: dict[str, Any] | None = None, **overrides: Any) -> Store:
        data: dict[str, Any] = {
            "objectives": {"bot-containment": {**CONTAINMENT, **(objective or {})}},
            "smtp_host": "127.0.0.1", "smtp_security": "none",
            "alert_email_to": ["ops@example.org"], "smtp_from": "touchmetrics@example.org",
        }  # fmt: skip
        data.update(overrides)
        settings = make_settings(**data)
        store = Store(make_engine(settings.database_url), settings)
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


__all__ = [
    "CHANNELS",
    "DESIGN_OBJECTIVES",
    "REPO",
    "SHARED_DATA",
    "TOUCHMETRICS",
    "Incoming",
    "require",
]


class LiveServer:
    """The app served by waitress on a free loopback port, with an HTTP client for it."""

    def __init__(
        self, settings: Settings, store: Store | None = None, *, app_alone: bool = False
    ) -> None:
        import threading

        from waitress.server import create_server

        from collector.app import create_app
        from collector.httpd import make_server

        self.settings = settings
        self.store = store or Store(make_engine(settings.database_url), settings)
        app = create_app(settings, self.store)
        if app_alone:  # as another WSGI server (gunicorn) would host it: the app's checks only
            self.server = create_server(app, host="127.0.0.1", port=0, threads=4)
        else:  # as `serve` runs it, refusing before a body is read
            self.server = make_server(app, settings, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def _loop(self) -> None:
        # Short slices of waitress' loop, so stop() never closes sockets under a running poll.
        server = self.server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1, use_poll=True)

    def stop(self) -> None:
        self.http.close()
        self._stopping.set()
        self.thread.join(timeout=10)
        self.server.close()
        self.store.close()


@pytest.fixture
def serve_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers on the test database; all stopped at the end of the test."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        server = LiveServer(make_settings(**overrides))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live(serve_app: Callable[..., LiveServer]) -> LiveServer:
    return serve_app()


@pytest.fixture
def standin_grafana() -> Iterator[Any]:
    """A loopback HTTP server standing in for Grafana (which cannot run here), recording
    what it receives; it accepts the bearer token ``grafana-test-token`` only."""
    from tests.standin_grafana import StandInGrafana

    server = StandInGrafana(token="grafana-test-token")
    yield server
    server.stop()


class Chromium:
    """Headless Chromium (Debian's `chromium`) loading pages as a person's browser would."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary, self.profile = binary, profile

    def _run(self, url: str, *flags: str) -> str:
        import subprocess

        command = [
            self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={self.profile}", "--window-size=1400,1300", *flags, url,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def dom(self, url: str) -> str:
        """The document as the browser built it, after loading the page."""
        return self._run(url, "--dump-dom")

    def screenshot(self, url: str, path: Path) -> Path:
        self._run(url, f"--screenshot={path}")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        return path


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found is not None, "chromium not installed")
    assert found is not None
    return Chromium(found, tmp_path / "chromium-profile")


@pytest.fixture(params=["serve", "app alone"])
def front_door(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers as `serve` runs the app (refusing before a body is read) and as
    the app alone under plain waitress (as gunicorn would host it): both must refuse."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        server = LiveServer(make_settings(**overrides), app_alone=request.param == "app alone")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    """Poll ``check`` every 0.2 s until it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds}s")
        time.sleep(0.2)


class Service:
    """A `touchmetrics serve` child process and the base URL it announced."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        # stderr to a file: a pipe nobody reads would stall a server that logs a lot.
        self.log = log
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [*TOUCHMETRICS, "serve", "--port", "0", *args],
                stdout=subprocess.PIPE, stderr=err, text=True,
                env=None if env is None else {**os.environ, **env},
            )  # fmt: skip
        self.url = self._announced_url()
        self.port = int(self.url.rsplit(":", 1)[1])
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def _announced_url(self) -> str:
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        self.banner = first
        found = re.search(r"serving on (http://\S+)", first)
        if found is None:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"serve did not start: {first!r} {self.stderr()!r}")
        return found.group(1)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit code and what it wrote to stderr."""
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return self.process.returncode, self.stderr()


@pytest.fixture
def launch(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Service]]:
    """Start `touchmetrics serve` processes on the test database; all stopped at the end.

    Arguments go to the command line; ``env`` to the process' environment; other keyword
    arguments are settings written to its configuration file."""
    running: list[Service] = []

    def start_service(*args: str, env: dict[str, str] | None = None, **settings: Any) -> Service:
        config = tmp_path / f"serve-{len(running)}.yaml"
        data = {"channels": CHANNELS, "database_url": database_url, **settings}
        config.write_text(yaml.safe_dump(data))
        log = tmp_path / f"serve-{len(running)}.log"
        service = Service(["--config", str(config), *args], log, env)
        running.append(service)
        return service

    yield start_service
    for service in running:
        if service.process.poll() is None:
            service.stop()


POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


class StallingProxy:
    """A TCP proxy on loopback that can stop forwarding while it keeps every socket open:
    a database server that is there and never answers (a black hole). New connections are
    still accepted, and held, while it is stalled."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stalled = threading.Event()
        self._closing = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def url(self, database_url: str) -> str:
        """``database_url`` through this proxy."""
        proxied = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    def stall(self) -> None:
        self._stalled.set()

    def resume(self) -> None:
        """Forward new connections again (the stalled ones stay stalled)."""
        self._stalled.clear()

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
        for sock in [self.listener, *self.held]:
            sock.close()

    def _loop(self) -> None:
        while not self._closing.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                if key.data is None:
                    self._accept()
                elif not self._stalled.is_set():
                    self._forward(key.fileobj, key.data)  # type: ignore[arg-type]
            if self._stalled.is_set():
                # Stop reading anything, keep everything open.
                for key in list(self._selector.get_map().values()):
                    if key.data is not None:
                        self._selector.unregister(key.fileobj)

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        self.held.append(client)
        if self._stalled.is_set():
            return
        upstream = socket.create_connection(self.target)
        self.held.append(upstream)
        self._selector.register(client, selectors.EVENT_READ, upstream)
        self._selector.register(upstream, selectors.EVENT_READ, client)

    def _forward(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            data = source.recv(65536)
            if data:
                sink.sendall(data)
                return
        except OSError:
            pass
        for sock in (source, sink):  # one side closed: close the pair
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()


@pytest.fixture
def stalling_proxy(database_url: str) -> Iterator[StallingProxy]:
    """A StallingProxy to the test's PostgreSQL server."""
    url = make_url(database_url)
    proxy = StallingProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.close()


# -- the CI check ----------------------------------------------------------------------------

# Objectives the check's tests judge: one per kind of verdict on the demo logs below.
CHECK_OBJECTIVES: dict[str, dict[str, Any]] = {
    "bot-containment": {
        "title": "The web assistant resolves most conversations itself",
        "indicator": "resolution_rate",
        "channels": ["bot-chat"],
        "min": 0.5,
    },
    "bot-escalations": {"indicator": "escalation_rate", "kind": "ai", "by": "kind", "max": 0.45},
    "human-first-response": {
        "indicator": "first_response",
        "channels": ["chat", "phone"],
        "by": "all",
        "within_seconds": 300,
        "min": 0.8,
    },
    "csat": {"indicator": "csat", "by": "all", "min": 0.7, "min_events": 50},
}


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Run `touchmetrics ARGS` in-process as a user would; returns click's result."""
    from click.testing import CliRunner

    from collector.cli import main

    runner = CliRunner()

    def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Any:
        return runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def check_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a configuration with the demo channels and (by default) CHECK_OBJECTIVES."""

    def write(objectives: dict[str, Any] | None = None, **settings: Any) -> Path:
        path = tmp_path / f"check-{uuid.uuid4().hex[:6]}.yaml"
        chosen = CHECK_OBJECTIVES if objectives is None else objectives
        data = {"channels": CHANNELS, **({"objectives": chosen} if chosen else {}), **settings}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def demo_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Logs from `demo generate`: a baseline, a candidate whose bots resolve far less, and
    a second draw of the baseline's bot (another seed, the same containment)."""
    from collector.demo import DemoSpec, generate

    folder = tmp_path_factory.mktemp("demo-logs")
    specs = {
        "baseline": DemoSpec(seed=1),
        "worse": DemoSpec(seed=2, containment=0.3),
        "same": DemoSpec(seed=2),
    }
    paths = {}
    for name, spec in specs.items():
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text("".join(generate(spec, conversations=2000)))
    return paths
