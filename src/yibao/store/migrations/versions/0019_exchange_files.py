"""Files exchanged with institutions: ``exchange_files`` (the platform's 9101 upload and 9102
download; a 3202 detail file and its result).

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_files",
        sa.Column("file_qury_no", sa.String(40), nullable=False),
        sa.Column("institution", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('upload', 'result')", name="ck_exchange_files_kind"),
        sa.CheckConstraint("size >= 0", name="ck_exchange_files_size"),
        sa.PrimaryKeyConstraint("file_qury_no", name="pk_exchange_files"),
    )
    op.create_index("ix_exchange_files_institution", "exchange_files", ["institution"])


def downgrade() -> None:
    op.drop_index("ix_exchange_files_institution", table_name="exchange_files")
    op.drop_table("exchange_files")
