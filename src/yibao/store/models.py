"""Tables of the system of record (SQLAlchemy 2.0 typed declarative mapping).

These rows are the persistence model; the domain objects in ``yibao.domain`` know nothing of
them, and the repositories translate. The schema itself is created by the Alembic migrations
in ``migrations/versions`` (a test checks that the two agree).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from yibao.domain.funds import FUND_NAMES, PARTS
from yibao.policy.vocab import LEVELS, CrossRegion, FundRisk, GroupKind, MedType, sql_in
from yibao.policy.vocab import SETTLEMENT_AMOUNTS as SETTLEMENT_AMOUNTS  # (re-exported)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit ids on PostgreSQL; SQLite's rowid alias must be spelled INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")

OPEN_ENROLMENT = "status IN ('active', 'suspended')"
RELATION_KINDS = "('spouse', 'parent', 'child', 'sibling', 'grandparent', 'grandchild')"
GROUP_KINDS = sql_in(GroupKind)
ACCOUNT_KINDS = (
    "('cash', 'contributions_receivable', 'fiscal_subsidy_receivable', 'employee_pooling', "
    "'resident_pooling', 'critical_illness', 'large_amount', 'medical_assistance', "
    "'employee_adjustment', 'resident_adjustment', 'personal_account', 'opening_balance', "
    "'institution_payable', 'institution_collected', 'cross_region_receivable', "
    "'cross_region_payable', 'epidemic_advance', 'commercial_receivable')"
)
#: The account kinds keyed by a designated institution's code (``domain.ledger.INSTITUTION_KINDS``).
INSTITUTION_ACCOUNT_KINDS = "('institution_payable', 'institution_collected')"
#: Who an account belongs to: a person, an institution, or else a pooling area (one of them).
ACCOUNT_OWNER = (
    "(kind = 'personal_account' AND person_id IS NOT NULL AND pooling_area IS NULL "
    "AND institution IS NULL) OR "
    f"(kind IN {INSTITUTION_ACCOUNT_KINDS} AND institution IS NOT NULL AND person_id IS NULL "
    "AND pooling_area IS NULL) OR "
    f"(kind <> 'personal_account' AND kind NOT IN {INSTITUTION_ACCOUNT_KINDS} "
    "AND person_id IS NULL AND pooling_area IS NOT NULL AND institution IS NULL)"
)
CONTRIBUTION_KINDS = "('employee', 'flexible', 'resident', 'repair', 'retiree_credit')"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class HouseholdRow(Base):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PersonRow(Base):
    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        # the console's search by the beginning of a name (LIKE 'x%' whatever the collation)
        Index("ix_persons_name", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    national_id: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    region: Mapped[str | None] = mapped_column(String(6))
    #: the date of death (registry; migration 0021): no settlement on or after it
    died_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class RelationRow(Base):
    __tablename__ = "relations"
    __table_args__ = (
        CheckConstraint(f"kind IN {RELATION_KINDS}", name="kind"),
        CheckConstraint("person_id <> relative_id", name="not_self"),
    )

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(12))


class SpecialGroupRow(Base):
    __tablename__ = "special_groups"
    __table_args__ = (
        CheckConstraint(f"kind IN {GROUP_KINDS}", name="kind"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="dates"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class MutualAidLinkRow(Base):
    __tablename__ = "mutual_aid_links"
    __table_args__ = (
        CheckConstraint("owner_id <> relative_id", name="not_self"),
        CheckConstraint("revoked_on IS NULL OR revoked_on >= authorised_on", name="dates"),
        Index(
            "uq_mutual_aid_links_active",
            "owner_id",
            "relative_id",
            unique=True,
            sqlite_where=text("revoked_on IS NULL"),
            postgresql_where=text("revoked_on IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    relative_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    authorised_on: Mapped[dt.date] = mapped_column(Date)
    revoked_on: Mapped[dt.date | None] = mapped_column(Date)


class EnrolmentRow(Base):
    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint(
            "(scheme = 'resident' AND kind = 'resident') OR "
            "(scheme = 'employee' AND kind IN ('employer', 'flexible', 'retiree'))",
            name="scheme_kind",
        ),
        CheckConstraint(
            "status IN ('active', 'suspended', 'terminated', 'transferred')", name="status"
        ),
        CheckConstraint("(kind = 'employer') = (employer_code IS NOT NULL)", name="employer"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates"),
        CheckConstraint(f"({OPEN_ENROLMENT}) = (end_date IS NULL)", name="open_has_no_end"),
        # No duplicate participation: at most one open enrolment per person.
        Index(
            "uq_enrolments_open_person",
            "person_id",
            unique=True,
            sqlite_where=text(OPEN_ENROLMENT),
            postgresql_where=text(OPEN_ENROLMENT),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10))
    pooling_area: Mapped[str] = mapped_column(String(6))
    employer_code: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    suspended_on: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(Text)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"))
    carried_employee_months: Mapped[int] = mapped_column(Integer, server_default="0")
    carried_resident_years: Mapped[int] = mapped_column(Integer, server_default="0")


class EnrolmentEventRow(Base):
    __tablename__ = "enrolment_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    on_date: Mapped[dt.date] = mapped_column(Date)
    detail: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class CoverageYearRow(Base):
    __tablename__ = "coverage_years"
    __table_args__ = (
        CheckConstraint("status IN ('insured', 'lapsed')", name="status"),
        CheckConstraint("fund_paid >= 0", name="fund_paid"),
        Index("ix_coverage_years_year", "year"),
    )

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    scheme: Mapped[str | None] = mapped_column(String(10))
    pooling_area: Mapped[str | None] = mapped_column(String(6))
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    repaired: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    fund_paid: Mapped[int] = mapped_column(BigInteger, server_default="0")
    continuous_years: Mapped[int] = mapped_column(Integer, server_default="0")
    zero_claim: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    closed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class YearCloseRow(Base):
    __tablename__ = "year_closes"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    first_closed_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    last_closed_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    runs: Mapped[int] = mapped_column(Integer, server_default="1")


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(f"kind IN {ACCOUNT_KINDS}", name="kind"),
        CheckConstraint(ACCOUNT_OWNER, name="owner"),
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    pooling_area: Mapped[str | None] = mapped_column(String(6))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), unique=True)
    institution: Mapped[str | None] = mapped_column(String(40))
    normal_side: Mapped[str] = mapped_column(String(6))
    balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class LedgerTransactionRow(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(120), unique=True)
    # the pooling area where no leg says it (``LedgerTransaction.area``)
    pooling_area: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PostingRow(Base):
    __tablename__ = "postings"
    __table_args__ = (CheckConstraint("amount <> 0", name="nonzero"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class ContributionRow(Base):
    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint(f"kind IN {CONTRIBUTION_KINDS}", name="kind"),
        CheckConstraint(
            "employer_part >= 0 AND employee_part >= 0 AND individual >= 0 "
            "AND fiscal_subsidy >= 0 AND assistance_paid >= 0 AND account_credit >= 0",
            name="amounts",
        ),
        Index("uq_contributions_period", "person_id", "kind", "period_start", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    base: Mapped[int | None] = mapped_column(BigInteger)
    employer_part: Mapped[int] = mapped_column(BigInteger, server_default="0")
    employee_part: Mapped[int] = mapped_column(BigInteger, server_default="0")
    individual: Mapped[int] = mapped_column(BigInteger, server_default="0")
    fiscal_subsidy: Mapped[int] = mapped_column(BigInteger, server_default="0")
    assistance_paid: Mapped[int] = mapped_column(BigInteger, server_default="0")
    account_credit: Mapped[int] = mapped_column(BigInteger, server_default="0")
    paid_on: Mapped[dt.date] = mapped_column(Date)
    mutual_aid_link_id: Mapped[int | None] = mapped_column(ForeignKey("mutual_aid_links.id"))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)


# ------------------------------------------------------------------------------- settlement

MED_TYPE_VALUES = sql_in(MedType)
CROSS_REGION_VALUES = sql_in(CrossRegion)
LEVEL_VALUES = sql_in(LEVELS)


class VisitRow(Base):
    """A visit (就诊, ``mdtrt_id``) registered by a designated institution (2201 / 2202)."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(f"med_type IN {MED_TYPE_VALUES}", name="med_type"),
        CheckConstraint(f"level IN {LEVEL_VALUES}", name="level"),
        CheckConstraint(f"cross_region IN {CROSS_REGION_VALUES}", name="cross_region"),
        CheckConstraint("status IN ('registered', 'cancelled')", name="status"),
        CheckConstraint("(status = 'cancelled') = (cancelled_on IS NOT NULL)", name="cancelled"),
        CheckConstraint("end_date IS NULL OR end_date >= begin_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mdtrt_id: Mapped[str] = mapped_column(String(40), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    fixmedins_code: Mapped[str] = mapped_column(String(40))
    med_type: Mapped[str] = mapped_column(String(12))
    level: Mapped[int] = mapped_column(Integer)
    cross_region: Mapped[str] = mapped_column(String(12), server_default="none")
    begin_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    cancelled_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    discharge_way: Mapped[str | None] = mapped_column(String(1))  # 离院方式 (2402)


class SettlementRow(Base):
    """A settlement (结算, ``setl_id``, 2207) and its reversal (2208)."""

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint("status IN ('settled', 'reversed')", name="status"),
        CheckConstraint("(status = 'reversed') = (reversed_on IS NOT NULL)", name="reversed"),
        CheckConstraint(
            " AND ".join(f"{a} >= 0" for a in SETTLEMENT_AMOUNTS),
            name="amounts",
        ),
        CheckConstraint(
            "fund_pay_sumamt = hifp_pay + hifmi_pay + hifob_pay + maf_pay", name="fund"
        ),
        CheckConstraint(
            "psn_part_amt = commercial_pay + acct_pay + acct_mulaid_pay + psn_cash_pay "
            "AND medfee_sumamt = fund_pay_sumamt + psn_part_amt",
            name="parts",
        ),
        CheckConstraint(
            "commercial_pay >= 0 AND (commercial_pay = 0 OR commercial_purchase_id IS NOT NULL)",
            name="commercial",
        ),
        # A visit is settled at most once at a time (a reversed settlement frees it).
        Index(
            "uq_settlements_visit_settled",
            "visit_id",
            unique=True,
            sqlite_where=text("status = 'settled'"),
            postgresql_where=text("status = 'settled'"),
        ),
        Index("ix_settlements_person_id_year", "person_id", "year"),
        # a month's (or day's) settlements and reversals: the clearing statement, 3201
        Index("ix_settlements_settled_on", "settled_on"),
        Index(
            "ix_settlements_reversed_on",
            "reversed_on",
            sqlite_where=text("reversed_on IS NOT NULL"),
            postgresql_where=text("reversed_on IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    setl_id: Mapped[str] = mapped_column(String(40), unique=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    request_digest: Mapped[str] = mapped_column(String(64))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    pooling_area: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(Integer)
    settled_on: Mapped[dt.date] = mapped_column(Date)
    scheme: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)
    fulamt_ownpay_amt: Mapped[int] = mapped_column(BigInteger)
    overlmt_selfpay: Mapped[int] = mapped_column(BigInteger)
    preselfpay_amt: Mapped[int] = mapped_column(BigInteger)
    inscp_scp_amt: Mapped[int] = mapped_column(BigInteger)
    cross_prepay: Mapped[int] = mapped_column(BigInteger)
    act_pay_dedc: Mapped[int] = mapped_column(BigInteger)
    hifp_pay: Mapped[int] = mapped_column(BigInteger)
    hifmi_pay: Mapped[int] = mapped_column(BigInteger)
    hifob_pay: Mapped[int] = mapped_column(BigInteger)
    maf_pay: Mapped[int] = mapped_column(BigInteger)
    fund_pay_sumamt: Mapped[int] = mapped_column(BigInteger)
    psn_part_amt: Mapped[int] = mapped_column(BigInteger)
    acct_pay: Mapped[int] = mapped_column(BigInteger)
    acct_mulaid_pay: Mapped[int] = mapped_column(BigInteger)
    psn_cash_pay: Mapped[int] = mapped_column(BigInteger)
    admission_no: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[int] = mapped_column(Integer)
    mutual_aid_link_id: Mapped[int | None] = mapped_column(ForeignKey("mutual_aid_links.id"))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    state_delta: Mapped[dict[str, Any]] = mapped_column(JSON)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )
    reversed_on: Mapped[dt.date | None] = mapped_column(Date)
    reversal_request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    reversal_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )
    reversal_response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    # supplementary commercial insurance (惠民保, migration 0020): what the person's product paid
    # (part of psn_part_amt) and the purchase that paid it
    commercial_pay: Mapped[int] = mapped_column(BigInteger, server_default="0")
    commercial_purchase_id: Mapped[int | None] = mapped_column(
        ForeignKey("commercial_purchases.id"), index=True
    )


