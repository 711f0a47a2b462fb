"""`touchmetrics serve`: the app under waitress with the scheduler in the same process."""

from __future__ import annotations

import gc
import ipaddress
import logging
import signal
import socket
import sys
from types import FrameType

from waitress.server import TcpWSGIServer

from collector.app import create_app
from collector.connect import safe_url
from collector.database import open_store
from collector.demo import LiveFeed
from collector.errors import ConfigError
from collector.httpd import make_server
from collector.jobs import maintain_rollups
from collector.scheduler import build_scheduler
from collector.settings import Settings

log = logging.getLogger("touchmetrics.server")
# A guessable token on a public address is no token: 16 random characters are out of reach
# of guessing over HTTP; shorter ones are refused there (loopback takes any).
MIN_PUBLIC_TOKEN = 16


def check_bind(settings: Settings) -> None:
    """Refuse to open writes to the network: a non-loopback bind needs long tokens."""
    if is_loopback(settings.http_host):
        return
    if not settings.tokens:
        raise ConfigError(
            f"refusing to listen on {settings.http_host} without a token: set `tokens` "
            "(or TOUCHMETRICS_TOKENS_FILE), or bind 127.0.0.1"
        )
    short = sum(len(token) < MIN_PUBLIC_TOKEN for token in settings.tokens)
    if short:
        raise ConfigError(
            f"`tokens`: {short} of {len(settings.tokens)} shorter than {MIN_PUBLIC_TOKEN} "
            f"characters, refused on the non-loopback address {settings.http_host}; "
            "use long random tokens (`openssl rand -hex 32`)"
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = socket.getaddrinfo(host, None)
    except OSError as exc:  # socket.gaierror: a name that does not resolve
        raise ConfigError(
            f"`http_host`: cannot resolve {host!r} ({exc.strerror}); "
            "give an address such as 127.0.0.1, or a name this machine resolves"
        ) from exc
    return all(ipaddress.ip_address(a[4][0]).is_loopback for a in addresses)


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
        server = make_server(create_app(settings, store), settings, host=settings.http_host,
                             port=settings.http_port, threads=settings.http_threads)  # fmt: skip
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


def _bound_port(server: object) -> int:
    """The port actually bound (port 0 asks the system for a free one)."""
    # One host and one port always make a single TCP server.
    assert isinstance(server, TcpWSGIServer)
    return int(server.getsockname()[1])


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _announce(settings: Settings, port: int, demo: bool) -> None:
    host = settings.http_host
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    lines = [
        f"touchmetrics serving on {base}  (database: {safe_url(settings.database_url)})",
        f"  overview  {base}/",
        f"  metrics   {base}/metrics",
        f"  summary   {base}/api/v1/summary",
        f"  ingest    POST {base}/api/v1/events",
    ]
    if demo:
        lines.append("  demo      a live synthetic stream is feeding AI and human channels")
    print("\n".join(lines), flush=True)
