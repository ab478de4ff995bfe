"""Provider payment groups: dated DIP group tables and DRG grouping tables, and their rows.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dip_group_tables",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("method", sa.String(3), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("source", sa.String(6), nullable=False),
        sa.Column("detail", sa.String(255), nullable=False),
        sa.Column("groups", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dip_group_tables"),
        sa.CheckConstraint("method IN ('dip', 'drg')", name="ck_dip_group_tables_method"),
        sa.CheckConstraint("source IN ('built', 'loaded')", name="ck_dip_group_tables_source"),
        sa.UniqueConstraint(
            "method", "region", "valid_from", name="uq_dip_group_tables_method_region_valid_from"
        ),
    )
    op.create_table(
        "dip_groups",
        sa.Column("table_id", BigId, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level", sa.String(5), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), server_default="", nullable=False),
        sa.Column("name", sa.String(500), server_default="", nullable=False),
        sa.Column("parent", sa.String(64), server_default="", nullable=False),
        sa.Column("match_by", sa.String(10), server_default="", nullable=False),
        sa.Column("codes", sa.Text(), server_default="", nullable=False),
        sa.Column("split", sa.String(3), server_default="", nullable=False),
        sa.Column("age_min", sa.Integer(), nullable=True),
        sa.Column("age_max", sa.Integer(), nullable=True),
        sa.Column("score", sa.BigInteger(), nullable=True),
        sa.Column("avg_cost", sa.BigInteger(), nullable=True),
        sa.Column("cases", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("table_id", "seq", name="pk_dip_groups"),
        sa.ForeignKeyConstraint(
            ["table_id"], ["dip_group_tables.id"], name="fk_dip_groups_table_id_dip_group_tables"
        ),
        sa.CheckConstraint(
            "level IN ('group', 'mdc', 'adrg', 'drg', 'cc', 'mcc')", name="ck_dip_groups_level"
        ),
        sa.CheckConstraint("score IS NULL OR score > 0", name="ck_dip_groups_score"),
        sa.CheckConstraint("avg_cost IS NULL OR avg_cost > 0", name="ck_dip_groups_avg_cost"),
    )


def downgrade() -> None:
    op.drop_table("dip_groups")
    op.drop_table("dip_group_tables")
