"""Fund budgets (基金预算): entered one by one or imported from a CSV file, and compared with
the ledger's actuals month by month.

A budget is a year's income and expenditure of one fund in one pooling area. The comparison
takes, for each month of the year so far, the budget to date (the year's line × months ÷ 12,
half up: an even spread, the assumption while no monthly plan is kept), the actual to date from
the operation analysis, the difference and the execution (actual to date ÷ the year's line).

The CSV layout (UTF-8, a header line, one budget a line)::

    year,area,fund,income,expenditure
    2025,360100,resident_pooling,1200000000.00,1150000000.00

``fund`` is one of ``domain.funds.FUND_NAMES``; amounts are yuan with at most two decimals.
A file with any bad line stores nothing; the refusal names every bad line and field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from yibao.domain.errors import InvalidField, RecordError
from yibao.domain.funds import Budget, check_year, fund_of
from yibao.domain.ledger import AccountKind
from yibao.domain.registry import check_area
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, parse_fund_yuan, parse_int
from yibao.policy.money import round_fen as half_up
from yibao.services.fund_analysis import analyse
from yibao.store.repositories.funds import FundRepository
from yibao.store.uow import UnitOfWork

COLUMNS = ("year", "area", "fund", "income", "expenditure")
MAX_LINES = 10_000
MAX_ERRORS = 20


class BudgetFileRefused(RecordError):
    """A budget file with bad lines: each ``line N, field: reason``; nothing was stored."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:MAX_ERRORS])
        more = len(self.problems) - MAX_ERRORS
        super().__init__(
            f"budget file refused: {shown}" + (f"; and {more} more" if more > 0 else "")
        )


def budget(year: int, area: str, fund: str, income: object, expenditure: object) -> Budget:
    """A budget from given values (amounts in yuan), each checked and named when bad."""
    try:
        return Budget(
            check_year(year),
            check_area(area, "area"),
            fund_of(fund),
            parse_fund_yuan(income, "income"),
            parse_fund_yuan(expenditure, "expenditure"),
        )
    except AmountError as exc:
        raise InvalidField(exc.field, exc.reason) from None


def set_budget(uow: UnitOfWork, b: Budget) -> Budget:
    """Store (or replace) one budget."""
    with uow:
        FundRepository(uow.session).save_budgets([b])
        uow.commit()
    return b


def read_budget_file(text: str) -> list[Budget]:
    """The budgets of a CSV text in the documented layout; every bad line refused by line
    number and field (``BudgetFileRefused``)."""
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise BudgetFileRefused([f"line {reader.line_num}: {exc}"]) from None
    if not rows or [c.strip() for c in rows[0]] != list(COLUMNS):
        raise BudgetFileRefused([f"line 1: the header must be {','.join(COLUMNS)}"])
    if len(rows) - 1 > MAX_LINES:
        raise BudgetFileRefused([f"more than {MAX_LINES} budget lines"])
    out: list[Budget] = []
    seen: dict[tuple[int, str, AccountKind], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            problems.append(f"line {number}: {len(row)} fields, expected {len(COLUMNS)}")
            continue
        cells = dict(zip(COLUMNS, (c.strip() for c in row), strict=True))
        try:
            year = parse_int(cells["year"], "year")
            b = budget(year, cells["area"], cells["fund"], cells["income"], cells["expenditure"])
        except (InvalidField, AmountError) as exc:
            problems.append(f"line {number}, {exc.field}: {exc.reason}")
            continue
        key = (b.year, b.area, b.fund)
        if key in seen:
            problems.append(
                f"line {number}, fund: {b.fund.value} of {b.area} for {b.year} is already on "
                f"line {seen[key]}"
            )
            continue
        seen[key] = number
        out.append(b)
    if problems:
        raise BudgetFileRefused(problems)
    return out


def import_budgets(uow: UnitOfWork, text: str) -> list[Budget]:
    """Store every budget of a CSV text (all or nothing)."""
    budgets = read_budget_file(text)
    with uow:
        FundRepository(uow.session).save_budgets(budgets)
        uow.commit()
    return budgets


@dataclass(frozen=True, slots=True)
class BudgetMonth:
    month: int
    income_budget: int  # to date
    income_actual: int  # to date
    expenditure_budget: int
    expenditure_actual: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "income_budget_to_date": fen_to_yuan(self.income_budget),
            "income_actual_to_date": fen_to_yuan(self.income_actual),
            "income_difference": fen_to_yuan(self.income_actual - self.income_budget),
            "expenditure_budget_to_date": fen_to_yuan(self.expenditure_budget),
            "expenditure_actual_to_date": fen_to_yuan(self.expenditure_actual),
            "expenditure_difference": fen_to_yuan(
                self.expenditure_actual - self.expenditure_budget
            ),
        }


@dataclass(frozen=True, slots=True)
class BudgetComparison:
    budget: Budget
    months: list[BudgetMonth]

    def as_dict(self) -> dict[str, Any]:
        b = self.budget
        last = self.months[-1] if self.months else None
        return {
            "year": b.year,
            "area": b.area,
            "fund": b.fund.value,
            "income": fen_to_yuan(b.income),
            "expenditure": fen_to_yuan(b.expenditure),
            "income_execution_pct": _pct(last.income_actual if last else 0, b.income),
            "expenditure_execution_pct": _pct(
                last.expenditure_actual if last else 0, b.expenditure
            ),
            "months": [m.as_dict() for m in self.months],
        }


def _pct(actual: int, planned: int) -> str | None:
    if planned <= 0:
        return None
    exact = Decimal(actual * 100) / Decimal(planned)
    return str(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def to_date(annual: int, months: int) -> int:
    """A year's budget line spread evenly to the end of ``months``, half up."""
    return half_up(Decimal(annual) * months / 12)


def compare(uow: UnitOfWork, year: int, area: str | None = None) -> list[BudgetComparison]:
    """Each budget of ``year`` (of ``area``, or of every area) against the ledger's actuals,
    month by month through the last month with postings."""
    check_year(year)
    if area is not None:
        check_area(area, "area")
    with uow:
        budgets = FundRepository(uow.session).budgets(year, area)
    if not budgets:
        return []
    analysis = analyse(uow, year, area)
    lines = {(line.fund, line.area): line for line in analysis.lines}
    out = []
    for b in budgets:
        line = lines.get((b.fund, b.area))
        months = []
        for m in range(1, analysis.through + 1):
            figures = line.months[m - 1] if line is not None else None
            months.append(
                BudgetMonth(
                    m,
                    to_date(b.income, m),
                    figures.income_to_date if figures else 0,
                    to_date(b.expenditure, m),
                    figures.expenditure_to_date if figures else 0,
                )
            )
        out.append(BudgetComparison(b, months))
    return out
