"""The catalogue (医保目录): each load of a region's catalogue and its item versions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "catalogue_loads",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalogue_loads"),
        sa.UniqueConstraint("region", "valid_from", name="uq_catalogue_loads_region_valid_from"),
    )
    op.create_table(
        "catalogue_items",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("load_id", BigId, nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("item_class", sa.String(1), nullable=False),
        sa.Column("unit", sa.String(500), server_default="", nullable=False),
        sa.Column("price_limit", sa.BigInteger(), nullable=True),
        sa.Column("typical_price", sa.BigInteger(), nullable=True),
        sa.Column("sex", sa.Integer(), server_default="0", nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.Column("min_level", sa.Integer(), nullable=True),
        sa.Column("max_per_day", sa.BigInteger(), nullable=True),
        sa.Column("max_per_stay", sa.BigInteger(), nullable=True),
        sa.Column("indication", sa.Text(), server_default="", nullable=False),
        sa.Column("fee_type", sa.String(2), server_default="", nullable=False),
        sa.Column("procedure", sa.String(500), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalogue_items"),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["catalogue_loads.id"],
            name="fk_catalogue_items_load_id_catalogue_loads",
        ),
        sa.UniqueConstraint(
            "region", "code", "valid_from", name="uq_catalogue_items_region_code_valid_from"
        ),
        sa.CheckConstraint(
            "kind IN ('drug', 'consumable', 'service')", name="ck_catalogue_items_kind"
        ),
        sa.CheckConstraint("item_class IN ('A', 'B', 'C')", name="ck_catalogue_items_item_class"),
        sa.CheckConstraint("sex IN (0, 1, 2)", name="ck_catalogue_items_sex"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="ck_catalogue_items_dates"
        ),
        sa.CheckConstraint(
            "(price_limit IS NULL OR price_limit >= 0) AND (max_per_day IS NULL OR "
            "max_per_day >= 0) AND (max_per_stay IS NULL OR max_per_stay >= 0)",
            name="ck_catalogue_items_limits",
        ),
    )
    op.create_index("ix_catalogue_items_load_id", "catalogue_items", ["load_id"])


def downgrade() -> None:
    op.drop_index("ix_catalogue_items_load_id", table_name="catalogue_items")
    op.drop_table("catalogue_items")
    op.drop_table("catalogue_loads")
