"""Who may write, decided from a request's first line and headers, before its body is read.

The rules run in two places: in `serve`'s waitress parser as soon as the headers are in
(collector/httpd.py), so a refused body is never read, let alone spooled to a temporary
file; and in the Flask app, for any other WSGI server (gunicorn) and as a second guard.

- Only POST writes, and only POST may carry a body.
- With tokens configured, a write needs one of them as a bearer token.
- Without tokens (a loopback service), a write must come from this machine and not from a
  web page of another site: browsers attach no bearer token on their own, but they do send
  "simple" cross-site POSTs (text/plain, forms) to loopback addresses, and a site whose
  name resolves to 127.0.0.1 (DNS rebinding) is same-origin with itself. So the Host must
  name this machine, an Origin must match the Host, and the body must declare a JSON type,
  which no browser sends cross-site without a CORS preflight this service never answers.
- A declared body over `max_body_bytes` is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from collector.settings import Settings

Header = Callable[[str], str | None]  # a request header by name, None when absent
DEFAULT_PORTS = {"http": 80, "https": 443}
# JSON (an array, or one object) and the names in use for one JSON object per line.
BODY_TYPES = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
    }
)
UNAUTHORIZED = (("WWW-Authenticate", 'Bearer realm="touchmetrics"'),)


@dataclass(frozen=True)
class Refusal:
    """The answer to a request that may not go on: status, message and extra headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def refuse(settings: Settings, method: str, header: Header, length: int | None) -> Refusal | None:
    """Why this request may not go on, or None; ``length`` is the declared body size
    (0 without a body, None for a chunked body of unknown size)."""
    if method.upper() != "POST":
        if length != 0:
            return Refusal(400, f"a {method.upper()} request takes no body; only POST writes")
        return None
    if settings.tokens:
        refusal = _token_refusal(settings.tokens, header("Authorization"))
    else:
        refusal = _cross_site_refusal(settings.http_host, header)
    if refusal is None and length is not None and length > settings.max_body_bytes:
        return Refusal(413, body_over_limit(settings.max_body_bytes))
    return refusal


def body_over_limit(limit: int) -> str:
    return f"request body over the limit of {limit} bytes"


def _token_refusal(tokens: Sequence[str], authorization: str | None) -> Refusal | None:
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and _known(given.strip(), tokens):
        return None
    return Refusal(401, "a valid bearer token is required for writes", UNAUTHORIZED)


def _known(given: str, tokens: Sequence[str]) -> bool:
    # WSGI hands header bytes over as Latin-1 text: back to the bytes the client sent,
    # compared with each token's UTF-8 bytes (compare_digest refuses non-ASCII text).
    try:
        sent = given.encode("latin-1")
    except UnicodeEncodeError:
        return False
    # Every token is compared, so the time taken does not tell which one nearly matched.
    matches = [hmac.compare_digest(sent, token.encode("utf-8")) for token in tokens]
    return any(matches)


def _cross_site_refusal(bind: str, header: Header) -> Refusal | None:
    host = header("Host") or ""
    if not _names_this_machine(host, bind):
        return Refusal(
            403,
            "writes without a token are taken only on a loopback host name (localhost, "
            "127.0.0.1, [::1]); configure `tokens` to take writes addressed otherwise",
        )
    origin = header("Origin")
    fetch_site = (header("Sec-Fetch-Site") or "").lower()
    if (origin is not None and not _same_origin(origin, host)) or fetch_site in (
        "cross-site",
        "same-site",
    ):
        return Refusal(
            403,
            "cross-site write refused: a web page of another origin may not write events; "
            "send the request from a client without an Origin, or configure `tokens`",
        )
    content_type = header("Content-Type")
    if not _json_type(content_type):
        got = "none" if content_type is None else repr(content_type[:100])
        return Refusal(
            415,
            "a write without a token must declare its body as JSON: Content-Type "
            f"application/json (an array or one object) or application/x-ndjson (one event "
            f"per line); got {got}",
        )
    return None


def _json_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in BODY_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _names_this_machine(host: str, bind: str) -> bool:
    """Whether a Host header names a loopback address or the address `serve` binds,
    read literally: resolving a name the client chose is what DNS rebinding abuses."""
    name = _hostname(host)
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost") or name == bind.lower().strip("[]"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same_origin(origin: str, host: str) -> bool:
    """Whether an Origin (scheme://name[:port]) is the origin the Host header names."""
    try:
        parts = urlsplit(origin.strip())
        theirs = (parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme))
        ours = urlsplit("//" + host)
        mine = (ours.hostname, ours.port or DEFAULT_PORTS.get(parts.scheme))
    except ValueError:  # a port that is not a number, or a malformed IPv6 literal
        return False
    return parts.scheme in DEFAULT_PORTS and theirs[0] is not None and theirs == mine


def _hostname(host: str) -> str | None:
    try:
        return urlsplit("//" + host.strip()).hostname
    except ValueError:
        return None
