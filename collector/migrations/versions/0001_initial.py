"""The first schema: events, conversations, facts, channels, rollups, quarantine, imports.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(24), nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("kind", sa.String(8)),
        sa.Column("author", sa.String(8)),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("score", sa.SmallInteger),
        sa.Column("scale", sa.SmallInteger, nullable=False),
        sa.Column("topic", sa.Text),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_conversation", "events", ["conversation_id"])
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("topic", sa.Text),
        sa.Column("started_at", sa.BigInteger),
        sa.Column("last_event_at", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
    )
    op.create_table(
        "facts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("flag", sa.SmallInteger),
        sa.Column("label", sa.Text),
        sa.Column("topic", sa.Text),
    )
    op.create_index("ix_facts_conversation", "facts", ["conversation_id"])
    op.create_index("ix_facts_at", "facts", ["at"])
    op.create_table(
        "channels",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rollups",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("series", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("position", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("replayed_at", sa.BigInteger),
    )
    op.create_table(
        "imports",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "imports", "quarantine", "rollups", "channels", "facts"):
        op.drop_table(table)
    op.drop_table("conversations")
    op.drop_table("events")
