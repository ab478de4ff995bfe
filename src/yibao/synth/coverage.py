"""Enrolment, coverage history, waiting periods and incentives (rules.md §2, §4, §5).

Every person is insured in the year generated; the columns say since when and on what terms:

- ``enrolled_on``: the day the current spell of coverage began (a resident's payment in the
  collection period before the spell's first year, a newborn's enrolment, an employee's hire).
- ``coverage_history``: ten characters for the ten years before, oldest first: ``1`` insured,
  ``0`` not insured, ``-`` not yet born.
- ``continuous_years``, ``lapsed_years`` (the gap just before this enrolment) and
  ``repaired_years`` (lapsed years paid back).
- ``entitled_from``: the first day benefits are paid when it falls inside the year (a waiting
  period), else null. Claims before it are self-paid in the kernel. A newborn enrolled within
  the newborn window is covered from birth (null); one enrolled later waits the fixed period.

Shares (assumptions, see docs/synthetic-data.md): 6% of residents aged ≥ 1 return after a lapse
of 1, 2, 3 ... years with probability 1/2, 1/4, 1/8 ... (at most 10), 40% of them paying in the
collection period before the year and the rest during it; 25% of returners repay 1..L lapsed
years; 12% of newborns are enrolled after the newborn window; 25% of employees under 25 and 4%
of older ones are hired during the year; 10% of flexible workers enrol for the first time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from yibao.policy.vocab import AidClass, InsuredCategory
from yibao.synth.config import Area
from yibao.synth.dates import (
    I64,
    add_months,
    days_in_year,
    month_start_after,
    year_start,
    year_starts,
    years_of,
)
from yibao.synth.demography import by_age

B = npt.NDArray[np.bool_]
#: The insured categories by the generator's codes (its own order: the codes of the data).
SCHEMES = tuple(
    c.value
    for c in (
        InsuredCategory.EMPLOYEE,
        InsuredCategory.RETIREE,
        InsuredCategory.FLEXIBLE,
        InsuredCategory.RESIDENT,
    )
)
EMPLOYEE, RETIREE, FLEXIBLE, RESIDENT = range(len(SCHEMES))
AID_CLASSES = tuple(a.value for a in AidClass)  # codes 1..5
NONE = int(np.iinfo(np.int64).min)  # entitled_from: no waiting period
HISTORY_YEARS = 10

LAPSED_SHARE = 0.06
LAPSE_P = 0.5
MAX_LAPSE = 10
LAPSED_IN_PERIOD = 0.4
REPAIR_SHARE = 0.25
NEWBORN_LATE = 0.12
NEWBORN_DELAY_MEAN = 20.0
HIRED_YOUNG, HIRED_OLDER = 0.25, 0.04
FLEXIBLE_FIRST = 0.10
SPELL_P = 0.1  # continuous spell length of residents: geometric, mean 10 years
#: probability that a year of a resident's continuous spell had no reimbursement at all
ZERO_CLAIM = by_age({(0, 4): 0.2, (5, 44): 0.5, (45, 64): 0.3, (65, 200): 0.15})
RETIREMENT_MIN_YEARS = {True: 25, False: 20}
COLLECTION_START = 243  # ~1 September
COLLECTION_DAYS = 122


@dataclass
class Coverage:
    enrolled_on: I64
    entitled_from: I64  # NONE where there is no waiting period
    start_day: I64  # first day of the year (0-based) the person can have claims
    continuous_years: I64
    lapsed_years: I64
    repaired_years: I64
    zero_claim_years: I64
    contribution_years: I64  # -1 for residents
    incentive_raise: I64
    history: npt.NDArray[np.uint8]  # (n, HISTORY_YEARS) ASCII


def _uniform_days(rng: np.random.Generator, n: int, span: I64 | int) -> I64:
    return np.asarray((rng.random(n) * np.asarray(span)).astype(np.int64), dtype=np.int64)


def _mark(history: npt.NDArray[np.uint8], rows: I64, first: I64, last: I64, char: str) -> None:
    """Set history[rows, j] = char for the years Y-10+j in [first, last] (offsets 1..10 back)."""
    for back in range(1, HISTORY_YEARS + 1):
        sel = (back >= first) & (back <= last)
        history[rows[sel], HISTORY_YEARS - back] = ord(char)


def enrol(
    rng: np.random.Generator,
    area: Area,
    scheme: I64,
    age: I64,
    male: B,
    birth: I64,
    aid: I64,
) -> Coverage:
    n = len(age)
    year = area.year
    y0 = year_start(year)
    ndays = days_in_year(year)
    birth_year = years_of(birth)
    alive_before = year - birth_year  # calendar years before this one the person lived in

    enrolled = np.zeros(n, dtype=np.int64)
    entitled = np.full(n, NONE, dtype=np.int64)
    start = np.zeros(n, dtype=np.int64)
    cont = np.zeros(n, dtype=np.int64)
    lapsed = np.zeros(n, dtype=np.int64)
    repaired = np.zeros(n, dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    contrib = np.full(n, -1, dtype=np.int64)
    raise_ = np.zeros(n, dtype=np.int64)
    history = np.full((n, HISTORY_YEARS), ord("1"), dtype=np.uint8)
    back = np.arange(HISTORY_YEARS, 0, -1)
    wait_applies = area.waiting_applies
    exempt_codes = [i + 1 for i, c in enumerate(AID_CLASSES) if c in area.exempt_groups]
    exempt = np.isin(aid, exempt_codes)

    def earned(years: I64) -> I64:
        return np.maximum(years - area.continuous_after_years, 0) * area.continuous_amount

    # residents: newborns, returners after a lapse, continuing participants
    res = scheme == RESIDENT
    newborn = np.flatnonzero(res & (age == 0))
    u = rng.random(n)
    lapser = np.flatnonzero(res & (age > 0) & (u < LAPSED_SHARE))
    stayer = np.flatnonzero(res & (age > 0) & (u >= LAPSED_SHARE))

    k = len(newborn)
    born = birth[newborn] - y0
    late = (rng.random(k) < NEWBORN_LATE) & (born + area.newborn_window_days + 1 < ndays)
    early_delay = np.minimum(
        rng.exponential(NEWBORN_DELAY_MEAN, k).astype(np.int64), area.newborn_window_days
    )
    late_span = np.maximum(ndays - born - area.newborn_window_days - 1, 1)
    late_delay = area.newborn_window_days + 1 + _uniform_days(rng, k, late_span)
    enrolled[newborn] = birth[newborn] + np.where(late, late_delay, early_delay)
    start[newborn] = np.where(late, enrolled[newborn] - y0, born)
    if wait_applies:
        late_wait = late & ~exempt[newborn]
        entitled[newborn[late_wait]] = add_months(enrolled[newborn[late_wait]], area.fixed_months)

    k = len(lapser)
    gap = np.minimum(np.minimum(rng.geometric(LAPSE_P, k), alive_before[lapser]), MAX_LAPSE)
    prior = np.minimum(alive_before[lapser] - gap, rng.geometric(SPELL_P, k))
    in_period = rng.random(k) < LAPSED_IN_PERIOD
    paid = np.where(
        in_period,
        year_start(year - 1) + COLLECTION_START + _uniform_days(rng, k, COLLECTION_DAYS),
        y0 + _uniform_days(rng, k, ndays - 30),
    )
    repair = np.where(rng.random(k) < REPAIR_SHARE, 1 + _uniform_days(rng, k, gap), 0)
    counted = np.maximum(gap - int(area.first_lapse_year_free), 0)
    variable = np.maximum(
        counted * area.months_per_lapsed_year - repair * area.repair_months_per_year, 0
    )
    wait = area.fixed_months + variable
    wait = np.where(
        gap >= area.long_lapse_years, np.maximum(wait, area.long_lapse_min_months), wait
    )
    enrolled[lapser] = paid
    start[lapser] = np.maximum(paid - y0, 0)
    lapsed[lapser] = gap
    repaired[lapser] = repair
    if wait_applies:
        waiting = ~exempt[lapser]
        entitled[lapser[waiting]] = add_months(np.maximum(paid, y0)[waiting], wait[waiting])
        if area.continuous_kept_on_lapse:
            raise_[lapser] = earned(prior)
    _mark(history, lapser, np.ones(k, dtype=np.int64), gap, "0")
    _mark(history, lapser, gap + prior + 1, gap + prior + 1, "0")

    k = len(stayer)
    spell = np.minimum(alive_before[stayer], rng.geometric(SPELL_P, k))
    since_birth = spell >= alive_before[stayer]
    newborn_delay = np.minimum(rng.exponential(NEWBORN_DELAY_MEAN, k).astype(np.int64), 60)
    period = year_starts(year - spell - 1) + COLLECTION_START + _uniform_days(rng, k, 122)
    enrolled[stayer] = np.where(since_birth, birth[stayer] + newborn_delay, period)
    cont[stayer] = spell
    zero[stayer] = rng.binomial(np.minimum(spell, HISTORY_YEARS), ZERO_CLAIM[age[stayer]])
    if wait_applies:
        raise_[stayer] = earned(spell) + zero[stayer] * area.zero_claim_amount
    _mark(history, stayer, spell + 1, spell + 1, "0")
    history[(year - back)[None, :] < birth_year[:, None]] = ord("-")
    raise_ = np.minimum(raise_, area.incentive_limit)

    # employees in service, flexible workers, retirees
    work = np.flatnonzero((scheme == EMPLOYEE) | (scheme == FLEXIBLE))
    k = len(work)
    years_worked = np.maximum(age[work] - 18 - _uniform_days(rng, k, 8), 0)
    first = np.where(
        scheme[work] == EMPLOYEE,
        rng.random(k) < np.where(age[work] <= 24, HIRED_YOUNG, HIRED_OLDER),
        rng.random(k) < FLEXIBLE_FIRST,
    )
    joined = y0 + _uniform_days(rng, k, ndays - 30)
    before = year_starts(year - np.maximum(years_worked, 1)) + _uniform_days(rng, k, 365)
    enrolled[work] = np.where(first, joined, before)
    start[work] = np.where(first, joined - y0, 0)
    contrib[work] = np.where(first, 0, years_worked)
    cont[work] = contrib[work]
    hired = first & (scheme[work] == EMPLOYEE)
    employer_wait = add_months(month_start_after(joined), area.employer_wait_months - 1)
    flexible_wait = add_months(joined, area.flexible_first_months)
    entitled[work] = np.where(first, np.where(hired, employer_wait, flexible_wait), NONE)

    ret = np.flatnonzero(scheme == RETIREE)
    k = len(ret)
    minimum = np.where(male[ret], RETIREMENT_MIN_YEARS[True], RETIREMENT_MIN_YEARS[False])
    years = np.minimum(minimum + _uniform_days(rng, k, 16), np.maximum(age[ret] - 16, minimum))
    enrolled[ret] = year_starts(year - years) + _uniform_days(rng, k, 365)
    contrib[ret] = years
    cont[ret] = years

    # an entitlement on or before 1 January is no waiting period at all
    entitled = np.where((entitled != NONE) & (entitled <= y0), NONE, entitled)
    return Coverage(
        enrolled_on=enrolled,
        entitled_from=entitled,
        start_day=np.minimum(start, ndays - 1),
        continuous_years=cont,
        lapsed_years=lapsed,
        repaired_years=repaired,
        zero_claim_years=zero,
        contribution_years=contrib,
        incentive_raise=raise_,
        history=history,
    )
