"""Record linkage: ``linkage_pairs`` (candidate pairs of a department record and a registry
person: match weight, probability, comparison levels, both sides' fields, status) and
``linkage_actions`` (the review's audit trail: who moved a pair, when).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SIDES = ("rec", "psn")
FIELDS = (("name", 100), ("sex", 1), ("birth_date", 10), ("address", 200), ("id_no", 18))
LEVELS = ("name", "birth_date", "sex", "address", "id_no")


def upgrade() -> None:
    op.create_table(
        "linkage_pairs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        *(sa.Column(f"level_{f}", sa.SmallInteger(), nullable=False) for f in LEVELS),
        *(
            sa.Column(f"{side}_{f}", sa.String(n), nullable=True)
            for side in SIDES
            for f, n in FIELDS
        ),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('auto', 'review', 'confirmed', 'rejected')",
            name="ck_linkage_pairs_status",
        ),
        sa.CheckConstraint(
            "match_probability >= 0 AND match_probability <= 1",
            name="ck_linkage_pairs_probability",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_linkage_pairs"),
        sa.UniqueConstraint(
            "area", "source", "row_no", "psn_no", name="uq_linkage_pairs_area_source_row_no_psn_no"
        ),
    )
    op.create_index("ix_linkage_pairs_psn_no", "linkage_pairs", ["psn_no"])
    op.create_table(
        "linkage_actions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pair_id", BigId, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["linkage_pairs.id"], name="fk_linkage_actions_pair_id_linkage_pairs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_linkage_actions"),
    )
    op.create_index("ix_linkage_actions_pair_id", "linkage_actions", ["pair_id"])


def downgrade() -> None:
    op.drop_index("ix_linkage_actions_pair_id", table_name="linkage_actions")
    op.drop_table("linkage_actions")
    op.drop_index("ix_linkage_pairs_psn_no", table_name="linkage_pairs")
    op.drop_table("linkage_pairs")
