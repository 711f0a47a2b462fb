"""Hourly totals (rollups_hourly) for the overview page's windows.

Existing stores are backfilled by forgetting the recorded bucket layout: the next
`maintain_rollups` (run by serve, the scheduler and ingest) recounts every fact into the
all-time and the hourly totals in one transaction.

Revision ID: 0006_hourly
Revises: 0005_open_conversations
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_hourly"
down_revision = "0005_open_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollups_hourly",
        sa.Column("hour", sa.BigInteger, primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("series", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.execute("DELETE FROM meta WHERE key = 'rollup_layout'")


def downgrade() -> None:
    op.drop_table("rollups_hourly")
