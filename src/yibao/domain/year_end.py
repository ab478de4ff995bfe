"""The year-end rules of coverage years (年终结算 of the registry), by name.

The store's set-based year close (``store.repositories.year_close``) builds its SQL from these
sets and mirrors these functions; the row-at-a-time paths (``CoverageRepository.mark_insured``)
call the functions. A change of rule is made here, once.
"""

from __future__ import annotations

import datetime as dt

from yibao.domain.enrolment import CoverageStatus, CoverageYear, EnrolmentKind, Scheme, Status
from yibao.domain.settlement import SettlementStatus

#: Enrolment kinds whose year is insured without a contribution: retirees pay nothing.
INSURED_WITHOUT_PAYING = frozenset({EnrolmentKind.RETIREE})

#: Enrolment statuses under which such a year is not insured (a suspended enrolment).
NOT_COVERING = frozenset({Status.SUSPENDED})

#: The status of a settlement in force: only its fund payments count for the year.
IN_FORCE = SettlementStatus.SETTLED


def unpaid_year_status(kind: EnrolmentKind, status: Status) -> CoverageStatus:
    """The status of a year that has no coverage row at its close, from the person's latest
    enrolment overlapping the year: insured for a kind that pays nothing (a retiree) unless the
    enrolment is suspended; lapsed otherwise."""
    if kind in INSURED_WITHOUT_PAYING and status not in NOT_COVERING:
        return CoverageStatus.INSURED
    return CoverageStatus.LAPSED


def continuous_years(insured: bool, previous: int | None) -> int:
    """Consecutive insured years ending with this one: 1 + last year's count when last year was
    insured (``previous``; None when it was not, or has no row), 0 for a year not insured."""
    if not insured:
        return 0
    return 1 + (previous or 0)


def zero_claim(insured: bool, fund_paid: int, paid_by_settlement: bool) -> bool:
    """A zero-claim year (无报销年度): insured, nothing recorded as paid by the funds outside the
    settlements (``fund_paid`` = 0) and no settlement in force in which the funds paid anything."""
    return insured and fund_paid == 0 and not paid_by_settlement


def insured_year(
    person_id: int,
    year: int,
    scheme: Scheme,
    area: str,
    paid_on: dt.date,
    previous: CoverageYear | None,
) -> CoverageYear:
    """The coverage row of a year paid for: insured, continuing the run of ``previous`` (the
    row of the year before, if any) when that year was insured (``continuous_years``)."""
    last = (
        previous.continuous_years
        if previous is not None
        and previous.year == year - 1
        and previous.status is CoverageStatus.INSURED
        else None
    )
    return CoverageYear(
        person_id=person_id,
        year=year,
        status=CoverageStatus.INSURED,
        scheme=scheme,
        pooling_area=area,
        paid_on=paid_on,
        continuous_years=continuous_years(True, last),
    )
