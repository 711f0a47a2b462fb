from collector.metrics import Query, build_report


def test_it_counts_a_resolved_bot_conversation(store, write, settings):
    summary = write(
        [
            {
                "conversation_id": "c1",
                "type": "conversation_started",
                "timestamp": "2026-11-01T10:00:00Z",
                "channel": "bot-chat",
            },
            {
                "conversation_id": "c1",
                "type": "message",
                "author": "customer",
                "timestamp": "2026-11-01T10:00:01Z",
            },
            {
                "conversation_id": "c1",
                "type": "message",
                "author": "agent",
                "timestamp": "2026-11-01T10:00:03Z",
            },
            {"conversation_id": "c1", "type": "resolved", "timestamp": "2026-11-01T10:01:00Z"},
        ]
    )
    assert (summary.accepted, summary.duplicates, summary.rejected) == (4, 0, 0)
    report = build_report(
        store.facts(), store.channel_kinds(), settings.channels, Query(), store.event_counts()
    )
    bot = next(g for g in report["groups"] if g["channel"] == "bot-chat")
    assert bot["conversations_started"] == 1
    assert bot["first_response_seconds"]["mean"] == 2.0
    assert bot["resolution_seconds"]["max"] == 60.0
    assert bot["resolution_rate"]["value"] == 1.0
