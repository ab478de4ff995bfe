"""Fund management: the funds' month totals kept by the ledger (``fund_month_totals``, filled
here from the postings already stored), yearly budgets per fund and area (``fund_budgets``) and
the monthly risk warnings with their evidence (``fund_warnings``).

Revision ID: 0007
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FUNDS = (
    "('employee_pooling', 'personal_account', 'resident_pooling', 'critical_illness', "
    "'large_amount', 'medical_assistance', 'employee_adjustment', 'resident_adjustment')"
)
PARTS = "('credit', 'debit', 'reversal', 'transfer')"
RISKS = "('reserve_critical', 'reserve_low', 'reserve_surplus', 'deficit', 'spending_growth')"


#: The month totals of the postings already stored (as ``domain.funds.month_moves`` adds them):
#: a personal account's posting is counted in its transaction's area (the one it names, else that
#: of its other legs).
BACKFILL = """
INSERT INTO fund_month_totals (fund, pooling_area, year, month, part, amount)
SELECT a.kind,
       COALESCE(a.pooling_area, t.pooling_area, (
           SELECT MIN(b.pooling_area) FROM postings q JOIN accounts b ON b.id = q.account_id
           WHERE q.transaction_id = p.transaction_id AND b.pooling_area IS NOT NULL
             AND b.kind NOT IN ('employee_adjustment', 'resident_adjustment')
       ), ''),
       {year}, {month},
       CASE WHEN t.kind = 'settlement_reversal' THEN 'reversal'
            WHEN t.kind = 'opening_balance' THEN 'transfer'
            WHEN p.amount < 0 THEN 'credit' ELSE 'debit' END,
       SUM(p.amount)
FROM postings p
JOIN ledger_transactions t ON t.id = p.transaction_id
JOIN accounts a ON a.id = p.account_id
WHERE a.kind IN {funds}
GROUP BY 1, 2, 3, 4, 5
"""
YEAR_MONTH = {
    "postgresql": ("CAST(EXTRACT(YEAR FROM t.occurred_on) AS INTEGER)",
                   "CAST(EXTRACT(MONTH FROM t.occurred_on) AS INTEGER)"),
    "sqlite": ("CAST(strftime('%Y', t.occurred_on) AS INTEGER)",
               "CAST(strftime('%m', t.occurred_on) AS INTEGER)"),
}  # fmt: skip


def upgrade() -> None:
    # the pooling area a transaction belongs to where no leg names it (a settlement paid by
    # personal account and cash), for the month totals of its personal-account legs
    op.add_column("ledger_transactions", sa.Column("pooling_area", sa.String(6), nullable=True))
    op.create_table(
        "fund_month_totals",
        sa.Column("fund", sa.String(30), nullable=False),
        sa.Column("pooling_area", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f"fund IN {FUNDS}", name="ck_fund_month_totals_fund"),
        sa.CheckConstraint(f"part IN {PARTS}", name="ck_fund_month_totals_part"),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name="ck_fund_month_totals_month"),
        sa.PrimaryKeyConstraint(
            "fund", "pooling_area", "year", "month", "part", name="pk_fund_month_totals"
        ),
    )
    year, month = YEAR_MONTH[op.get_bind().dialect.name]
    op.execute(BACKFILL.format(year=year, month=month, funds=FUNDS))
    op.create_table(
        "fund_budgets",
        sa.Column("id", BigId, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("pooling_area", sa.String(6), nullable=False),
        sa.Column("fund", sa.String(30), nullable=False),
        sa.Column("income", sa.BigInteger(), nullable=False),
        sa.Column("expenditure", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"fund IN {FUNDS}", name="ck_fund_budgets_fund"),
        sa.CheckConstraint("income >= 0 AND expenditure >= 0", name="ck_fund_budgets_amounts"),
        sa.PrimaryKeyConstraint("id", name="pk_fund_budgets"),
    )
    op.create_index(
        "uq_fund_budgets_year_area_fund",
        "fund_budgets",
        ["year", "pooling_area", "fund"],
        unique=True,
    )
    op.create_table(
        "fund_warnings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("pooling_area", sa.String(6), nullable=False),
        sa.Column("fund", sa.String(30), nullable=False),
        sa.Column("risk", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"fund IN {FUNDS}", name="ck_fund_warnings_fund"),
        sa.CheckConstraint(f"risk IN {RISKS}", name="ck_fund_warnings_risk"),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name="ck_fund_warnings_month"),
        sa.PrimaryKeyConstraint("id", name="pk_fund_warnings"),
    )
    op.create_index(
        "uq_fund_warnings_month_fund_risk",
        "fund_warnings",
        ["year", "month", "pooling_area", "fund", "risk"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_fund_warnings_month_fund_risk", table_name="fund_warnings")
    op.drop_table("fund_warnings")
    op.drop_index("uq_fund_budgets_year_area_fund", table_name="fund_budgets")
    op.drop_table("fund_budgets")
    op.drop_table("fund_month_totals")
    # plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would break the postings' keys
    op.execute("ALTER TABLE ledger_transactions DROP COLUMN pooling_area")
