"""The HTTP API over real HTTP on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import orjson
import pytest

from collector.reporting import parse_query, report_from_store
from tests.events import CONVERSATION, ev, start


def ndjson(events: list[dict]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def test_it_accepts_a_json_array_and_counts_a_retry_as_duplicates(live):
    first = live.http.post("/api/v1/events", json=CONVERSATION)
    assert first.status_code == 200
    assert first.json() == {"accepted": 7, "duplicates": 0, "rejected": []}
    retry = live.http.post("/api/v1/events", json=CONVERSATION)
    assert retry.json() == {"accepted": 0, "duplicates": 7, "rejected": []}


def test_it_accepts_ndjson_and_rejects_bad_items_by_index_keeping_the_rest(live):
    body = (
        ndjson(CONVERSATION[:2]) + b"{broken\n" + ndjson([{**CONVERSATION[2], "author": "robot"}])
    )
    answer = live.http.post(
        "/api/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], result["duplicates"]) == (2, 0)
    broken, robot = result["rejected"]
    assert (broken["index"], broken["id"]) == (2, None)
    assert broken["error"].startswith("invalid JSON: ")
    assert robot == {
        "index": 3,
        "id": "e3",
        "error": "field `author`: must be one of agent, customer, system (got 'robot')",
    }
    quarantined = live.store.quarantined()
    assert quarantined[0].raw == "{broken"
    assert quarantined[1].reason.startswith("field `author`")


def test_it_rejects_an_id_reused_for_other_content_as_a_conflict(live):
    live.http.post("/api/v1/events", json=CONVERSATION[:1])
    answer = live.http.post(
        "/api/v1/events", json=[{**CONVERSATION[0], "timestamp": CONVERSATION[0]["timestamp"] + 1}]
    )
    assert answer.json()["rejected"] == [
        {
            "index": 0,
            "id": "e1",
            "error": "field `id`: already used by an event with different content (conflict)",
        }
    ]


def test_it_answers_400_with_the_position_of_malformed_json(live):
    answer = live.http.post(
        "/api/v1/events",
        content=b'[{"type": "message",\n  "author": }]',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert "line 2, column 13" in answer.json()["error"]
    assert live.store.event_counts() == {"accepted": 0, "duplicates": 0, "rejected": 0}


def test_it_answers_413_to_a_body_over_the_limit(serve_app):
    live = serve_app(max_body_bytes=2048)
    answer = live.http.post(
        "/api/v1/events",
        content=ndjson(CONVERSATION * 30),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 413
    assert "over the limit of 2048 bytes" in answer.json()["error"]


def test_it_requires_a_bearer_token_for_writes_when_tokens_are_configured(serve_app):
    live = serve_app(tokens=["s3cret-token"])
    assert live.http.post("/api/v1/events", json=CONVERSATION).status_code == 401
    wrong = live.http.post(
        "/api/v1/events", json=CONVERSATION, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    right = live.http.post(
        "/api/v1/events", json=CONVERSATION, headers={"Authorization": "Bearer s3cret-token"}
    )
    assert right.json()["accepted"] == 7
    assert live.http.get("/metrics").status_code == 200  # reads stay open
    assert live.http.get("/api/v1/summary").status_code == 200


def test_it_serves_the_same_summary_as_the_report(live):
    live.http.post("/api/v1/events", json=CONVERSATION)
    for params in (
        {},
        {"group_by": "kind"},
        {"group_by": "topic"},
        {"kind": "human"},
        {"channel": "chat"},
    ):
        answer = live.http.get("/api/v1/summary", params=params).json()
        expected = report_from_store(live.store, parse_query(**params))
        assert answer.pop("objectives") == []  # an added key; none are configured here
        assert answer == json.loads(json.dumps(expected))
    human = live.http.get("/api/v1/summary", params={"kind": "human"}).json()
    assert [g["channel"] for g in human["groups"]] == ["chat", "email", "phone"]
    first = list(live.http.get("/api/v1/summary").json())
    assert first == ["schema", "window", "group_by", "groups", "anomalies", "events", "objectives"]


def test_it_filters_the_summary_by_a_half_open_window(live):
    live.http.post("/api/v1/events", json=CONVERSATION)
    window = {"from": "2026-11-01T10:00:00Z", "to": "2026-11-01T10:01:40Z"}
    report = live.http.get("/api/v1/summary", params=window).json()
    chat = next(g for g in report["groups"] if g["channel"] == "chat")
    assert chat["segments"]["resolved"] == 0  # resolved at 10:01:40, the excluded end
    assert report["window"] == window


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"group_by": "team"}, "`group_by` must be one of channel, kind, topic"),
        ({"from": "yesterday"}, "`from`: not an ISO 8601 instant"),
        ({"kind": "robot"}, "`kind` must be ai or human"),
        (
            {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
            "`to` must be after `from`",
        ),
    ],
)
def test_it_answers_400_to_a_bad_summary_parameter(live, params, message):
    answer = live.http.get("/api/v1/summary", params=params)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_it_answers_liveness_and_readiness(live):
    assert live.http.get("/healthz").json() == {"status": "ok"}
    ready = live.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_it_shows_an_overview_page_with_ai_and_human_side_by_side(live):
    live.http.post("/api/v1/events", json=CONVERSATION)
    page = live.http.get("/", params={"window": "24h", "end": "2026-11-02T00:00:00Z"}).text
    assert page.index("Web chat assistant") < page.index("Live chat agents")  # AI first
    assert page.index('data-kind="ai"') < page.index('data-kind="human"')
    assert 'href="/metrics"' in page and 'href="/api/v1/summary"' in page
    # chat's one first response, 60 s, lies in the bucket (30, 60]: p90 is interpolated there
    assert '<td data-value="57.0" data-n="1">57.0 s <small>n=1</small></td>' in page


def test_the_overview_says_what_a_channel_that_only_receives_handoffs_took_in(live):
    live.http.post("/api/v1/events", json=CONVERSATION)  # bot-chat, handed to chat, resolved
    later = [start(290, cid="c2", id="f1"), ev("handoff", 300, cid="c2", channel="chat", id="f2")]
    live.http.post("/api/v1/events", json=later)
    page = live.http.get("/", params={"window": "24h", "end": "2026-11-02T00:00:00Z"}).text
    human = page[page.index('data-kind="human"') :]
    columns = re.findall(r'<th data-channel="([^"]+)"', human.split("</thead>")[0])

    def chat(figure: str) -> str:
        row = human.split(f'data-figure="{figure}"')[1].split("</tr>")[0]
        return dict(zip(columns, re.findall(r'data-value="([^"]*)"', row), strict=True))["chat"]

    # started 0, and the page says why: two segments handed in, one still open.
    assert (chat("started"), chat("handed_in"), chat("open_now")) == ("0", "2", "1")
    assert '<td title="segments that began with a handoff into the channel">handed in</td>' in page


def test_it_serves_openmetrics_when_the_scraper_asks(live):
    answer = live.http.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")
    plain = live.http.get("/metrics")
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'touchmetrics_conversations_started_total{channel="chat",kind="human"} 0.0' in plain.text


def test_a_summary_of_an_unknown_channel_is_refused_naming_it(live):
    answer = live.http.get("/api/v1/summary", params={"channel": "nope"})
    assert answer.status_code == 400
    assert "no channel named 'nope'" in answer.json()["error"]
    assert "bot-chat" in answer.json()["error"]  # the known ones are listed
