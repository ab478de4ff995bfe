"""What the generator's columns mean for the registry: the conventions a load applies to a
generated person (pure). The rules themselves are the services' (``services.payments``,
``services.enrolment``, ``services.yearend``, ``domain``)."""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import ROUND_HALF_UP, Decimal

from yibao.domain.enrolment import EnrolmentKind, Scheme
from yibao.services import yearend

#: the generator's ``scheme`` column → the enrolment kind (an employee in service is enrolled
#: by an employer)
KIND_OF_SCHEME = {
    "employee": EnrolmentKind.EMPLOYER,
    "flexible": EnrolmentKind.FLEXIBLE,
    "retiree": EnrolmentKind.RETIREE,
    "resident": EnrolmentKind.RESIDENT,
}
PAY_DAY = 20  # monthly contributions and retiree credits are paid on the 20th
COLLECTION_START = (9, 1)  # the resident collection period: 1 September .. 31 December
COLLECTION_DAYS = 122
PERSONS_PER_EMPLOYER = 50
#: ``fund_paid`` of a past insured year that was not a zero-claim year: the generator does not
#: know the amount, and a positive one is what tells the incentive rule the funds paid something
PAST_FUND_PAID = 1


def half_up(numerator: int, denominator: int) -> int:
    """A yearly amount's twelfth (the generator writes annual wages and bases)."""
    return int((Decimal(numerator) / denominator).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def employer_code_of(region: str, psn_no: int, persons: int) -> str:
    """A synthetic employer of about ``PERSONS_PER_EMPLOYER`` persons."""
    employers = max(1, persons // PERSONS_PER_EMPLOYER)
    return f"SYN{region}{(psn_no * 2654435761) % employers:07d}"


def monthly_paid_on(first: dt.date, enrolled_on: dt.date) -> dt.date:
    """A month is paid on the 20th, or on the day of enrolment if later."""
    return max(first.replace(day=PAY_DAY), enrolled_on)


def resident_paid_on(psn_no: int, enrolled_on: dt.date, year: int) -> dt.date:
    """On ``enrolled_on`` for those enrolled from 1 September of the year before, else on a day
    of the collection period drawn from ``psn_no``."""
    start = dt.date(year - 1, *COLLECTION_START)
    if enrolled_on >= start:
        return enrolled_on
    return start + dt.timedelta(days=zlib.crc32(psn_no.to_bytes(8, "little")) % COLLECTION_DAYS)


def aid_from(birth: dt.date, year: int) -> dt.date:
    """An aid class holds from 1 January of the year before (or birth), open-ended, so it is
    in force in the collection period."""
    return max(birth, dt.date(year - 1, 1, 1))


def past_years(
    history: str,
    year: int,
    scheme: str,
    contribution_years: int | None,
    continuous_years: int,
    repaired_years: int,
    zero_claim_years: int,
) -> tuple[list[yearend.PastYear], int]:
    """The generated coverage history as past years (oldest first) and the insured years just
    before the first of them:

    - ``coverage_history`` gives the years Y−10 .. Y−1 (``-``: not born, no row);
    - scheme: employee for retirees and for the last ``contribution_years`` years of those in
      service and flexible workers; resident otherwise;
    - the ``repaired_years`` latest lapsed years are repaired, the ``zero_claim_years`` latest
      insured years are zero-claim years; the funds paid ``PAST_FUND_PAID`` in the other insured
      years (the amount is not generated);
    - a run of insured years reaching Y−1 from the first recorded year continues the person's
      ``continuous_years`` (residents: the spell; employees: their contribution years)."""
    first = year - len(history)
    marks = [(first + j, ch) for j, ch in enumerate(history) if ch in "01"]
    employee_since = (
        -1
        if scheme == "retiree"
        else year - (contribution_years or 0)
        if scheme in ("employee", "flexible")
        else year + 1
    )
    repaired = {y for y, ch in marks if ch == "0"}
    repaired = (
        set(sorted(repaired)[max(len(repaired) - repaired_years, 0) :]) if repaired_years else set()
    )
    insured = [y for y, ch in marks if ch == "1"]
    zero = set(insured[max(len(insured) - zero_claim_years, 0) :]) if zero_claim_years else set()
    years = [
        yearend.PastYear(
            year=y,
            insured=ch == "1",
            scheme=Scheme.EMPLOYEE if y >= employee_since else Scheme.RESIDENT,
            repaired=y in repaired,
            zero_claim=y in zero,
            fund_paid=PAST_FUND_PAID if ch == "1" and y not in zero else 0,
        )
        for y, ch in marks
    ]
    before = 0
    if years and all(y.insured for y in years) and years[-1].year == year - 1:
        before = max(continuous_years - len(years), 0)
    return years, before


def opening_balance(balance: int, credits: int, enrolled_on: dt.date, year: int) -> int:
    """A personal account's balance brought in at 1 January: the generated ``account_balance``
    (opening + the year's credit, after mutual-aid pledges) less the year's credits as posted,
    never negative; none for an account opened during the year."""
    if enrolled_on >= dt.date(year, 1, 1):
        return 0
    return max(balance - credits, 0)
