"""Operation analysis of the funds (基金运行分析) from the ledger: month by month, each fund's
income, expenditure, balance and reserve months, per area; growth against the same months of
last year; the year-end balance projected from the months so far.

The ledger keeps each fund's postings summed by area, month and part as it posts
(``fund_month_totals``, ``domain.funds.month_moves``); the analysis reads those few rows in one
query (``FundRepository.month_totals``) and builds the figures from them, never from single
postings. ``FundRepository.recount`` computes the same sums from the postings (a check).

How a posting counts (every fund is credit-normal): a credit is income, a debit expenditure, a
posting of a ``settlement_reversal`` reduces expenditure, and an ``opening_balance`` moves the
balance only. A month's closing balance is the sum of everything posted to the end of it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from yibao.domain.funds import CREDIT, DEBIT, FUNDS, REVERSAL, check_year
from yibao.domain.ledger import AccountKind
from yibao.domain.registry import check_area
from yibao.policy import fen_to_yuan
from yibao.rules import fund_risks, funds
from yibao.rules.fund_risks import Projection
from yibao.store.repositories.funds import FundMove, FundRepository
from yibao.store.uow import UnitOfWork

YearMonth = tuple[int, int]


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One month of one fund (fen; balance on the fund's normal side, positive when it holds
    money)."""

    month: int
    income: int
    expenditure: int
    balance: int  # at the end of the month
    income_to_date: int
    expenditure_to_date: int
    income_last_year: int  # the same month of last year
    expenditure_last_year: int
    annual_expenditure: int  # what the reserve is measured against
    reserve_months: Decimal | None  # None: nothing spent to measure against

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "income": fen_to_yuan(self.income),
            "expenditure": fen_to_yuan(self.expenditure),
            "balance": fen_to_yuan(self.balance),
            "income_to_date": fen_to_yuan(self.income_to_date),
            "expenditure_to_date": fen_to_yuan(self.expenditure_to_date),
            "income_last_year": fen_to_yuan(self.income_last_year),
            "expenditure_last_year": fen_to_yuan(self.expenditure_last_year),
            "annual_expenditure": fen_to_yuan(self.annual_expenditure),
            "reserve_months": None if self.reserve_months is None else str(self.reserve_months),
        }


@dataclass(frozen=True, slots=True)
class FundLine:
    """One fund of one area over the months of the year so far."""

    fund: AccountKind
    area: str | None  # None: personal accounts of persons never enrolled
    opening_balance: int  # at 1 January
    months: list[MonthFigures]
    income_to_date_last_year: int  # last year's same months
    expenditure_to_date_last_year: int
    projection: Projection | None  # None: no month of the year yet

    @property
    def income_growth(self) -> Decimal | None:
        if not self.months:
            return None
        return fund_risks.growth_percent(
            self.months[-1].income_to_date, self.income_to_date_last_year
        )

    @property
    def expenditure_growth(self) -> Decimal | None:
        if not self.months:
            return None
        return fund_risks.growth_percent(
            self.months[-1].expenditure_to_date, self.expenditure_to_date_last_year
        )

    def as_dict(self) -> dict[str, Any]:
        def pct(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "fund": self.fund.value,
            "area": self.area,
            "opening_balance": fen_to_yuan(self.opening_balance),
            "months": [m.as_dict() for m in self.months],
            "income_to_date_last_year": fen_to_yuan(self.income_to_date_last_year),
            "expenditure_to_date_last_year": fen_to_yuan(self.expenditure_to_date_last_year),
            "income_growth_pct": pct(self.income_growth),
            "expenditure_growth_pct": pct(self.expenditure_growth),
            "spending_outgrows_income": self.spending_outgrows_income,
            "projection": None
            if self.projection is None
            else {
                "year_end_balance": fen_to_yuan(self.projection.balance),
                "method": self.projection.method,
            },
        }

    @property
    def spending_outgrows_income(self) -> bool:
        if not self.months:
            return False
        last = self.months[-1]
        return fund_risks.spending_outgrows_income(
            last.income_to_date,
            self.income_to_date_last_year,
            last.expenditure_to_date,
            self.expenditure_to_date_last_year,
        )


@dataclass
class Analysis:
    year: int
    area: str | None
    through: int  # the last month of the year with postings (0: none yet)
    lines: list[FundLine] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "area": self.area,
            "through_month": self.through,
            "projection_methods": PROJECTION_NOTE,
            "funds": [line.as_dict() for line in self.lines],
        }


