"""Fee detail lines and a visit's clinical data: ``fee_lines`` (2204/2205, each line's
classification beside it), ``visit_diagnoses`` (ICD-10, principal first),
``visit_procedures`` (ICD-9-CM-3), and the discharge way on ``visits`` (2402; the discharge
date is ``visits.end_date``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("visits", sa.Column("discharge_way", sa.String(1), nullable=True))
    op.create_table(
        "fee_lines",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("feedetl_sn", sa.String(30), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_date", sa.Date(), nullable=False),
        sa.Column("approval", sa.String(1), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("item_class", sa.String(1), nullable=False),
        sa.Column("fully_self_paid", sa.BigInteger(), nullable=False),
        sa.Column("over_limit", sa.BigInteger(), nullable=False),
        sa.Column("in_scope", sa.BigInteger(), nullable=False),
        sa.Column("category_b", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.CheckConstraint("status IN ('live', 'cancelled')", name="ck_fee_lines_status"),
        sa.CheckConstraint("item_class IN ('A', 'B', 'C')", name="ck_fee_lines_item_class"),
        sa.CheckConstraint(
            "reason IN ('sex', 'age', 'level', 'indication', 'class_c', 'day_quantity', "
            "'stay_quantity', 'price_limit', 'class_b', 'class_a')",
            name="ck_fee_lines_reason",
        ),
        sa.CheckConstraint("approval IN ('0', '1', '2')", name="ck_fee_lines_approval"),
        sa.CheckConstraint(
            "quantity > 0 AND unit_price >= 0 AND amount >= 0", name="ck_fee_lines_line"
        ),
        sa.CheckConstraint(
            "fully_self_paid >= 0 AND over_limit >= 0 AND in_scope >= 0 AND category_b >= 0"
            " AND category_b <= in_scope"
            " AND fully_self_paid + over_limit + in_scope = amount",
            name="ck_fee_lines_classes",
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name="fk_fee_lines_visit_id_visits"),
        sa.PrimaryKeyConstraint("id", name="pk_fee_lines"),
        sa.UniqueConstraint("visit_id", "feedetl_sn", name="uq_fee_lines_visit_id_feedetl_sn"),
    )
    op.create_table(
        "visit_diagnoses",
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("diag_type", sa.String(1), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name="fk_visit_diagnoses_visit_id_visits"
        ),
        sa.PrimaryKeyConstraint("visit_id", "seq", name="pk_visit_diagnoses"),
    )
    op.create_table(
        "visit_procedures",
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("main", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name="fk_visit_procedures_visit_id_visits"
        ),
        sa.PrimaryKeyConstraint("visit_id", "seq", name="pk_visit_procedures"),
    )


def downgrade() -> None:
    op.drop_table("visit_procedures")
    op.drop_table("visit_diagnoses")
    op.drop_table("fee_lines")
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("discharge_way")
