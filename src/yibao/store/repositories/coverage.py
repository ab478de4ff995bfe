"""The coverage-year repository: one row per person and calendar year (insured or lapsed),
what the waiting-period and incentive rules read. The year close is in ``year_close``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from yibao.domain.enrolment import CoverageStatus, CoverageYear, Scheme
from yibao.domain.errors import NotFound
from yibao.domain.year_end import IN_FORCE, insured_year
from yibao.store.models import CoverageYearRow, SettlementRow
from yibao.store.repositories.year_close import YearCloseCounts, close_year
from yibao.store.sql import BulkRead, grouped

_COVERAGE = cast(Table, CoverageYearRow.__table__)
_SETTLEMENTS = cast(Table, SettlementRow.__table__)
_COVERAGE_HISTORY = (
    select(CoverageYearRow)
    .where(CoverageYearRow.person_id == bindparam("p_person"))
    .order_by(CoverageYearRow.year)
)
#: A year after every settlement (``CoverageRepository.histories`` without a limit).
NO_YEAR = 10_000
# Each coverage year with, before a year, what the funds paid by the settlements in force (the
# status filtered in the sum, not the WHERE: the (person, year) index alone finds the rows,
# whatever the planner thinks of the partial index on settled rows).
HISTORIES = BulkRead(
    lambda in_: (
        select(
            _COVERAGE,
            case(
                (
                    _COVERAGE.c.year < bindparam("before"),
                    select(
                        func.sum(
                            case(
                                (
                                    _SETTLEMENTS.c.status == IN_FORCE.value,
                                    _SETTLEMENTS.c.fund_pay_sumamt,
                                ),
                                else_=0,
                            )
                        )
                    )
                    .where(
                        _SETTLEMENTS.c.person_id == _COVERAGE.c.person_id,
                        _SETTLEMENTS.c.year == _COVERAGE.c.year,
                    )
                    .scalar_subquery(),
                ),
                else_=None,
            ).label("settled_fund_paid"),
        )
        .where(in_(_COVERAGE.c.person_id, "persons"))
        .order_by(_COVERAGE.c.year)
    )
)


def _coverage(row: CoverageYearRow | Row[Any]) -> CoverageYear:
    return CoverageYear(
        person_id=row.person_id,
        year=row.year,
        status=CoverageStatus(row.status),
        scheme=Scheme(row.scheme) if row.scheme else None,
        pooling_area=row.pooling_area,
        paid_on=row.paid_on,
        repaired=bool(row.repaired),
        fund_paid=row.fund_paid,
        continuous_years=row.continuous_years,
        zero_claim=bool(row.zero_claim),
        closed=bool(row.closed),
    )


def histories_of(
    rows: Sequence[Any],
) -> tuple[dict[int, list[CoverageYear]], dict[int, dict[int, int]]]:
    """The rows of ``HISTORIES``: {person id: coverage years}, {person id: {year: what the
    settlements in force paid}}."""
    paid: dict[int, dict[int, int]] = {}
    for r in rows:
        if r.settled_fund_paid is not None:
            paid.setdefault(r.person_id, {})[r.year] = int(r.settled_fund_paid)
    return grouped((r.person_id, _coverage(r)) for r in rows), paid


class CoverageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, person_id: int, year: int) -> CoverageYear | None:
        row = self.session.get(CoverageYearRow, (person_id, year))
        return _coverage(row) if row is not None else None

    def history(self, person_id: int) -> list[CoverageYear]:
        rows = self.session.scalars(_COVERAGE_HISTORY, {"p_person": person_id})
        return [_coverage(r) for r in rows]

    def histories(
        self, person_ids: Sequence[int], before: int | None = None
    ) -> tuple[dict[int, list[CoverageYear]], dict[int, dict[int, int]]]:
        """Each person's coverage years (as ``history``), and what the funds paid in each of
        them before ``before`` (every year without it) by the settlements in force, beyond the
        coverage year's own ``fund_paid`` (by an earlier system): one query."""
        return histories_of(
            HISTORIES.rows(
                self.session, persons=list(person_ids), before=NO_YEAR if before is None else before
            )
        )

    def mark_insured(
        self, person_id: int, year: int, scheme: Scheme, area: str, paid_on: dt.date
    ) -> CoverageYear:
        """The year paid for becomes insured (``domain.year_end.insured_year``); a year already
        insured is left as it is."""
        row = self.session.get(CoverageYearRow, (person_id, year))
        if row is not None and row.status == CoverageStatus.INSURED:
            return _coverage(row)
        last = self.session.get(CoverageYearRow, (person_id, year - 1))
        made = insured_year(
            person_id, year, scheme, area, paid_on, _coverage(last) if last else None
        )
        if row is None:
            row = CoverageYearRow(
                person_id=person_id,
                year=year,
                repaired=False,
                fund_paid=0,
                zero_claim=False,
                closed=False,
            )
            self.session.add(row)
        row.status = made.status.value
        row.scheme = scheme.value
        row.pooling_area = made.pooling_area
        row.paid_on = made.paid_on
        row.continuous_years = made.continuous_years
        self.session.flush()
        return _coverage(row)

    def mark_repaired(self, person_id: int, year: int, area: str, scheme: Scheme) -> CoverageYear:
        row = self.session.get(CoverageYearRow, (person_id, year))
        if row is None:
            row = CoverageYearRow(
                person_id=person_id,
                year=year,
                status=CoverageStatus.LAPSED.value,
                scheme=scheme.value,
                pooling_area=area,
                repaired=True,
                fund_paid=0,
                continuous_years=0,
                zero_claim=False,
                closed=False,
            )
            self.session.add(row)
        else:
            row.repaired = True
        self.session.flush()
        return _coverage(row)

    def add_fund_paid(self, person_id: int, year: int, fen: int) -> None:
        """The settlement service adds what the funds paid for the person in the year."""
        table = cast(Table, CoverageYearRow.__table__)
        result = self.session.execute(
            update(table)
            .where(table.c.person_id == person_id, table.c.year == year)
            .values(fund_paid=table.c.fund_paid + fen)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("coverage year", f"{person_id}/{year}")

    def close_year(self, year: int) -> YearCloseCounts:
        """Set-based year-end: lapses, continuous years, zero-claim flags; idempotent
        (``year_close.close_year``)."""
        return close_year(self.session, year)
