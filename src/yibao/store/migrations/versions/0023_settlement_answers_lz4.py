"""A settlement's answers compressed with LZ4 on PostgreSQL: ``settlements.response`` (a 2207's
answer as sent, ~1.7 KB of JSON) makes most rows long enough to be compressed on insert, and
pglz (the default) took ~15-20 µs of the database's CPU a settlement more than LZ4;
``reversal_response`` (a 2208's) alike. Answers stay the same JSON; values stored before keep
pglz. A server built without LZ4 keeps pglz. Nothing on SQLite.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN"
        f" ALTER TABLE settlements ALTER COLUMN response SET COMPRESSION {method},"
        f" ALTER COLUMN reversal_response SET COMPRESSION {method};"
        " EXCEPTION WHEN feature_not_supported THEN NULL;"  # built without LZ4
        " END $$"
    )


def upgrade() -> None:
    _compression("lz4")


def downgrade() -> None:
    _compression("default")
