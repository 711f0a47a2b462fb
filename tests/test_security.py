"""Hostile requests and hostile configuration, over real HTTP on loopback: who may write,
what a refused body costs the server, and what a database URL may reveal."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
import yaml
from sqlalchemy.engine import make_url

from collector.errors import ConfigError
from collector.server import check_bind
from collector.settings import load_settings, parse_settings
from tests.conftest import CHANNELS, REPO, TOUCHMETRICS, LiveServer, Service, require
from tests.events import CONVERSATION

TOKEN = "a-long-random-token-for-tests"  # 29 characters
CLAIMED = 300 * 1024 * 1024  # a body of 300 MiB, announced but never sent in full
NDJSON = {"Content-Type": "application/x-ndjson"}
EVIL = "http://evil.example"
CHATWOOT = REPO / "tests" / "fixtures" / "chatwoot" / "01_conversation_created.json"


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A `touchmetrics` command run to its end (30 s at most), its output captured."""
    environment = {**os.environ, **(env or {})}
    environment.pop("TOUCHMETRICS_CONFIG", None)
    return subprocess.run(
        [*TOUCHMETRICS, *args], capture_output=True, text=True, timeout=30, env=environment
    )


def head(port: int, *lines: str) -> bytes:
    """The first line and headers of a POST /api/v1/events to a loopback port."""
    first = ["POST /api/v1/events HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    return ("\r\n".join([*first, *lines]) + "\r\n\r\n").encode()


def answer_to_head(port: int, request: bytes) -> tuple[int, bytes]:
    """Send only a request's head and read the answer: status and body. A server that
    waits for the body gives no answer, which fails the test after 10 seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            if not received:
                pytest.fail("no answer in 10 s to a head without its body: the server waits")
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def spooled_bytes(pid: int, folder: Path) -> int:
    """Bytes in the files a process holds open in ``folder``, where waitress spools
    request bodies (as unlinked temporary files, so only /proc shows them)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(str(folder)):
                total += fd.stat().st_size
        except OSError:  # closed in the meantime
            continue
    return total


def stream_body(port: int, request: bytes, size: int) -> socket.socket:
    """Send a head, then ``size`` bytes of its body, or less if the server hangs up."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request)
    chunk = b" " * 65536
    try:
        for _ in range(size // len(chunk)):
            sock.sendall(chunk)
    except OSError:  # the server answered and closed the connection
        pass
    return sock


def settled_spool(pid: int, folder: Path, done: Callable[[int], bool]) -> int:
    """The bytes spooled once ``done`` holds for them, or after 10 seconds."""
    deadline = time.monotonic() + 10
    while not done(found := spooled_bytes(pid, folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    """The temporary-file folder (TMPDIR) of a served process."""
    require(Path("/proc/self/fd").is_dir(), "needs /proc to see a process' open files")
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.fixture
def guarded(launch: Callable[..., Service], spool: Path) -> Service:
    """`touchmetrics serve` with a token, its temporary files in ``spool``."""
    return launch("--no-scheduler", env={"TMPDIR": str(spool)}, tokens=[TOKEN])


# A refused body is never read (issue 7, item 3).


@pytest.mark.parametrize(
    "framing",
    [f"Content-Length: {CLAIMED}", "Transfer-Encoding: chunked"],
    ids=["length", "chunked"],
)
def test_it_answers_a_300_mib_write_without_a_token_before_its_body(guarded, framing):
    # curl asks for a go-ahead before a big body; the answer must be the refusal instead.
    request = head(
        guarded.port, "Content-Type: application/x-ndjson", framing, "Expect: 100-continue"
    )
    status, body = answer_to_head(guarded.port, request)
    assert status == 401
    assert b"a valid bearer token is required for writes" in body


def test_it_answers_413_to_a_body_claimed_over_the_limit_before_reading_it(guarded):
    request = head(
        guarded.port,
        f"Authorization: Bearer {TOKEN}",
        "Content-Type: application/x-ndjson",
        f"Content-Length: {CLAIMED}",
    )
    status, body = answer_to_head(guarded.port, request)
    assert status == 413
    assert b"over the limit of 10485760 bytes" in body


def test_it_answers_413_in_json_naming_the_limit_to_a_chunked_body_past_it(front_door):
    live = front_door(tokens=[TOKEN], max_body_bytes=2048)
    body = (b" " * 512 for _ in range(8))  # 4 KiB in chunks: no length is announced
    headers = {"Authorization": f"Bearer {TOKEN}", **NDJSON}
    answer = live.http.post("/api/v1/events", content=body, headers=headers)
    assert answer.status_code == 413
    assert answer.json() == {"error": "request body over the limit of 2048 bytes"}


def test_it_spools_nothing_of_a_write_without_a_token(guarded, spool):
    size = 9 * 2**20  # under the 10 MiB limit; waitress spools a body past 512 KiB
    claim = [f"Content-Length: {size}", "Content-Type: application/x-ndjson"]
    pid, authorised = guarded.process.pid, f"Authorization: Bearer {TOKEN}"
    # The probe sees an authorised upload spooled while the server waits for its last MiB ...
    with stream_body(guarded.port, head(guarded.port, authorised, *claim), size - 2**20):
        assert settled_spool(pid, spool, lambda n: n >= 4 * 2**20) >= 4 * 2**20
    assert settled_spool(pid, spool, lambda n: n == 0) == 0  # dropped with its connection
    # ... and nothing of an upload without a token, refused before its first byte is read.
    with stream_body(guarded.port, head(guarded.port, *claim), size - 2**20):
        assert spooled_bytes(pid, spool) == 0
    assert list(spool.iterdir()) == []
    assert guarded.http.get("/healthz").status_code == 200


def test_it_refuses_a_body_on_a_request_that_is_not_a_write(front_door):
    live = front_door(tokens=[TOKEN])
    answer = live.http.request("GET", "/metrics", content=b"x" * 4096)
    assert answer.status_code == 400
    assert "a GET request takes no body" in answer.json()["error"]
    assert live.http.get("/metrics").status_code == 200


# No empty token, and no short one on a public address (issue 7, item 12).


@pytest.mark.parametrize("tokens", [[""], ["   "], [TOKEN, " \t"], ""], ids=repr)
def test_it_refuses_an_empty_or_blank_token_naming_tokens(tokens):
    with pytest.raises(ConfigError, match=r"`tokens`: .*(empty|no token)"):
        parse_settings({"tokens": tokens})


def test_it_refuses_an_empty_tokens_file(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="`tokens`"):
        load_settings(env={"TOUCHMETRICS_TOKENS_FILE": str(secret)})


def test_serve_exits_2_on_an_empty_token_instead_of_letting_an_empty_bearer_write(tmp_path):
    config = tmp_path / "touchmetrics.yaml"
    config.write_text(
        yaml.safe_dump({"database_url": f"sqlite:///{tmp_path}/x.db", "tokens": [""]})
    )
    result = run_cli(["serve", "--port", "0", "--config", str(config)])
    assert result.returncode == 2
    assert "`tokens`" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_refuses_a_token_under_16_characters_on_a_non_loopback_address(tmp_path):
    config = tmp_path / "touchmetrics.yaml"
    settings = {"database_url": f"sqlite:///{tmp_path}/x.db", "tokens": [TOKEN, "sh0rt-t0ken"]}
    config.write_text(yaml.safe_dump(settings))
    # 192.0.2.10 is a documentation address: the refusal comes before any bind.
    result = run_cli(["serve", "--host", "192.0.2.10", "--port", "0", "--config", str(config)])
    assert result.returncode == 2
    assert "`tokens`: 1 of 2 shorter than 16 characters" in result.stderr
    assert "sh0rt-t0ken" not in result.stderr
    check_bind(parse_settings({"http_host": "192.0.2.10", "tokens": ["x" * 16]}))
    check_bind(parse_settings({"http_host": "127.0.0.1", "tokens": ["short"]}))  # loopback


def test_serve_exits_2_naming_http_host_when_the_host_does_not_resolve(tmp_path):
    config = tmp_path / "touchmetrics.yaml"
    config.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path}/x.db"}))
    # .invalid never resolves (RFC 6761); "[::1]" is a URL's spelling, not an address.
    for host in ("no-such-host.invalid", "[::1]"):
        result = run_cli(["serve", "--host", host, "--port", "0", "--config", str(config)])
        assert result.returncode == 2
        assert f"`http_host`: cannot resolve {host!r}" in result.stderr
        assert "Traceback" not in result.stderr


# Without tokens, no web page of another site writes (issue 7, item 13).


def post(live: LiveServer, headers: dict[str, str], body: bytes | None = None) -> httpx.Response:
    lines = b"".join(orjson.dumps(event) + b"\n" for event in CONVERSATION)
    return live.http.post(
        "/api/v1/events", content=lines if body is None else body, headers=headers
    )


def nothing_stored(live: LiveServer) -> bool:
    return live.store.event_counts() == {"accepted": 0, "duplicates": 0, "rejected": 0}


def test_it_refuses_a_text_plain_write_from_a_foreign_origin_and_host(front_door):
    live = front_door()
    answer = post(live, {"Content-Type": "text/plain", "Origin": EVIL, "Host": "evil.example"})
    assert answer.status_code == 403
    assert "loopback host name" in answer.json()["error"]
    assert nothing_stored(live)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of this machine is another origin
    ],
    ids=["foreign-origin", "null-origin", "cross-site", "same-site"],
)
def test_it_refuses_a_cross_site_write_even_with_a_json_type(front_door, headers):
    live = front_door()
    answer = post(live, {**NDJSON, **headers})
    assert answer.status_code == 403
    assert "cross-site write refused" in answer.json()["error"]
    assert nothing_stored(live)


def test_it_refuses_a_write_to_a_host_name_rebound_to_loopback(front_door):
    live = front_door()
    port = live.url.rsplit(":", 1)[1]
    rebound = {"Host": f"rebound.example:{port}", "Origin": f"http://rebound.example:{port}"}
    assert post(live, {**NDJSON, **rebound}).status_code == 403
    assert nothing_stored(live)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_it_answers_415_to_a_write_without_a_json_content_type(front_door, content_type):
    live = front_door()
    answer = post(live, {} if content_type is None else {"Content-Type": content_type})
    assert answer.status_code == 415
    assert "Content-Type application/json" in answer.json()["error"]
    assert nothing_stored(live)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/x-ndjson",
        "application/jsonl",
        "APPLICATION/JSON",
    ],
)
def test_it_takes_writes_with_a_json_type_from_its_own_origin(front_door, content_type):
    live = front_door()
    body = orjson.dumps(CONVERSATION)
    answer = post(live, {"Content-Type": content_type, "Origin": live.url}, body)
    assert answer.status_code == 200
    assert answer.json()["accepted"] == len(CONVERSATION)


def test_it_takes_chatwoot_webhooks_as_chatwoot_sends_them_and_refuses_text_plain(front_door):
    live = front_door(channels={"chatwoot-bot": {"kind": "ai"}})
    webhook = "/api/v1/webhooks/chatwoot"
    payload = CHATWOOT.read_bytes()
    as_sent = live.http.post(webhook, content=payload, headers={"Content-Type": "application/json"})
    assert as_sent.status_code == 200
    assert as_sent.json()["accepted"] == 1
    text = live.http.post(webhook, content=payload, headers={"Content-Type": "text/plain"})
    assert text.status_code == 415


def test_it_takes_a_tokened_write_whatever_its_type_and_origin(front_door):
    # A bearer token is never sent by a browser on its own: no cross-site risk to guard.
    live = front_door(tokens=[TOKEN])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = post(
        live, {**auth, "Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL}
    )
    assert answer.status_code == 200
    assert answer.json()["accepted"] == len(CONVERSATION)


# Bytes outside ASCII in headers are refused, not a crash (issue 7, item 14).


@pytest.mark.parametrize("value", [b"Bearer caf\xc3\xa9-token", b"Bearer \xff\xfe"])
def test_it_answers_401_to_an_authorization_header_outside_ascii(front_door, value):
    live = front_door(tokens=[TOKEN])
    answer = live.http.post("/api/v1/events", json=CONVERSATION, headers={"Authorization": value})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert nothing_stored(live)


def test_it_takes_a_token_outside_ascii_sent_as_utf8(front_door):
    live = front_door(tokens=["jeton-secret-été-2026"])
    auth = {"Authorization": "Bearer jeton-secret-été-2026".encode()}
    answer = live.http.post("/api/v1/events", json=CONVERSATION, headers=auth)
    assert answer.status_code == 200


def test_it_answers_403_to_origin_and_host_outside_ascii(front_door):
    live = front_door()
    strange = {"Origin": b"http://\xe9vil.example", "Host": b"127.0.0.1\xff"}
    for header, value in strange.items():
        answer = live.http.post("/api/v1/events", json=CONVERSATION, headers={header: value})
        assert answer.status_code == 403, header


# A database URL shows no password; a malformed one is a configuration error (item 17).

PASSWORD = "p@ss-W0rd-q9"  # an @ that nobody escaped


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["db", "upgrade"],
        ["report"],
        ["quarantine", "list"],
        ["scheduler"],
    ],
    ids=" ".join,
)
def test_it_shows_no_part_of_a_password_with_an_unescaped_at(command):
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/test"
    result = run_cli(command, {"TOUCHMETRICS_DATABASE_URL": url})
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "`database_url`: an unescaped @ in the password" in output
    for part in ("ss-W0rd", "W0rd", "q9@"):
        assert part not in output


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql+psycopg://u:s3cret-pw@127.0.0.1:port/db", "the port is not a number"),
        (
            "postgresql+psycopg://u:s3cret-pw@127.0.0.1:99999/db",
            "the port is not between 1 and 65535",
        ),
        ("nosuchdb://u:s3cret-pw@127.0.0.1/db", "unknown database dialect 'nosuchdb'"),
        (
            "postgresql+asyncpg://u:s3cret-pw@127.0.0.1/db",
            "the driver of 'postgresql+asyncpg' is not",
        ),
        ("not a url", "not a database URL"),
    ],
    ids=["port", "port-range", "dialect", "driver", "shape"],
)
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["db", "upgrade"]], ids=" ".join)
def test_it_exits_2_naming_database_url_for_a_malformed_url(url, problem, command):
    result = run_cli(command, {"TOUCHMETRICS_DATABASE_URL": url})
    assert result.returncode == 2
    assert f"`database_url`: {problem}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_it_ingests_naming_database_url_for_a_malformed_url(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    url = "postgresql+psycopg://u:s3cret-pw@127.0.0.1:port/db"
    result = run_cli(["ingest", str(events)], {"TOUCHMETRICS_DATABASE_URL": url})
    assert result.returncode == 2
    assert "`database_url`" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_serve_banner_hides_an_escaped_password(tmp_path, postgres_server_url):
    require(postgres_server_url is not None, "no PostgreSQL server")
    assert postgres_server_url is not None
    # The test server trusts loopback, so any password connects.
    url = make_url(postgres_server_url).set(password="B4nner-s3cret@x")
    config = tmp_path / "touchmetrics.yaml"
    written = url.render_as_string(hide_password=False)
    assert "B4nner-s3cret%40x" in written  # the @ escaped, as it must be
    config.write_text(yaml.safe_dump({"channels": CHANNELS, "database_url": written}))
    service = Service(["--config", str(config), "--no-scheduler"], tmp_path / "serve.log")
    code, err = service.stop()
    assert code == 0
    assert ":***@" in service.banner
    assert "B4nner" not in service.banner + err
