"""Each conversation's state-machine state, and the latest events in a table of their own.

1. `conversations.state` holds engine.Machine.dump after the events applied so far, so a
   later event is applied to it instead of replaying the conversation. Existing rows stay
   NULL: the next event of such a conversation replays it once, as before, and fills it.
   No pass over every conversation is needed.
2. The latest event per conversation and channel (the `last_event` facts) moves to
   `last_events`, keyed by both, so an event raises it in place.

Revision ID: 0007_conversation_state
Revises: 0006_hourly
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_conversation_state"
down_revision = "0006_hourly"
branch_labels = None
depends_on = None

LAST_EVENT = "last_event"  # the kind these rows had in facts


def upgrade() -> None:
    op.add_column("conversations", sa.Column("state", sa.Text))
    op.create_table(
        "last_events",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO last_events (conversation_id, channel, at)"
        " SELECT conversation_id, channel, max(at) FROM facts"
        f" WHERE kind = '{LAST_EVENT}' AND channel IS NOT NULL"
        " GROUP BY conversation_id, channel"
    )
    op.create_index("ix_last_events_channel", "last_events", ["channel", "at"])
    op.drop_index("ix_facts_last_event", "facts")
    op.execute(f"DELETE FROM facts WHERE kind = '{LAST_EVENT}'")


def downgrade() -> None:
    op.execute(
        "INSERT INTO facts (conversation_id, kind, channel, at)"
        f" SELECT conversation_id, '{LAST_EVENT}', channel, at FROM last_events"
    )
    op.create_index(
        "ix_facts_last_event",
        "facts",
        ["channel", "at"],
        sqlite_where=sa.text(f"kind = '{LAST_EVENT}'"),
        postgresql_where=sa.text(f"kind = '{LAST_EVENT}'"),
    )
    op.drop_table("last_events")
    op.drop_column("conversations", "state")
