"""The index a report counts facts and reads each distribution's values from.

Revision ID: 0008_report_index
Revises: 0007_conversation_state
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_report_index"
down_revision = "0007_conversation_state"
branch_labels = None
depends_on = None

# As in tables.py; a migration keeps the text it was written with, whatever tables.py becomes.
REPORTED_ONLY = "kind <> 'last_event'"


def upgrade() -> None:
    op.create_index(
        "ix_facts_report",
        "facts",
        ["kind", "channel", "label", "at", "flag", "value"],
        sqlite_where=sa.text(REPORTED_ONLY),
        postgresql_where=sa.text(REPORTED_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_facts_report", table_name="facts")
