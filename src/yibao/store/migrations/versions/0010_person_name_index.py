"""Persons found by the beginning of their name (the staff console's search): an index on
``persons.name``; on PostgreSQL with ``varchar_pattern_ops``, so that ``LIKE '张%'`` uses it
whatever the database's collation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_persons_name", "persons", ["name"], postgresql_ops={"name": "varchar_pattern_ops"}
    )


def downgrade() -> None:
    op.drop_index("ix_persons_name", table_name="persons")
