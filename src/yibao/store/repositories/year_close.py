"""The set-based year close of the coverage years: a few statements over the whole year.

The decisions are the named rules of ``yibao.domain.year_end``; each ``_…_sql`` below is the
SQL form of the rule of the same name, built from its sets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from yibao.domain.enrolment import CoverageStatus
from yibao.domain.year_end import IN_FORCE, INSURED_WITHOUT_PAYING, NOT_COVERING
from yibao.store.db import utcnow
from yibao.store.models import CoverageYearRow, EnrolmentRow, SettlementRow, YearCloseRow

_INSURED = CoverageStatus.INSURED.value
_LAPSED = CoverageStatus.LAPSED.value


@dataclass(frozen=True, slots=True)
class YearCloseCounts:
    year: int
    lapses_recorded: int  # lapsed rows added by this run
    retirees_added: int  # insured rows added for active retirees (they pay nothing)
    insured: int
    lapsed: int
    zero_claim: int
    next_year_rows: int
    runs: int


def _unpaid_year_status_sql(kind: Any, status: Any) -> ColumnElement[str]:
    """``year_end.unpaid_year_status`` of an enrolment's ``kind`` and ``status`` columns."""
    return case(
        (
            and_(
                kind.in_(sorted(k.value for k in INSURED_WITHOUT_PAYING)),
                status.not_in(sorted(s.value for s in NOT_COVERING)),
            ),
            _INSURED,
        ),
        else_=_LAPSED,
    )


def _continuous_years_sql(insured: Any, previous: Any) -> ColumnElement[int]:
    """``year_end.continuous_years``; ``previous`` is NULL when last year was not insured."""
    return case((insured, 1 + func.coalesce(previous, 0)), else_=0)


def _zero_claim_sql(insured: Any, fund_paid: Any, paid_by_settlement: Any) -> ColumnElement[bool]:
    """``year_end.zero_claim``."""
    return case((and_(insured, fund_paid == 0, ~paid_by_settlement), True), else_=False)


def _add_missing_rows(s: Session, year: int) -> None:
    """A row for every person with an enrolment overlapping ``year`` and no row for it, its
    status from the latest such enrolment (``year_end.unpaid_year_status``)."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    e2 = aliased(EnrolmentRow)
    latest_overlapping = (
        select(e2.id)
        .where(
            e2.person_id == EnrolmentRow.person_id,
            e2.start_date <= last,
            or_(e2.end_date.is_(None), e2.end_date >= first),
        )
        .order_by(e2.start_date.desc(), e2.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    has_row = (
        select(CoverageYearRow.person_id)
        .where(CoverageYearRow.person_id == EnrolmentRow.person_id, CoverageYearRow.year == year)
        .exists()
    )
    missing = select(
        EnrolmentRow.person_id,
        literal(year, Integer()),
        _unpaid_year_status_sql(EnrolmentRow.kind, EnrolmentRow.status),
        EnrolmentRow.scheme,
        EnrolmentRow.pooling_area,
    ).where(EnrolmentRow.id == latest_overlapping, ~has_row)
    s.execute(
        insert(CoverageYearRow).from_select(
            ["person_id", "year", "status", "scheme", "pooling_area"], missing
        )
    )


def _update_rows(s: Session, year: int, close: bool) -> None:
    """Continuous years of every row of ``year``; with ``close``, its zero-claim flag and
    ``closed`` too."""
    prev = aliased(CoverageYearRow)
    prev_continuous = (
        select(prev.continuous_years)
        .where(
            prev.person_id == CoverageYearRow.person_id,
            prev.year == year - 1,
            prev.status == _INSURED,
        )
        .scalar_subquery()
    )
    insured = CoverageYearRow.status == _INSURED
    values: dict[str, Any] = {"continuous_years": _continuous_years_sql(insured, prev_continuous)}
    if close:
        paid_by_settlement = (
            select(SettlementRow.id)
            .where(
                SettlementRow.person_id == CoverageYearRow.person_id,
                SettlementRow.year == year,
                SettlementRow.status == IN_FORCE.value,
                SettlementRow.fund_pay_sumamt > 0,
            )
            .exists()
        )
        values["zero_claim"] = _zero_claim_sql(
            insured, CoverageYearRow.fund_paid, paid_by_settlement
        )
        values["closed"] = True
    s.execute(update(CoverageYearRow).where(CoverageYearRow.year == year).values(**values))


def close_year(s: Session, year: int) -> YearCloseCounts:
    """Set-based year-end: lapses, continuous years, zero-claim flags; idempotent.

    Adds the missing rows of ``year``, closes its rows, and recomputes the continuous years of
    the rows already present for ``year + 1`` (paid in the collection period)."""

    def rows_of_year(status: CoverageStatus) -> int:
        return int(
            s.scalar(
                select(func.count())
                .select_from(CoverageYearRow)
                .where(CoverageYearRow.year == year, CoverageYearRow.status == status.value)
            )
            or 0
        )

    before = (rows_of_year(CoverageStatus.INSURED), rows_of_year(CoverageStatus.LAPSED))
    _add_missing_rows(s, year)
    added_insured = rows_of_year(CoverageStatus.INSURED) - before[0]
    added_lapsed = rows_of_year(CoverageStatus.LAPSED) - before[1]

    _update_rows(s, year, close=True)
    _update_rows(s, year + 1, close=False)

    counts: dict[str, int] = {
        status: int(n)
        for status, n in s.execute(
            select(CoverageYearRow.status, func.count())
            .where(CoverageYearRow.year == year)
            .group_by(CoverageYearRow.status)
        ).all()
    }
    zero = s.scalar(
        select(func.count())
        .select_from(CoverageYearRow)
        .where(CoverageYearRow.year == year, CoverageYearRow.zero_claim.is_(True))
    )
    next_rows = s.scalar(
        select(func.count()).select_from(CoverageYearRow).where(CoverageYearRow.year == year + 1)
    )
    close_row = s.get(YearCloseRow, year)
    if close_row is None:
        s.add(YearCloseRow(year=year, runs=1))
        runs = 1
    else:
        close_row.runs += 1
        close_row.last_closed_at = utcnow()
        runs = close_row.runs
    s.flush()
    return YearCloseCounts(
        year=year,
        lapses_recorded=added_lapsed,
        retirees_added=added_insured,
        insured=int(counts.get(_INSURED, 0)),
        lapsed=int(counts.get(_LAPSED, 0)),
        zero_claim=int(zero or 0),
        next_year_rows=int(next_rows or 0),
        runs=runs,
    )
