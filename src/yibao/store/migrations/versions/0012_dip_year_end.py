"""The DIP year-end settlement (年终清算): ``dip_runs`` (one per pooling area and year: budget,
reimbursement ratio, total points, point value) and ``dip_settlements`` (one per institution of
a run, with the ledger transaction that posted it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FEN = ("cost", "patient_share", "standard", "fund_due", "advanced", "settlement")


def upgrade() -> None:
    op.create_table(
        "dip_runs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("ran_on", sa.Date(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("budget_source", sa.String(10), nullable=False),
        sa.Column("reimbursement_ratio", sa.Integer(), nullable=False),
        sa.Column("cases", sa.BigInteger(), nullable=False),
        sa.Column("total_points", sa.BigInteger(), nullable=False),
        sa.Column("point_value", sa.BigInteger(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dip_runs"),
        sa.UniqueConstraint("area", "year", name="uq_dip_runs_area_year"),
    )
    op.create_table(
        "dip_settlements",
        sa.Column("id", BigId, nullable=False),
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("institution", sa.String(40), nullable=False),
        sa.Column("cases", sa.BigInteger(), nullable=False),
        sa.Column("per_diem_cases", sa.BigInteger(), nullable=False),
        sa.Column("review_cases", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FEN),
        sa.Column("transaction_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["dip_runs.id"], name="fk_dip_settlements_run_id_dip_runs"
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name="fk_dip_settlements_transaction_id_ledger_transactions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dip_settlements"),
        sa.UniqueConstraint("run_id", "institution", name="uq_dip_settlements_run_id_institution"),
    )


def downgrade() -> None:
    op.drop_table("dip_settlements")
    op.drop_table("dip_runs")
