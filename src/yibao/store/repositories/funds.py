"""The funds repository: the funds' month totals (kept as the ledger posts, read by the
operation analysis, recounted from the postings to check them), the yearly budgets and the
stored risk warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    case,
    delete,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session, aliased

from yibao.domain.funds import (
    CREDIT,
    DEBIT,
    FUND_NAMES,
    REVERSAL,
    REVERSAL_KINDS,
    TRANSFER,
    TRANSFER_KINDS,
    Budget,
    MonthKey,
    fund_of,
)
from yibao.domain.ledger import AccountKind
from yibao.store.models import (
    AccountRow,
    FundBudgetRow,
    FundMonthTotalRow,
    FundWarningRow,
    LedgerTransactionRow,
    PostingRow,
)
from yibao.store.sql import dialect_insert, driver_of

_TOTALS = cast(Table, FundMonthTotalRow.__table__)
_PROVINCIAL = [k.value for k in AccountKind if k.provincial]


@dataclass(frozen=True, slots=True)
class FundMove:
    """A fund's postings of one month and part, summed (signed: debit > 0)."""

    fund: AccountKind
    area: str | None  # None: a personal account posted without any area
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


def add_month_totals(bind: Session | Connection, moves: Mapping[MonthKey, int]) -> None:
    """Add ``moves`` to the funds' month totals: upserted in key order (one lock order: the
    busy rows of concurrent units never wait on each other in a cycle); on PostgreSQL in one
    statement, elsewhere one executemany."""
    rows = month_rows(moves)
    if not rows:
        return
    connection = bind.connection() if isinstance(bind, Session) else bind
    if connection.dialect.name == "postgresql":  # one statement, rows taken in the given order
        params = {c: [r[c] for r in rows] for c in rows[0]}  # one array a column
        with driver_of(connection, _UPSERT_PG) as driver, driver.cursor() as cursor:
            cursor.execute(_UPSERT_PG, params)
        return
    connection.execute(_month_totals_upsert(connection.dialect.name), rows)


def month_rows(moves: Mapping[MonthKey, int]) -> list[dict[str, Any]]:
    """The rows ``add_month_totals`` upserts, in key order (the order of their locks)."""
    return [
        {"fund": f, "pooling_area": a, "year": y, "month": m, "part": p, "amount": amount}
        for (f, a, y, m, p), amount in sorted(moves.items())
        if amount
    ]


#: ``add_month_totals`` on PostgreSQL (on the psycopg connection): the keys are distinct
_UPSERT_PG = (
    "INSERT INTO fund_month_totals (fund, pooling_area, year, month, part, amount)"
    " SELECT f, a, y, m, p, n FROM unnest(CAST(%(fund)s AS VARCHAR[]),"
    " CAST(%(pooling_area)s AS VARCHAR[]), CAST(%(year)s AS INTEGER[]),"
    " CAST(%(month)s AS INTEGER[]), CAST(%(part)s AS VARCHAR[]), CAST(%(amount)s AS BIGINT[]))"
    " WITH ORDINALITY AS k(f, a, y, m, p, n, i) ORDER BY i"
    " ON CONFLICT (fund, pooling_area, year, month, part)"
    " DO UPDATE SET amount = fund_month_totals.amount + EXCLUDED.amount"
)


@cache
def _month_totals_upsert(dialect: str) -> Any:
    """The month totals' upsert for ``dialect``, built once (``add_month_totals`` runs at every
    COMMIT of a posting unit: building it and its cache key anew cost about what running it
    costs)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    new = insert(_TOTALS)
    return new.on_conflict_do_update(
        index_elements=["fund", "pooling_area", "year", "month", "part"],
        set_={"amount": _TOTALS.c.amount + new.excluded.amount},
    )


def _moves(rows: Iterable[Any]) -> list[FundMove]:
    return [
        FundMove(AccountKind(f), a or None, int(y), int(m), str(p), int(amount))
        for f, a, y, m, p, amount in rows
        if amount
    ]


class FundRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # the ledger, by month

    def month_totals(self, area: str | None = None) -> list[FundMove]:
        """The funds' month totals (of one area, or every area), every year: a few rows per
        fund and month, read as they are kept."""
        t = FundMonthTotalRow
        stmt = select(t.fund, t.pooling_area, t.year, t.month, t.part, t.amount)
        if area is not None:
            stmt = stmt.where(t.pooling_area == area)
        return _moves(self.session.execute(stmt))

    def recount(self, area: str | None = None) -> list[FundMove]:
        """The same totals computed from the postings themselves, in one grouped query (every
        posting joined to its transaction and account): what ``month_totals`` must equal."""
        t, p, a = LedgerTransactionRow, PostingRow, AccountRow
        sibling, other = aliased(PostingRow), aliased(AccountRow)
        txn_area = (
            select(sibling.transaction_id, func.min(other.pooling_area).label("area"))
            .join(other, other.id == sibling.account_id)
            .where(other.pooling_area.is_not(None), other.kind.not_in(_PROVINCIAL))
            .group_by(sibling.transaction_id)
            .subquery()
        )
        area_of = func.coalesce(a.pooling_area, t.pooling_area, txn_area.c.area, literal(""))
        part = case(
            (t.kind.in_(REVERSAL_KINDS), literal(REVERSAL)),
            (t.kind.in_(TRANSFER_KINDS), literal(TRANSFER)),
            (p.amount < 0, literal(CREDIT)),
            else_=literal(DEBIT),
        )
        year, month = extract("year", t.occurred_on), extract("month", t.occurred_on)
        stmt = (
            select(a.kind, area_of, year, month, part, func.sum(p.amount))
            .select_from(p)
            .join(t, t.id == p.transaction_id)
            .join(a, a.id == p.account_id)
            .outerjoin(
                txn_area,
                and_(txn_area.c.transaction_id == p.transaction_id, a.pooling_area.is_(None)),
            )
            .where(a.kind.in_(FUND_NAMES))
            .group_by(a.kind, area_of, year, month, part)
        )
        if area is not None:
            stmt = stmt.having(area_of == area)
        return _moves(self.session.execute(stmt))

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
