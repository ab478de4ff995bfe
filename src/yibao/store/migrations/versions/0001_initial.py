"""Initial schema: registry, enrolment, coverage years, ledger, contributions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN_ENROLMENT = "status IN ('active', 'suspended')"
RELATION_KINDS = "('spouse', 'parent', 'child', 'sibling', 'grandparent', 'grandchild')"
GROUP_KINDS = (
    "('newborn', 'tekun', 'dibao', 'low_income_edge', 'monitored', 'ill_poor', 'student', "
    "'demobilized')"
)
ACCOUNT_KINDS = (
    "('cash', 'contributions_receivable', 'fiscal_subsidy_receivable', 'employee_pooling', "
    "'resident_pooling', 'critical_illness', 'large_amount', 'medical_assistance', "
    "'adjustment', 'personal_account')"
)
CONTRIBUTION_KINDS = "('employee', 'flexible', 'resident', 'repair', 'retiree_credit')"

# PostgreSQL: a transaction whose postings do not sum to zero cannot commit. The check runs at
# COMMIT (DEFERRABLE INITIALLY DEFERRED), once per touched posting row.
PG_BALANCE_FUNCTION = """
CREATE FUNCTION yibao_check_transaction_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    txn bigint;
    total bigint;
    legs integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        txn := OLD.transaction_id;
    ELSE
        txn := NEW.transaction_id;
    END IF;
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, legs
      FROM postings WHERE transaction_id = txn;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: postings sum to % fen', txn, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.transaction_id <> NEW.transaction_id THEN
        SELECT COALESCE(SUM(amount), 0) INTO total FROM postings
         WHERE transaction_id = OLD.transaction_id;
        IF total <> 0 THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced: postings sum to % fen',
                OLD.transaction_id, total
                USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced';
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""
PG_BALANCE_TRIGGER = """
CREATE CONSTRAINT TRIGGER postings_balanced
    AFTER INSERT OR UPDATE OR DELETE ON postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION yibao_check_transaction_balanced()
"""


