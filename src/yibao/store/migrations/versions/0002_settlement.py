"""Settlement: visits, settlements with their fund layers, year-to-date benefit state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MED_TYPE_VALUES = "('inpatient', 'outpatient', 'chronic', 'maternity', 'pharmacy')"
CROSS_REGION_VALUES = "('none', 'registered', 'referred', 'temporary')"
AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "cross_prepay",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", BigId, nullable=False),
        sa.Column("mdtrt_id", sa.String(40), nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("fixmedins_code", sa.String(40), nullable=False),
        sa.Column("med_type", sa.String(12), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("cross_region", sa.String(12), server_default="none", nullable=False),
        sa.Column("begin_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("cancelled_on", sa.Date()),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_visits"),
        sa.UniqueConstraint("mdtrt_id", name="uq_visits_mdtrt_id"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_visits_person_id_persons"),
        sa.CheckConstraint(f"med_type IN {MED_TYPE_VALUES}", name="ck_visits_med_type"),
        sa.CheckConstraint("level IN (1, 2, 3)", name="ck_visits_level"),
        sa.CheckConstraint(f"cross_region IN {CROSS_REGION_VALUES}", name="ck_visits_cross_region"),
        sa.CheckConstraint("status IN ('registered', 'cancelled')", name="ck_visits_status"),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_on IS NOT NULL)", name="ck_visits_cancelled"
        ),
        sa.CheckConstraint("end_date IS NULL OR end_date >= begin_date", name="ck_visits_dates"),
    )
    op.create_index("ix_visits_person_id", "visits", ["person_id"])

    op.create_table(
        "settlements",
        sa.Column("id", BigId, nullable=False),
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("visit_id", BigId, nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("pooling_area", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=False),
        sa.Column("scheme", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        *[sa.Column(a, sa.BigInteger(), nullable=False) for a in AMOUNTS],
        sa.Column("admission_no", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Integer(), nullable=False),
        sa.Column("mutual_aid_link_id", BigId),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("state_delta", sa.JSON(), nullable=False),
        sa.Column("transaction_id", BigId),
        sa.Column("reversed_on", sa.Date()),
        sa.Column("reversal_request_id", sa.String(64)),
        sa.Column("reversal_transaction_id", BigId),
        sa.Column("reversal_response", sa.JSON()),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_settlements"),
        sa.UniqueConstraint("setl_id", name="uq_settlements_setl_id"),
        sa.UniqueConstraint("request_id", name="uq_settlements_request_id"),
        sa.UniqueConstraint("transaction_id", name="uq_settlements_transaction_id"),
        sa.UniqueConstraint("reversal_request_id", name="uq_settlements_reversal_request_id"),
        sa.UniqueConstraint(
            "reversal_transaction_id", name="uq_settlements_reversal_transaction_id"
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], name="fk_settlements_visit_id_visits"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_settlements_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["mutual_aid_link_id"],
            ["mutual_aid_links.id"],
            name="fk_settlements_mutual_aid_link_id_mutual_aid_links",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name="fk_settlements_transaction_id_ledger_transactions",
        ),
        sa.ForeignKeyConstraint(
            ["reversal_transaction_id"],
            ["ledger_transactions.id"],
            name="fk_settlements_reversal_transaction_id_ledger_transactions",
        ),
        sa.CheckConstraint("status IN ('settled', 'reversed')", name="ck_settlements_status"),
        sa.CheckConstraint(
            "(status = 'reversed') = (reversed_on IS NOT NULL)", name="ck_settlements_reversed"
        ),
        sa.CheckConstraint(
            " AND ".join(f"{a} >= 0" for a in AMOUNTS), name="ck_settlements_amounts"
        ),
        sa.CheckConstraint(
            "fund_pay_sumamt = hifp_pay + hifmi_pay + hifob_pay + maf_pay",
            name="ck_settlements_fund",
        ),
        sa.CheckConstraint(
            "psn_part_amt = acct_pay + acct_mulaid_pay + psn_cash_pay "
            "AND medfee_sumamt = fund_pay_sumamt + psn_part_amt",
            name="ck_settlements_parts",
        ),
    )
    op.create_index(
        "uq_settlements_visit_settled",
        "settlements",
        ["visit_id"],
        unique=True,
        sqlite_where=sa.text("status = 'settled'"),
        postgresql_where=sa.text("status = 'settled'"),
    )
    op.create_index("ix_settlements_person_id_year", "settlements", ["person_id", "year"])

    op.create_table(
        "settlement_layers",
        sa.Column("settlement_id", BigId, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fund_pay_type", sa.String(6), nullable=False),
        sa.Column("fund_name", sa.String(80), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("payment", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("settlement_id", "seq", name="pk_settlement_layers"),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name="fk_settlement_layers_settlement_id_settlements",
        ),
        sa.CheckConstraint("payment >= 0 AND base >= 0", name="ck_settlement_layers_amounts"),
    )

    op.create_table(
        "benefit_states",
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("settlements", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "year", name="pk_benefit_states"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_benefit_states_person_id_persons"
        ),
    )


def downgrade() -> None:
    for table in ("benefit_states", "settlement_layers", "settlements", "visits"):
        op.drop_table(table)
