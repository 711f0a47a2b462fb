"""Segment entries, for the open-conversation gauge and the report's `open` and `entered`.

1. Each segment's start becomes an `entered` fact in its channel, labelled with how it
   began (started, handoff, reopened), replayed from the stored events.
2. The next start recounts the totals, which gain `entered` and `open` cells.
3. A partial index on the open conversations, read at a report's end.

Revision ID: 0005_open_conversations
Revises: 0004_import_readers
Create Date: 2026-11-27
"""

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

from collector.engine import replay

revision = "0005_open_conversations"
down_revision = "0004_import_readers"
branch_labels = None
depends_on = None

ENTERED = "entered"  # collector.engine.ENTERED, as this revision wrote it
OPEN_SERIES = (ENTERED, "open")  # collector.rollup: the cells this revision adds
LAYOUT_KEY = "rollup_layout"  # collector.totals: the bucket layout the totals are counted in
CONVERSATIONS_PER_STEP = 1000

facts = sa.table(
    "facts",
    sa.column("conversation_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("channel", sa.String),
    sa.column("at", sa.BigInteger),
    sa.column("label", sa.Text),
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
    _add_entered_facts()
    # The totals gain the new cells when the next start recounts them from the facts.
    op.execute(f"DELETE FROM meta WHERE key = '{LAYOUT_KEY}'")
    op.create_index(
        "ix_conversations_open",
        "conversations",
        ["channel"],
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_open", "conversations")
    op.execute(f"DELETE FROM facts WHERE kind = '{ENTERED}'")
    op.execute(f"DELETE FROM rollups WHERE series IN {OPEN_SERIES!r}")


def _add_entered_facts() -> None:
    """Replay every stored conversation for the start of each of its segments."""
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
            {"conversation_id": cid, "kind": ENTERED, "channel": f.channel, "at": f.at,
             "label": f.label}
            for cid, stored in found.items()
            for f in replay(stored).facts
            if f.kind == ENTERED
        ]  # fmt: skip
        if rows:
            bind.execute(facts.insert(), rows)
        after = ids[-1]
