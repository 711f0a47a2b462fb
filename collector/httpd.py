"""waitress set up for touchmetrics: the body limit, and refusals before a body is read.

waitress reads a whole request before it calls the application, keeping a body over
`inbuf_overflow` (512 KiB) in a temporary file. Checked only in the app, a write without a
token would have been read (and up to waitress' 1 GiB default, spooled to disk) before its
401. Here the parser runs collector/gate.py as soon as the headers are in, and a refused
request is answered and its connection closed without reading the body.

This hooks waitress' parser and channel classes (`HTTPChannel.parser_class`,
`server.channel_class`), stable since waitress 1.0 but not a documented API: pyproject.toml
keeps waitress below 4, and tests/test_security.py proves the refusal over a real socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import orjson
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.utilities import Error, RequestEntityTooLarge

from collector.gate import Refusal, body_over_limit, refuse
from collector.lanes import Lanes
from collector.settings import Settings


def make_server(app: Any, settings: Settings, *, host: str, port: int, threads: int) -> Any:
    """A waitress server for ``app`` that refuses what collector/gate.py refuses, early,
    with a lane of threads of its own for scrapes and probes (collector/lanes.py)."""
    sockets: dict[int, Any] = {}
    # waitress refuses a declared length >= its limit; the app's limit is inclusive.
    server = create_server(
        app, map=sockets, host=host, port=port, threads=threads,
        max_request_body_size=settings.max_body_bytes + 1,
        _dispatcher=Lanes(threads, settings.http_probe_threads),
    )  # fmt: skip
    channel = gated_channel(settings)
    # One server per listening socket (a host name may resolve to several addresses).
    for dispatcher in list(sockets.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
    return server


def gated_channel(settings: Settings) -> type[HTTPChannel]:
    """A channel class whose parser checks each request's headers against ``settings``."""
    parser = type("GatedParser", (GatedParser,), {"settings": settings})
    return type("GatedChannel", (HTTPChannel,), {"parser_class": parser})


class GatedParser(HTTPRequestParser):
    """waitress' request parser, plus the gate between the headers and the body."""

    settings: Settings

    def received(self, data: bytes) -> int:
        had_headers = self.headers_finished
        consumed = super().received(data)
        if had_headers:
            if type(self.error) is RequestEntityTooLarge:
                # A chunked body grew past the limit: answer as the app does, in JSON and
                # naming the setting's limit (waitress names its own, one byte more).
                limit = self.settings.max_body_bytes
                self.error = Refused(Refusal(413, body_over_limit(limit)))
            return consumed
        if not self.headers_finished or self.empty:
            return consumed
        if self.error is None or isinstance(self.error, RequestEntityTooLarge):
            refusal = self._refusal()
            if refusal is not None:
                self.error = Refused(refusal)
                self.completed = True  # the channel answers now and closes; no body is read
                self.expect_continue = False  # and never invites the client to send it
        return consumed

    def _refusal(self) -> Refusal | None:
        method = self.command.decode("latin-1") if isinstance(self.command, bytes) else self.command
        length = None if self.chunked else self.content_length
        return refuse(self.settings, method, self._header, length)

    def _header(self, name: str) -> str | None:
        return self.headers.get(name.upper().replace("-", "_"))


class Refused(Error):
    """A refusal as waitress' error answer: the JSON body the app would have given."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.code = refusal.status
        self.reason = HTTPStatus(refusal.status).phrase

    def to_response(  # type: ignore[override]  # waitress writes bytes; its stubs say str
        self, ident: str | None = None
    ) -> tuple[str, Sequence[tuple[str, str]], bytes]:
        headers = [("Content-Type", "application/json"), *self.refusal.headers]
        return f"{self.code} {self.reason}", headers, orjson.dumps({"error": self.refusal.message})
