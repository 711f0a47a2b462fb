"""An index a report reads each distribution's values from, window by window.

Revision ID: 0008_report_index
Revises: 0006_hourly
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_report_index"
down_revision = "0006_hourly"
branch_labels = None
depends_on = None

# As in tables.py; a migration keeps the text it was written with, whatever tables.py becomes.
DISTRIBUTION_ONLY = "kind IN ('first_response', 'response', 'resolution', 'csat')"


def upgrade() -> None:
    op.create_index(
        "ix_facts_values",
        "facts",
        ["kind", "channel", "at", "value"],
        sqlite_where=sa.text(DISTRIBUTION_ONLY),
        postgresql_where=sa.text(DISTRIBUTION_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_facts_values", table_name="facts")
