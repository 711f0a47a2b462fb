"""The database schema (SQLAlchemy Core). Alembic migrations in collector/migrations follow it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()
# The facts a report reads. Since 0007 no `last_event` rows are left in facts; the
# condition stays because the report index was created with it and queries must repeat it.
REPORTED_ONLY = "kind <> 'last_event'"
OPEN_ONLY = "active"  # the conversations whose current segment has not ended

# Raw events, append-only, one row per accepted event id.
events = Table(
    "events",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("conversation_id", String(128), nullable=False),
    Column("type", String(24), nullable=False),
    Column("ts", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("channel", String(64)),
    Column("kind", String(8)),
    Column("author", String(8)),
    Column("public", Boolean, nullable=False),
    Column("score", SmallInteger),
    Column("scale", SmallInteger, nullable=False),
    Column("topic", Text),
    Column("content_hash", String(32), nullable=False),
    Column("raw", Text, nullable=False),  # the record as received, unknown fields included
    Column("source", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Index("ix_events_conversation", "conversation_id"),
)

# Derived state of each conversation, rewritten whenever one of its events arrives.
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("channel", String(64)),  # current segment's channel, or the last one
    Column("active", Boolean, nullable=False),
    Column("topic", Text),
    Column("started_at", BigInteger),
    Column("last_event_at", BigInteger, nullable=False),
    Column("events", Integer, nullable=False),
    # engine.Machine.dump of the events applied so far, so a later event is applied to it
    # without replaying the conversation; NULL (written before 0007): replayed next time.
    Column("state", Text),
    # The open backlog is read at a report's end without walking every conversation.
    Index(
        "ix_conversations_open",
        "channel",
        sqlite_where=text(OPEN_ONLY),
        postgresql_where=text(OPEN_ONLY),
    ),
)

# What conversations produced (engine.Fact), each at the instant it counts in a window.
# A fact's topic is its conversation's: stored once, in conversations, not copied into
# every fact.
facts = Table(
    "facts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("channel", String(64)),
    Column("at", BigInteger, nullable=False),
    Column("value", Float),
    Column("flag", SmallInteger),
    Column("label", Text),
    Index("ix_facts_conversation", "conversation_id"),
    Index("ix_facts_at", "at"),
    # A report counts facts by (kind, channel, label) and reads each distribution's values
    # in its window from this index alone (collector/aggregates.py).
    Index(
        "ix_facts_report",
        "kind",
        "channel",
        "label",
        "at",
        "flag",
        "value",
        sqlite_where=text(REPORTED_ONLY),
        postgresql_where=text(REPORTED_ONLY),
    ),
)

# Per conversation and channel, the latest event credited to the channel (engine.Replay
# .latest): raised in place as events arrive, without reading the conversation's facts.
last_events = Table(
    "last_events",
    metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("at", BigInteger, nullable=False),
    # A channel's latest event is one index step, however many conversations it had.
    Index("ix_last_events_channel", "channel", "at"),
)

# Channels seen; a declared channel's kind comes from configuration, others keep their first.
channels = Table(
    "channels",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("first_seen", BigInteger, nullable=False),
)

# All-time totals kept in step with facts so a scrape reads a few rows, whatever the history.
rollups = Table(
    "rollups",
    metadata,
    Column("channel", String(64), primary_key=True),  # '' for store-wide series
    Column("series", String(32), primary_key=True),
    Column("label", String(32), primary_key=True),
    Column("value", Float, nullable=False),  # the exact total
    # The highest total ever committed, which /metrics exposes: a counter never goes down.
    Column("exposed", Float, nullable=False),
)

# The same totals per hour of event time (the hour holding each fact's `at`), so a page can
# show the last day or week by reading a few thousand rows instead of every fact.
rollups_hourly = Table(
    "rollups_hourly",
    metadata,
    Column("hour", BigInteger, primary_key=True),  # `at` // 3,600,000,000 (hours since 1970)
    Column("channel", String(64), primary_key=True),
    Column("series", String(32), primary_key=True),
    Column("label", String(32), primary_key=True),
    Column("value", Float, nullable=False),
)

# Records that broke the schema, kept whole with where they came from and why.
quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("position", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("replayed_at", BigInteger),
)

# How far each file has been imported, so a re-run or a grown file adds nothing twice: one
# row per file and way of reading it (`reader`: "jsonl", or "mapping:<fingerprint>"), with
# the records its imports rejected, for `ingest --strict` on a resumed import.
imports = Table(
    "imports",
    metadata,
    Column("source", Text, primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("reader", String(64), primary_key=True),
    Column("rejected", BigInteger, nullable=False),
    # A grouped import under way (collector.batch.GroupedPass); all NULL when none is.
    Column("pass_end", BigInteger),
    Column("pass_end_line", BigInteger),
    Column("pass_buckets", Integer),
    Column("pass_bucket", Integer),
    Column("pass_done", BigInteger),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per (objective, group): the built-in alert state machine of DESIGN section 12.
# `version` makes every flip a compare-and-set, so two schedulers never flip one row twice.
alert_states = Table(
    "alert_states",
    metadata,
    Column("objective", String(64), primary_key=True),
    Column("group_key", String(255), primary_key=True),  # "channel=bot-chat,kind=ai", "" for all
    Column("state", String(8), nullable=False),  # ok | firing
    Column("verdict", String(8), nullable=False),  # the last evaluation: met | breached | no_data
    Column("breached_since", BigInteger),  # first of the current run of breached evaluations
    Column("changed_at", BigInteger, nullable=False),  # when `state` last flipped
    Column("evaluated_at", BigInteger, nullable=False),
    Column("good", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("message_id", Text),  # the firing mail's Message-ID, so its resolve mail threads
    Column("version", Integer, nullable=False),
)

# Mail queued in the same transaction as the flip that caused it; a sender job delivers it.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("objective", String(64)),
    Column("group_key", String(255)),
    Column("kind", String(8), nullable=False),  # firing | resolved | test
    Column("created_at", BigInteger, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("in_reply_to", Text),
    Column("recipients", Text, nullable=False),  # comma-separated addresses
    Column("payload", Text, nullable=False),  # JSON: the figures at the flip, rendered at send
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("sent_at", BigInteger),
    Index("ix_outbox_pending", "sent_at", "next_attempt_at"),
)
