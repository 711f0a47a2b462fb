"""Two lanes of server threads, so scrapes and probes never queue behind writes and reports.

waitress hands every request to one queue served by ``http_threads`` threads. Under four
busy writers, a scrape waited for one of them to finish (p99 955 ms on PostgreSQL), and
with the database unreachable every thread hung in a write while /healthz, which needs no
database, waited behind them. Here GET /metrics, /healthz and /readyz have threads of
their own (``http_probe_threads``); everything else shares the others.
"""

from __future__ import annotations

from typing import Any

from waitress.task import ThreadedTaskDispatcher

PROBE_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class Lanes(ThreadedTaskDispatcher):
    """waitress' task dispatcher, the main lane, with a second one for scrapes and probes
    (given to ``create_server`` as its ``_dispatcher``)."""

    def __init__(self, threads: int, probe_threads: int) -> None:
        super().__init__()
        self.set_thread_count(threads)
        self.probes = ThreadedTaskDispatcher()
        self.probes.set_thread_count(probe_threads)

    def add_task(self, task: Any) -> None:
        if is_probe(task):
            self.probes.add_task(task)
        else:
            super().add_task(task)

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        probes = self.probes.shutdown(cancel_pending, timeout)
        return bool(super().shutdown(cancel_pending, timeout) or probes)


def is_probe(task: Any) -> bool:
    """Whether waitress' task (a channel about to serve its first queued request) is a
    GET or HEAD of a probe path; anything unexpected goes to the main lane."""
    requests = getattr(task, "requests", None)
    if not requests:
        return False
    request = requests[0]
    method = getattr(request, "command", None)
    return method in ("GET", "HEAD") and getattr(request, "path", None) in PROBE_PATHS