def _now() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("address", sa.Text()),
        sa.Column("region", sa.String(6)),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
        sa.UniqueConstraint("code", name="uq_households_code"),
    )
    op.create_table(
        "persons",
        sa.Column("id", BigId, nullable=False),
        sa.Column("national_id", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("household_id", BigId),
        sa.Column("region", sa.String(6)),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        sa.UniqueConstraint("national_id", name="uq_persons_national_id"),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_persons_household_id_households"
        ),
        sa.CheckConstraint("sex IN ('M', 'F')", name="ck_persons_sex"),
    )
    op.create_index("ix_persons_household_id", "persons", ["household_id"])
    op.create_table(
        "relations",
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("relative_id", BigId, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "relative_id", name="pk_relations"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_relations_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["relative_id"], ["persons.id"], name="fk_relations_relative_id_persons"
        ),
        sa.CheckConstraint(f"kind IN {RELATION_KINDS}", name="ck_relations_kind"),
        sa.CheckConstraint("person_id <> relative_id", name="ck_relations_not_self"),
    )
    op.create_index("ix_relations_relative_id", "relations", ["relative_id"])
    op.create_table(
        "special_groups",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date()),
        sa.PrimaryKeyConstraint("id", name="pk_special_groups"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_special_groups_person_id_persons"
        ),
        sa.CheckConstraint(f"kind IN {GROUP_KINDS}", name="ck_special_groups_kind"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="ck_special_groups_dates"
        ),
    )
    op.create_index("ix_special_groups_person_id", "special_groups", ["person_id"])
    op.create_table(
        "mutual_aid_links",
        sa.Column("id", BigId, nullable=False),
        sa.Column("owner_id", BigId, nullable=False),
        sa.Column("relative_id", BigId, nullable=False),
        sa.Column("authorised_on", sa.Date(), nullable=False),
        sa.Column("revoked_on", sa.Date()),
        sa.PrimaryKeyConstraint("id", name="pk_mutual_aid_links"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["persons.id"], name="fk_mutual_aid_links_owner_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["relative_id"], ["persons.id"], name="fk_mutual_aid_links_relative_id_persons"
        ),
        sa.CheckConstraint("owner_id <> relative_id", name="ck_mutual_aid_links_not_self"),
        sa.CheckConstraint(
            "revoked_on IS NULL OR revoked_on >= authorised_on", name="ck_mutual_aid_links_dates"
        ),
    )
    op.create_index("ix_mutual_aid_links_relative_id", "mutual_aid_links", ["relative_id"])
    op.create_index(
        "uq_mutual_aid_links_active",
        "mutual_aid_links",
        ["owner_id", "relative_id"],
        unique=True,
        sqlite_where=sa.text("revoked_on IS NULL"),
        postgresql_where=sa.text("revoked_on IS NULL"),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("scheme", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("pooling_area", sa.String(6), nullable=False),
        sa.Column("employer_code", sa.String(40)),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date()),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("suspended_on", sa.Date()),
        sa.Column("end_reason", sa.Text()),
        sa.Column("previous_id", BigId),
        sa.Column("carried_employee_months", sa.Integer(), server_default="0", nullable=False),
        sa.Column("carried_resident_years", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enrolments"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_enrolments_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["enrolments.id"], name="fk_enrolments_previous_id_enrolments"
        ),
        sa.CheckConstraint(
            "(scheme = 'resident' AND kind = 'resident') OR "
            "(scheme = 'employee' AND kind IN ('employer', 'flexible', 'retiree'))",
            name="ck_enrolments_scheme_kind",
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'terminated', 'transferred')",
            name="ck_enrolments_status",
        ),
        sa.CheckConstraint(
            "(kind = 'employer') = (employer_code IS NOT NULL)", name="ck_enrolments_employer"
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date >= start_date", name="ck_enrolments_dates"
        ),
        sa.CheckConstraint(
            f"({OPEN_ENROLMENT}) = (end_date IS NULL)", name="ck_enrolments_open_has_no_end"
        ),
    )
    op.create_index("ix_enrolments_person_id", "enrolments", ["person_id"])
    op.create_index(
        "uq_enrolments_open_person",
        "enrolments",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_ENROLMENT),
        postgresql_where=sa.text(OPEN_ENROLMENT),
    )
    op.create_table(
        "enrolment_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("enrolment_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("recorded_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enrolment_events"),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name="fk_enrolment_events_enrolment_id_enrolments"
        ),
    )
    op.create_index("ix_enrolment_events_enrolment_id", "enrolment_events", ["enrolment_id"])
    op.create_table(
        "coverage_years",
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("scheme", sa.String(10)),
        sa.Column("pooling_area", sa.String(6)),
        sa.Column("paid_on", sa.Date()),
        sa.Column("repaired", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("fund_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("continuous_years", sa.Integer(), server_default="0", nullable=False),
        sa.Column("zero_claim", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("closed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.PrimaryKeyConstraint("person_id", "year", name="pk_coverage_years"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_coverage_years_person_id_persons"
        ),
        sa.CheckConstraint("status IN ('insured', 'lapsed')", name="ck_coverage_years_status"),
        sa.CheckConstraint("fund_paid >= 0", name="ck_coverage_years_fund_paid"),
    )
    op.create_index("ix_coverage_years_year", "coverage_years", ["year"])
    op.create_table(
        "year_closes",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_closed_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.Column("last_closed_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.Column("runs", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_year_closes"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("pooling_area", sa.String(6)),
        sa.Column("person_id", BigId),
        sa.Column("normal_side", sa.String(6), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("code", name="uq_accounts_code"),
        sa.UniqueConstraint("person_id", name="uq_accounts_person_id"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_accounts_person_id_persons"
        ),
        sa.CheckConstraint(f"kind IN {ACCOUNT_KINDS}", name="ck_accounts_kind"),
        sa.CheckConstraint(
            "(kind = 'personal_account' AND person_id IS NOT NULL AND pooling_area IS NULL) OR "
            "(kind <> 'personal_account' AND person_id IS NULL AND pooling_area IS NOT NULL)",
            name="ck_accounts_owner",
        ),
        sa.CheckConstraint("normal_side IN ('debit', 'credit')", name="ck_accounts_normal_side"),
    )
    op.create_table(
        "ledger_transactions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("reference", sa.String(120)),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_transactions"),
        sa.UniqueConstraint("reference", name="uq_ledger_transactions_reference"),
    )
    op.create_table(
        "postings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("transaction_id", BigId, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name="fk_postings_transaction_id_ledger_transactions",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_postings_account_id_accounts"
        ),
        sa.CheckConstraint("amount <> 0", name="ck_postings_nonzero"),
    )
    op.create_index("ix_postings_transaction_id", "postings", ["transaction_id"])
    op.create_index("ix_postings_account_id", "postings", ["account_id"])
    op.create_table(
        "contributions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("enrolment_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("base", sa.BigInteger()),
        sa.Column("employer_part", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("employee_part", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("individual", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fiscal_subsidy", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("assistance_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("account_credit", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("mutual_aid_link_id", BigId),
        sa.Column("transaction_id", BigId, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contributions"),
        sa.UniqueConstraint("transaction_id", name="uq_contributions_transaction_id"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_contributions_person_id_persons"
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name="fk_contributions_enrolment_id_enrolments"
        ),
        sa.ForeignKeyConstraint(
            ["mutual_aid_link_id"],
            ["mutual_aid_links.id"],
            name="fk_contributions_mutual_aid_link_id_mutual_aid_links",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name="fk_contributions_transaction_id_ledger_transactions",
        ),
        sa.CheckConstraint(f"kind IN {CONTRIBUTION_KINDS}", name="ck_contributions_kind"),
        sa.CheckConstraint(
            "employer_part >= 0 AND employee_part >= 0 AND individual >= 0 "
            "AND fiscal_subsidy >= 0 AND assistance_paid >= 0 AND account_credit >= 0",
            name="ck_contributions_amounts",
        ),
    )
    op.create_index("ix_contributions_enrolment_id", "contributions", ["enrolment_id"])
    op.create_index(
        "uq_contributions_period",
        "contributions",
        ["person_id", "kind", "period_start"],
        unique=True,
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_BALANCE_FUNCTION)
        op.execute(PG_BALANCE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS postings_balanced ON postings")
        op.execute("DROP FUNCTION IF EXISTS yibao_check_transaction_balanced()")
    for table in (
        "contributions",
        "postings",
        "ledger_transactions",
        "accounts",
        "year_closes",
        "coverage_years",
        "enrolment_events",
        "enrolments",
        "mutual_aid_links",
        "special_groups",
        "relations",
        "persons",
        "households",
    ):
        op.drop_table(table)
