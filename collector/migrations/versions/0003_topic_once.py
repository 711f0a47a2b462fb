"""Topics once per conversation; counters that never go down; last events by instant.

1. `facts.topic` goes: a fact's topic is its conversation's, stored once in
   `conversations.topic` (a 2 MB topic was copied into each of 200 facts).
2. `rollups.exposed`: the highest total ever committed, which /metrics shows. Histogram
   buckets become cumulative, one row per exposed series, so each holds its own mark; the
   next start recounts the totals once, for the buckets that had no row.
3. Each conversation's latest event per channel, each event in the channel the
   conversation was in at its instant, becomes a `last_event` fact (replayed from the
   stored events); the per-channel `last_event` rollups, which depended on arrival
   order, go.

Revision ID: 0003_topic_once
Revises: 0002_alerts
Create Date: 2026-11-27
"""

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from collector.engine import replay

revision = "0003_topic_once"
down_revision = "0002_alerts"
branch_labels = None
depends_on = None

HISTOGRAMS = ("first_response", "response", "resolution")
NOT_BUCKETS = ("count", "sum")
LAST_EVENT = "last_event"
LAYOUT_KEY = "rollup_layout"  # collector.totals: the bucket layout the totals are counted in
CONVERSATIONS_PER_STEP = 1000

facts = sa.table(
    "facts",
    sa.column("conversation_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("channel", sa.String),
    sa.column("at", sa.BigInteger),
)
rollups = sa.table(
    "rollups",
    sa.column("channel", sa.String),
    sa.column("series", sa.String),
    sa.column("label", sa.String),
    sa.column("value", sa.Float),
    sa.column("exposed", sa.Float),
)
events = sa.table(
    "events",
    *(
        sa.column(name)
        for name in ("conversation_id", "id", "type", "ts", "channel", "author", "public")
    ),
    *(sa.column(name) for name in ("score", "scale", "topic")),
)


def upgrade() -> None:
    op.execute(
        "UPDATE conversations SET topic = (SELECT max(f.topic) FROM facts f"
        " WHERE f.conversation_id = conversations.id)"
        " WHERE topic IS NULL AND id IN (SELECT conversation_id FROM facts"
        " WHERE topic IS NOT NULL)"
    )
    with op.batch_alter_table("facts") as batch:
        batch.drop_column("topic")
    with op.batch_alter_table("rollups") as batch:
        batch.add_column(sa.Column("exposed", sa.Float, nullable=False, server_default="0"))
    with op.batch_alter_table("rollups") as batch:
        batch.alter_column("exposed", server_default=None)
    op.execute("UPDATE rollups SET exposed = value")
    _cumulate_buckets(sign=1)
    # Buckets no value ever reached had no row, and only the settings know every bound:
    # the next start recounts the totals (keeping the marks) into a row per bucket.
    op.execute(f"DELETE FROM meta WHERE key = '{LAYOUT_KEY}'")
    op.execute(f"DELETE FROM rollups WHERE series = '{LAST_EVENT}'")
    _add_last_event_facts()
    op.create_index(
        "ix_facts_last_event",
        "facts",
        ["channel", "at"],
        sqlite_where=sa.text(f"kind = '{LAST_EVENT}'"),
        postgresql_where=sa.text(f"kind = '{LAST_EVENT}'"),
    )


def downgrade() -> None:
    op.drop_index("ix_facts_last_event", "facts")
    op.execute(
        "INSERT INTO rollups (channel, series, label, value, exposed)"
        f" SELECT channel, '{LAST_EVENT}', '', max(at) / 1e6, 0 FROM facts"
        f" WHERE kind = '{LAST_EVENT}' GROUP BY channel"
    )
    op.execute(f"DELETE FROM facts WHERE kind = '{LAST_EVENT}'")
    _cumulate_buckets(sign=-1)
    # As 0002 counted: a bucket no value fell in had no row.
    op.execute(
        "DELETE FROM rollups WHERE value = 0 AND series IN ('first_response', 'response',"
        " 'resolution') AND label NOT IN ('count', 'sum')"
    )
    op.execute(f"DELETE FROM meta WHERE key = '{LAYOUT_KEY}'")
    with op.batch_alter_table("rollups") as batch:
        batch.drop_column("exposed")
    with op.batch_alter_table("facts") as batch:
        batch.add_column(sa.Column("topic", sa.Text))
    op.execute(
        "UPDATE facts SET topic = (SELECT c.topic FROM conversations c"
        " WHERE c.id = facts.conversation_id)"
    )


def _cumulate_buckets(sign: int) -> None:
    """Make each histogram's bucket rows cumulative (sign 1), or per bucket again (-1)."""
    bind = op.get_bind()
    query = sa.select(rollups.c.channel, rollups.c.series, rollups.c.label, rollups.c.value)
    query = query.where(rollups.c.series.in_(HISTOGRAMS), rollups.c.label.not_in(NOT_BUCKETS))
    grouped: dict[tuple[str, str], list[tuple[float, str, float]]] = defaultdict(list)
    for channel, series, label, value in bind.execute(query):
        grouped[(channel, series)].append((float(label), label, value))
    changed: list[dict[str, Any]] = []
    for (channel, series), buckets in grouped.items():
        running = 0.0
        for _bound, label, value in sorted(buckets):
            new = running + value if sign > 0 else value - running
            running = running + value if sign > 0 else value
            changed.append({"c": channel, "s": series, "l": label, "v": new})
    if changed:
        bind.execute(
            rollups.update()
            .where(rollups.c.channel == sa.bindparam("c"))
            .where(rollups.c.series == sa.bindparam("s"))
            .where(rollups.c.label == sa.bindparam("l"))
            .values(value=sa.bindparam("v"), exposed=sa.bindparam("v")),
            changed,
        )


def _add_last_event_facts() -> None:
    """Replay every stored conversation for its latest event per channel."""
    bind = op.get_bind()
    after = ""
    while True:
        ids = list(
            bind.execute(
                sa.text("SELECT id FROM conversations WHERE id > :after ORDER BY id LIMIT :n"),
                {"after": after, "n": CONVERSATIONS_PER_STEP},
            ).scalars()
        )
        if not ids:
            return
        found: dict[str, list[Any]] = defaultdict(list)
        for row in bind.execute(sa.select(events).where(events.c.conversation_id.in_(ids))):
            found[row.conversation_id].append(row)
        rows = [
            {"conversation_id": cid, "kind": LAST_EVENT, "channel": channel, "at": at}
            for cid, stored in found.items()
            for channel, at in replay(stored).latest.items()
        ]
        if rows:
            bind.execute(facts.insert(), rows)
        after = ids[-1]