PROJECTION_NOTE = (
    "seasonal: the rest of the year follows last year's months (income and expenditure to "
    "date scaled by last year's rest over last year's same months); scaled: the months so far "
    "repeat; actual: the year is complete"
)


@dataclass
class _Sums:
    income: dict[YearMonth, int] = field(default_factory=lambda: defaultdict(int))
    expenditure: dict[YearMonth, int] = field(default_factory=lambda: defaultdict(int))
    moved: dict[YearMonth, int] = field(default_factory=lambda: defaultdict(int))  # natural


def _sums(moves: list[FundMove]) -> dict[tuple[AccountKind, str | None], _Sums]:
    out: dict[tuple[AccountKind, str | None], _Sums] = defaultdict(_Sums)
    for m in moves:
        s = out[(m.fund, m.area)]
        ym = (m.year, m.month)
        s.moved[ym] += -m.amount
        if m.part == CREDIT:
            s.income[ym] += -m.amount
        elif m.part in (DEBIT, REVERSAL):
            s.expenditure[ym] += m.amount
    return out


def _window(year: int, month: int) -> list[YearMonth]:
    """The twelve months ending with ``month`` of ``year``."""
    return [(year - 1, m) for m in range(month + 1, 13)] + [(year, m) for m in range(1, month + 1)]


def _line(
    fund: AccountKind, area: str | None, s: _Sums, year: int, through: int, first: YearMonth
) -> FundLine:
    balance = sum(v for ym, v in s.moved.items() if ym < (year, 1))  # at 1 January
    opening = balance
    months: list[MonthFigures] = []
    inc_td = exp_td = 0
    for m in range(1, through + 1):
        ym = (year, m)
        balance += s.moved.get(ym, 0)
        inc_td += s.income.get(ym, 0)
        exp_td += s.expenditure.get(ym, 0)
        window = [w for w in _window(year, m) if w >= first]
        annual = fund_risks.annual_expenditure(
            sum(s.expenditure.get(w, 0) for w in window), len(window)
        )
        months.append(
            MonthFigures(
                month=m,
                income=s.income.get(ym, 0),
                expenditure=s.expenditure.get(ym, 0),
                balance=balance,
                income_to_date=inc_td,
                expenditure_to_date=exp_td,
                income_last_year=s.income.get((year - 1, m), 0),
                expenditure_last_year=s.expenditure.get((year - 1, m), 0),
                annual_expenditure=annual,
                reserve_months=funds.reserve_months(balance, annual) if annual > 0 else None,
            )
        )
    last_inc = sum(s.income.get((year - 1, m), 0) for m in range(1, through + 1))
    last_exp = sum(s.expenditure.get((year - 1, m), 0) for m in range(1, through + 1))
    projection = None
    if months:
        shape = None
        if first <= (year - 1, 1):  # last year is complete on the ledger
            rest_inc = sum(s.income.get((year - 1, m), 0) for m in range(through + 1, 13))
            rest_exp = sum(s.expenditure.get((year - 1, m), 0) for m in range(through + 1, 13))
            shape = (last_inc, rest_inc, last_exp, rest_exp)
        now = months[-1]
        projection = fund_risks.project_year_end(
            now.balance, through, now.income_to_date, now.expenditure_to_date, shape
        )
    return FundLine(fund, area, opening, months, last_inc, last_exp, projection)


def analyse(uow: UnitOfWork, year: int, area: str | None = None) -> Analysis:
    """The operation analysis of ``year`` (of one pooling area, or of every area): one line per
    fund and area with the months of the year so far."""
    check_year(year)
    if area is not None:
        check_area(area, "area")
    with uow:
        moves = FundRepository(uow.session).month_totals(area)
    dated = [(m.year, m.month) for m in moves]
    in_year = [mo for y, mo in dated if y == year]
    through = 12 if any(y > year for y, _ in dated) else max(in_year, default=0)
    first = min(dated, default=(year, 1))
    order = {f: i for i, f in enumerate(FUNDS)}
    lines = [
        _line(fund, line_area, s, year, through, first)
        for (fund, line_area), s in sorted(
            _sums(moves).items(), key=lambda kv: (kv[0][1] or "", order[kv[0][0]])
        )
    ]
    return Analysis(year, area, through, lines)
