"""What the service does when things go wrong: an unreachable database, a public bind."""

from __future__ import annotations

import pytest

from collector.connect import make_engine
from collector.errors import ConfigError
from collector.server import check_bind
from collector.settings import parse_settings
from collector.store import Store
from tests.conftest import CHANNELS, LiveServer

EVENT = {
    "conversation_id": "c1",
    "type": "conversation_started",
    "timestamp": 1_793_527_200,
    "channel": "chat",
}


@pytest.fixture
def cut_off() -> LiveServer:
    """A live server whose database has gone away (nothing listens on port 9)."""
    settings = parse_settings(
        {"channels": CHANNELS, "database_url": "postgresql+psycopg://tm:pw@127.0.0.1:9/tm"}
    )
    server = LiveServer(settings, Store(make_engine(settings.database_url), settings))
    yield server
    server.stop()


def test_it_answers_503_with_retry_after_when_the_database_is_down(cut_off):
    answer = cut_off.http.post("/api/v1/events", json=[EVENT])
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "nothing was written, retry later" in answer.json()["error"]
    assert "pw@" not in answer.text  # no secret from the URL in the answer


def test_it_is_not_ready_while_the_database_is_down(cut_off):
    assert cut_off.http.get("/healthz").status_code == 200
    ready = cut_off.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert cut_off.http.get("/metrics").status_code == 503
    assert cut_off.http.get("/api/v1/summary").status_code == 503


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_it_refuses_a_non_loopback_bind_without_a_token(host):
    with pytest.raises(ConfigError, match="without a token"):
        check_bind(parse_settings({"http_host": host}))
    check_bind(parse_settings({"http_host": host, "tokens": ["a-long-random-token"]}))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_it_allows_loopback_without_a_token(host):
    check_bind(parse_settings({"http_host": host}))