class SettlementLayerRow(Base):
    """One fund layer (or medical-assistance tier) of a settlement (setldetail)."""

    __tablename__ = "settlement_layers"
    __table_args__ = (CheckConstraint("payment >= 0 AND base >= 0", name="amounts"),)

    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fund_pay_type: Mapped[str] = mapped_column(String(6))
    fund_name: Mapped[str] = mapped_column(String(80))
    base: Mapped[int] = mapped_column(BigInteger)
    payment: Mapped[int] = mapped_column(BigInteger)


class BenefitStateRow(Base):
    """A person's year-to-date settlement accumulators (the kernel's ``state_keys``), one row
    per person and year; row-locked (``SELECT ... FOR UPDATE``) while a settlement runs."""

    __tablename__ = "benefit_states"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    settlements: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


FUND_KINDS = sql_in(FUND_NAMES)
FUND_RISKS = sql_in(FundRisk)
FUND_PARTS = sql_in(PARTS)


class FundMonthTotalRow(Base):
    """A fund's postings of one month summed by part (credit, debit, reversal, transfer): kept
    by the ledger as it posts (``LedgerRepository.apply_month_totals``, the area loader), so
    the operation analysis reads a few rows instead of every posting. The personal accounts
    are counted in the area of each transaction; ``pooling_area`` is '' when none is known."""

    __tablename__ = "fund_month_totals"
    __table_args__ = (
        CheckConstraint(f"fund IN {FUND_KINDS}", name="fund"),
        CheckConstraint(f"part IN {FUND_PARTS}", name="part"),
        CheckConstraint("month BETWEEN 1 AND 12", name="month"),
    )

    fund: Mapped[str] = mapped_column(String(30), primary_key=True)
    pooling_area: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    part: Mapped[str] = mapped_column(String(10), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class FundBudgetRow(Base):
    """A fund's yearly budget in an area (基金预算): its income and expenditure lines, fen."""

    __tablename__ = "fund_budgets"
    __table_args__ = (
        CheckConstraint(f"fund IN {FUND_KINDS}", name="fund"),
        CheckConstraint("income >= 0 AND expenditure >= 0", name="amounts"),
        Index("uq_fund_budgets_year_area_fund", "year", "pooling_area", "fund", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    pooling_area: Mapped[str] = mapped_column(String(6))
    fund: Mapped[str] = mapped_column(String(30))
    income: Mapped[int] = mapped_column(BigInteger)
    expenditure: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class FundWarningRow(Base):
    """A risk warning of a fund in a month (基金风险预警) with the figures that raised it; one
    row per (year, month, area, fund, risk): evaluating a month again replaces its rows."""

    __tablename__ = "fund_warnings"
    __table_args__ = (
        CheckConstraint(f"fund IN {FUND_KINDS}", name="fund"),
        CheckConstraint(f"risk IN {FUND_RISKS}", name="risk"),
        CheckConstraint("month BETWEEN 1 AND 12", name="month"),
        Index(
            "uq_fund_warnings_month_fund_risk",
            "year",
            "month",
            "pooling_area",
            "fund",
            "risk",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    pooling_area: Mapped[str] = mapped_column(String(6))
    fund: Mapped[str] = mapped_column(String(30))
    risk: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
