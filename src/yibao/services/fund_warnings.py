"""Risk warnings of the funds (基金风险预警), evaluated month by month from the operation
analysis and stored with the figures that raised them.

For every pooled reserve fund (``domain.funds.RESERVE_FUNDS``) of an area and every month of the
year so far:

- reserve months (back-office.md §2, ``rules.funds.warning_level``): ``reserve_critical``,
  ``reserve_low`` or ``reserve_surplus``;
- ``deficit``: expenditure above income over the year to the end of the month
  (``rules.fund_risks.deficit``);
- ``spending_growth``: expenditure to date grew faster than income to date against the same
  months of last year (``rules.fund_risks.spending_outgrows_income``).

Evaluating a year again replaces that year's stored warnings (of the area, or of every area):
one row per month, area, fund and risk, never a duplicate.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.domain.funds import RESERVE_FUNDS, check_year
from yibao.domain.registry import check_area
from yibao.policy import fen_to_yuan
from yibao.policy.vocab import FundRisk, FundWarning
from yibao.rules import fund_risks, funds
from yibao.services import clock
from yibao.services.common import PolicySource, policy_for
from yibao.services.fund_analysis import Analysis, MonthFigures, analyse
from yibao.store.repositories.funds import FundRepository, StoredWarning
from yibao.store.uow import UnitOfWork

_RESERVE_RISK = {
    FundWarning.CRITICAL: FundRisk.RESERVE_CRITICAL,
    FundWarning.LOW: FundRisk.RESERVE_LOW,
    FundWarning.SURPLUS: FundRisk.RESERVE_SURPLUS,
}


@dataclass(frozen=True, slots=True)
class Evaluation:
    year: int
    area: str | None
    through: int
    warnings: list[StoredWarning]

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "area": self.area,
            "through_month": self.through,
            "warnings": [warning_dict(w) for w in self.warnings],
        }


def warning_dict(w: StoredWarning) -> dict[str, Any]:
    return {
        "year": w.year,
        "month": w.month,
        "area": w.area,
        "fund": w.fund.value,
        "risk": w.risk,
        "evidence": w.evidence,
    }


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _month_warnings(
    m: MonthFigures, last_inc: int, last_exp: int, thresholds: funds.WarningThresholds
) -> list[tuple[FundRisk, dict[str, Any]]]:
    out: list[tuple[FundRisk, dict[str, Any]]] = []
    if m.reserve_months is not None:
        level = funds.warning_level(m.reserve_months, thresholds)
        if level in _RESERVE_RISK:
            out.append(
                (
                    _RESERVE_RISK[level],
                    {
                        "balance": fen_to_yuan(m.balance),
                        "annual_expenditure": fen_to_yuan(m.annual_expenditure),
                        "reserve_months": str(m.reserve_months),
                        "thresholds": {
                            "critical": str(thresholds.critical),
                            "low": str(thresholds.low),
                            "high": str(thresholds.high),
                        },
                    },
                )
            )
    if fund_risks.deficit(m.income_to_date, m.expenditure_to_date):
        out.append(
            (
                FundRisk.DEFICIT,
                {
                    "income_to_date": fen_to_yuan(m.income_to_date),
                    "expenditure_to_date": fen_to_yuan(m.expenditure_to_date),
                    "deficit": fen_to_yuan(m.expenditure_to_date - m.income_to_date),
                },
            )
        )
    if fund_risks.spending_outgrows_income(
        m.income_to_date, last_inc, m.expenditure_to_date, last_exp
    ):
        out.append(
            (
                FundRisk.SPENDING_GROWTH,
                {
                    "income_to_date": fen_to_yuan(m.income_to_date),
                    "income_same_months_last_year": fen_to_yuan(last_inc),
                    "income_growth_pct": str(fund_risks.growth_percent(m.income_to_date, last_inc)),
                    "expenditure_to_date": fen_to_yuan(m.expenditure_to_date),
                    "expenditure_same_months_last_year": fen_to_yuan(last_exp),
                    "expenditure_growth_pct": str(
                        fund_risks.growth_percent(m.expenditure_to_date, last_exp)
                    ),
                },
            )
        )
    return out


def warnings_of(analysis: Analysis, policies: PolicySource = policy_for) -> list[StoredWarning]:
    """The warnings the analysis raises, month by month (pure: nothing read or stored)."""
    now = clock.now()
    out: list[StoredWarning] = []
    for line in analysis.lines:
        if line.fund not in RESERVE_FUNDS or line.area is None:
            continue
        last_inc = last_exp = 0
        for m in line.months:
            last_inc += m.income_last_year
            last_exp += m.expenditure_last_year
            policy = policies(line.area)
            thresholds = funds.warning_thresholds(policy, _month_end(analysis.year, m.month))
            for risk, evidence in _month_warnings(m, last_inc, last_exp, thresholds):
                out.append(
                    StoredWarning(
                        analysis.year, m.month, line.area, line.fund, risk.value, evidence, now
                    )
                )
    return sorted(out, key=lambda w: (w.month, w.area, w.fund.value, w.risk))


def evaluate(
    uow: UnitOfWork,
    year: int,
    area: str | None = None,
    *,
    policies: PolicySource = policy_for,
) -> Evaluation:
    """Evaluate the warnings of every month of ``year`` so far and store them in place of the
    year's earlier ones (of ``area``, or of every area)."""
    analysis = analyse(uow, year, area)
    found = warnings_of(analysis, policies)
    with uow:
        FundRepository(uow.session).replace_warnings(year, range(1, 13), area, found)
        uow.commit()
    return Evaluation(year, area, analysis.through, found)


def stored(uow: UnitOfWork, year: int, area: str | None = None) -> list[StoredWarning]:
    """The warnings stored for ``year`` (of ``area``, or of every area), by month."""
    check_year(year)
    if area is not None:
        check_area(area, "area")
    with uow:
        return FundRepository(uow.session).warnings(year, area)
