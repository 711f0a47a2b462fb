"""Import checkpoints per file and way of reading it, with the count of rejected records.

A file imported through one mapping and then another is read anew by the second (its
events differ), and a resumed import still knows how many records the file had rejected
(`ingest --strict`). The key of `imports` becomes (source, reader); checkpoints kept so far
were made by imports of JSON Lines (`reader` = "jsonl"), or of CSV through a mapping whose
fingerprint nobody kept: such a file is read once more from its start, and its ids make
the second reading add nothing twice.

Revision ID: 0004_import_readers
Revises: 0003_topic_once
Create Date: 2026-11-29
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_import_readers"
down_revision = "0003_topic_once"
branch_labels = None
depends_on = None

_COMMON = ("source", "fingerprint", "offset", "line", "updated_at")


def _columns(*, with_reader: bool) -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = [
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("line", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    ]
    if with_reader:
        columns += [
            sa.Column("reader", sa.String(64), primary_key=True),
            sa.Column("rejected", sa.BigInteger, nullable=False),
        ]
    return columns


def _copy(into: str, columns: str, select: str) -> None:
    op.execute(f"INSERT INTO {into} ({columns}) SELECT {select} FROM imports_before")


def upgrade() -> None:
    op.rename_table("imports", "imports_before")
    op.create_table("imports", *_columns(with_reader=True))
    common = ", ".join(f'"{c}"' for c in _COMMON)
    _copy("imports", f'{common}, "reader", "rejected"', f"{common}, 'jsonl', 0")
    op.drop_table("imports_before")


def downgrade() -> None:
    # One checkpoint per file again: the JSON Lines one, the only kind the old key knew.
    op.execute("DELETE FROM imports WHERE reader <> 'jsonl'")
    op.rename_table("imports", "imports_before")
    op.create_table("imports", *_columns(with_reader=False))
    common = ", ".join(f'"{c}"' for c in _COMMON)
    _copy("imports", common, common)
    op.drop_table("imports_before")
