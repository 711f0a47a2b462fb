"""`touchmetrics serve`: the app under waitress with the scheduler in the same process."""

from __future__ import annotations

import gc
import ipaddress
import logging
import signal
import socket
import sys
from types import FrameType
from typing import Any

from waitress.server import TcpWSGIServer, create_server

from collector.app import create_app
from collector.database import open_store
from collector.demo import LiveFeed
from collector.errors import ConfigError
from collector.jobs import maintain_rollups
from collector.lanes import Lanes
from collector.scheduler import build_scheduler
from collector.settings import Settings

log = logging.getLogger("touchmetrics.server")


def check_bind(settings: Settings) -> None:
    """Refuse to open writes to the network: a non-loopback bind needs a token."""
    if settings.tokens or is_loopback(settings.http_host):
        return
    raise ConfigError(
        f"refusing to listen on {settings.http_host} without a token: set `tokens` "
        "(or TOUCHMETRICS_TOKENS_FILE), or bind 127.0.0.1"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return all(
            ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None)
        )


def serve(settings: Settings, *, demo: bool = False, scheduler: bool = True) -> None:
    """Serve until SIGTERM or Ctrl-C, then stop cleanly.

    1. Check the bind, open the store, bring the totals to the bucket layout in force.
    2. Start the scheduler (when asked) and the WSGI server; print the URLs.
    3. On SIGTERM: stop taking requests, let running ones and the running job finish;
       every write is one transaction, so nothing is left half-written.
    """
    check_bind(settings)
    store = open_store(settings)
    try:
        maintain_rollups(store)
        server = make_server(settings, create_app(settings, store))
    except OSError as exc:
        store.close()
        where = f"{settings.http_host}:{settings.http_port}"
        raise ConfigError(f"cannot listen on {where}: {exc.strerror}") from exc
    jobs, lock = build_scheduler(store, feed=LiveFeed() if demo else None)
    if scheduler:
        jobs.start()
    # What start-up built (modules, the app, the engines) lives as long as the process:
    # taken out of the collector's sight, a full collection no longer walks it. Under
    # four writers one took 260-350 ms, every thread stopped (a scrape's p99); 2 ms after.
    gc.freeze()
    _announce(settings, _bound_port(server), demo)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler:
            jobs.shutdown(wait=True)
        lock.release()
        server.close()
        store.close()
        print("touchmetrics stopped", file=sys.stderr, flush=True)


def make_server(settings: Settings, app: Any, *, port: int | None = None) -> TcpWSGIServer:
    """waitress on the settings' address (or ``port``), with a lane of threads of its own
    for scrapes and probes (collector.lanes)."""
    lanes = Lanes(settings.http_threads, settings.http_probe_threads)
    server = create_server(
        app,
        host=settings.http_host,
        port=settings.http_port if port is None else port,
        threads=settings.http_threads,
        _dispatcher=lanes,
    )
    # One host and one port always make a single TCP server.
    assert isinstance(server, TcpWSGIServer)
    return server


def _bound_port(server: TcpWSGIServer) -> int:
    """The port actually bound (port 0 asks the system for a free one)."""
    return int(server.getsockname()[1])


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _announce(settings: Settings, port: int, demo: bool) -> None:
    host = settings.http_host
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    lines = [
        f"touchmetrics serving on {base}  (database: {_safe_url(settings.database_url)})",
        f"  overview  {base}/",
        f"  metrics   {base}/metrics",
        f"  summary   {base}/api/v1/summary",
        f"  ingest    POST {base}/api/v1/events",
    ]
    if demo:
        lines.append("  demo      a live synthetic stream is feeding AI and human channels")
    print("\n".join(lines), flush=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
