"""Import checkpoints remember a grouped import under way (collector.grouping).

A file imported grouped by conversation commits its records out of file order, so its
checkpoint keeps the pass's start offset until the pass is done, with the pass's end and
progress, and a re-run reads the same range again and skips what was committed. Columns
all NULL mean no pass is under way, which is what every checkpoint kept so far means.

Revision ID: 0009_grouped_import
Revises: 0008_report_index
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_grouped_import"
down_revision = "0008_report_index"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("pass_end", sa.BigInteger),
    ("pass_end_line", sa.BigInteger),
    ("pass_buckets", sa.Integer),
    ("pass_bucket", sa.Integer),
    ("pass_done", sa.BigInteger),
)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column("imports", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # A pass under way is forgotten with its columns: the checkpoint still holds the
    # pass's start, so the next import reads that range again; ids keep it idempotent.
    with op.batch_alter_table("imports") as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
