"""The funds repository: the ledger's postings on the funds grouped by month (one grouped
query), the yearly budgets and the stored risk warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, extract, func, literal, select, union_all
from sqlalchemy.orm import Session

from yibao.domain.funds import FUND_NAMES, REVERSAL_KINDS, TRANSFER_KINDS, Budget, fund_of
from yibao.domain.ledger import AccountKind
from yibao.store.models import (
    AccountRow,
    EnrolmentRow,
    FundBudgetRow,
    FundWarningRow,
    LedgerTransactionRow,
    PostingRow,
)
from yibao.store.sql import dialect_insert

#: How a posting moves a fund (the ``part`` of a ``FundMove``): a credit (income), a debit
#: (expenditure), a reversal of an expenditure, a transfer of a balance from before the system.
CREDIT, DEBIT, REVERSAL, TRANSFER = "credit", "debit", "reversal", "transfer"
#: The ``part`` of the stored balances (no year or month).
BALANCE = "balance"


@dataclass(frozen=True, slots=True)
class FundMove:
    """The sum of the signed postings (debit > 0) of one fund of one area in one month and
    part; or, with ``part == BALANCE`` (year and month 0), the fund's stored balance now."""

    fund: AccountKind
    area: str | None
    year: int
    month: int
    part: str
    amount: int


@dataclass(frozen=True, slots=True)
class StoredWarning:
    year: int
    month: int
    area: str
    fund: AccountKind
    risk: str
    evidence: dict[str, Any]
    evaluated_at: dt.datetime


def _person_areas() -> Any:
    """Each person's area: the pooling area of their latest enrolment (personal accounts are
    keyed by person; this is the area their postings are counted in)."""
    latest = (
        select(EnrolmentRow.person_id, func.max(EnrolmentRow.id).label("enrolment_id"))
        .group_by(EnrolmentRow.person_id)
        .subquery()
    )
    return (
        select(latest.c.person_id, EnrolmentRow.pooling_area)
        .join(EnrolmentRow, EnrolmentRow.id == latest.c.enrolment_id)
        .subquery("person_area")
    )


class FundRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # the ledger, grouped

    def monthly_moves(self, since: dt.date, area: str | None = None) -> list[FundMove]:
        """One statement (one snapshot): the funds' postings dated ``since`` or later, summed
        by fund, area, year, month and part, and the funds' stored balances now. Grouped in
        the database; only the sums come back."""
        people = _person_areas()
        area_of: ColumnElement[Any] = func.coalesce(AccountRow.pooling_area, people.c.pooling_area)
        funds = AccountRow.kind.in_(FUND_NAMES)
        where_area = [area_of == area] if area is not None else []
        t = LedgerTransactionRow
        part = case(
            (t.kind.in_(REVERSAL_KINDS), literal(REVERSAL)),
            (t.kind.in_(TRANSFER_KINDS), literal(TRANSFER)),
            (PostingRow.amount < 0, literal(CREDIT)),
            else_=literal(DEBIT),
        )
        year = extract("year", t.occurred_on)
        month = extract("month", t.occurred_on)
        moves = (
            select(
                AccountRow.kind.label("fund"),
                area_of.label("area"),
                year.label("year"),
                month.label("month"),
                part.label("part"),
                func.sum(PostingRow.amount).label("amount"),
            )
            .select_from(PostingRow)
            .join(t, t.id == PostingRow.transaction_id)
            .join(AccountRow, AccountRow.id == PostingRow.account_id)
            .outerjoin(people, people.c.person_id == AccountRow.person_id)
            .where(funds, t.occurred_on >= since, *where_area)
            .group_by(AccountRow.kind, area_of, year, month, part)
        )
        balances = (
            select(
                AccountRow.kind.label("fund"),
                area_of.label("area"),
                literal(0).label("year"),
                literal(0).label("month"),
                literal(BALANCE).label("part"),
                func.sum(AccountRow.balance).label("amount"),
            )
            .select_from(AccountRow)
            .outerjoin(people, people.c.person_id == AccountRow.person_id)
            .where(funds, *where_area)
            .group_by(AccountRow.kind, area_of)
        )
        rows = self.session.execute(union_all(moves, balances)).all()
        return [
            FundMove(AccountKind(f), a, int(y), int(m), str(p), int(amount))
            for f, a, y, m, p, amount in rows
        ]

    # budgets

    def save_budgets(self, budgets: Sequence[Budget]) -> None:
        """Insert or replace the budgets (one row per year, area and fund)."""
        for b in budgets:
            values = {
                "year": b.year,
                "pooling_area": b.area,
                "fund": b.fund.value,
                "income": b.income,
                "expenditure": b.expenditure,
            }
            stmt = dialect_insert(self.session, FundBudgetRow).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["year", "pooling_area", "fund"],
                set_={
                    "income": b.income,
                    "expenditure": b.expenditure,
                    "updated_at": func.now(),
                },
            )
            self.session.execute(stmt)

    def budgets(self, year: int, area: str | None = None) -> list[Budget]:
        stmt = (
            select(FundBudgetRow)
            .where(FundBudgetRow.year == year)
            .order_by(FundBudgetRow.pooling_area, FundBudgetRow.fund)
        )
        if area is not None:
            stmt = stmt.where(FundBudgetRow.pooling_area == area)
        return [
            Budget(r.year, r.pooling_area, fund_of(r.fund), int(r.income), int(r.expenditure))
            for r in self.session.scalars(stmt)
        ]

    # warnings

    def replace_warnings(
        self,
        year: int,
        months: Iterable[int],
        area: str | None,
        rows: Sequence[StoredWarning],
    ) -> None:
        """The warnings of ``months`` of ``year`` (of ``area``, or every area) become ``rows``:
        the old ones are deleted and these inserted, in the caller's transaction."""
        scope = [FundWarningRow.year == year, FundWarningRow.month.in_(sorted(set(months)))]
        if area is not None:
            scope.append(FundWarningRow.pooling_area == area)
        self.session.execute(delete(FundWarningRow).where(and_(*scope)))
        for w in rows:
            self.session.add(
                FundWarningRow(
                    year=w.year,
                    month=w.month,
                    pooling_area=w.area,
                    fund=w.fund.value,
                    risk=w.risk,
                    evidence=w.evidence,
                )
            )
        self.session.flush()

    def warnings(self, year: int, area: str | None = None) -> list[StoredWarning]:
        stmt = (
            select(FundWarningRow)
            .where(FundWarningRow.year == year)
            .order_by(
                FundWarningRow.month,
                FundWarningRow.pooling_area,
                FundWarningRow.fund,
                FundWarningRow.risk,
            )
        )
        if area is not None:
            stmt = stmt.where(FundWarningRow.pooling_area == area)
        return [
            StoredWarning(
                r.year,
                r.month,
                r.pooling_area,
                fund_of(r.fund),
                r.risk,
                dict(r.evidence),
                r.evaluated_at,
            )
            for r in self.session.scalars(stmt)
        ]
