"""POST /api/v1/webhooks/<platform> with Chatwoot payloads written from Chatwoot's docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "chatwoot"
CONVERSATION = sorted(FIXTURES.glob("[0-9][0-9]_*.json"))


@pytest.fixture
def chatwoot_live(serve_app):
    channels = {"chatwoot-bot": {"kind": "ai"}, "chatwoot-agents": {"kind": "human"}}
    return serve_app(channels=channels)


def post(live, path: Path):
    return live.http.post(
        "/api/v1/webhooks/chatwoot",
        content=path.read_bytes(),
        headers={"Content-Type": "application/json"},
    )


def test_it_measures_a_chatwoot_conversation_from_its_webhooks(chatwoot_live):
    assert len(CONVERSATION) >= 8
    for path in CONVERSATION:
        assert post(chatwoot_live, path).status_code == 200, path.name
    report = chatwoot_live.http.get("/api/v1/summary").json()
    groups = {g["channel"]: g for g in report["groups"]}
    bot, agents = groups["chatwoot-bot"], groups["chatwoot-agents"]
    assert bot["conversations_started"] == 1
    assert bot["segments"]["escalated"] == 1
    assert bot["first_response_seconds"]["n"] == 1
    assert agents["segments"]["resolved"] == 1
    assert agents["first_response_seconds"]["n"] == 1
    assert agents["csat"]["responses"] == 1
    assert report["events"]["rejected"] == 0


def test_it_counts_a_retried_webhook_as_a_duplicate(chatwoot_live):
    first = post(chatwoot_live, CONVERSATION[1]).json()
    again = post(chatwoot_live, CONVERSATION[1]).json()
    assert first["accepted"] >= 1
    assert again == {"accepted": 0, "duplicates": first["accepted"], "rejected": []}


def test_it_ignores_webhooks_that_measure_nothing(chatwoot_live):
    ignored = [p for p in FIXTURES.glob("*.json") if "contact" in p.name or "webwidget" in p.name]
    assert ignored
    for path in ignored:
        assert post(chatwoot_live, path).json() == {
            "accepted": 0,
            "duplicates": 0,
            "rejected": [],
            "ignored": True,
        }


def test_it_quarantines_a_payload_that_is_not_what_chatwoot_documents(chatwoot_live):
    payload = json.loads(CONVERSATION[0].read_text())
    del payload["id"]
    answer = chatwoot_live.http.post("/api/v1/webhooks/chatwoot", json=payload)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("field `")
    rows = chatwoot_live.store.quarantined()
    assert len(rows) == 1
    assert json.loads(rows[0].raw) == payload


def test_it_answers_400_to_malformed_json_and_404_to_an_unknown_platform(chatwoot_live):
    malformed = chatwoot_live.http.post(
        "/api/v1/webhooks/chatwoot", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    unknown = chatwoot_live.http.post("/api/v1/webhooks/zendesk", json={})
    assert unknown.status_code == 404
    assert "known: chatwoot" in unknown.json()["error"]
