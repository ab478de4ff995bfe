"""Persons of one chunk: who they are, their households, scheme, aid class, wage and accounts.

Shares (see docs/synthetic-data.md for the sources):

- scheme: employees (in service, flexible, retired) are ``EMPLOYEE_SHARE`` of the insured, of
  whom ``RETIREE_SHARE`` are retired (NHSA bulletins); 15% of the employees in service are
  flexible workers (assumption). Men retire from 60, women from 50; in service are men 18–59 and
  women 18–54, weighted by age (few under 22: students). The probabilities are solved from the
  age structure so that the expected shares are exact.
- residents aged 6–17 are students with probability 0.97, aged 18–22 with 0.55 (gross tertiary
  enrolment ~60%); other residents under 18 are children, residents 60+ elderly.
- aid classes (residents only): dibao, low_income_edge, monitored and ill_poor are drawn per
  household (2023 MCA/NHSA orders of magnitude: ~40 million dibao, ~4.7 million tekun, several
  million monitored and low-income-edge persons); tekun is drawn per person among residents 60+
  living alone.
- wage (fen a year): in-service employees lognormal with mean the area's average wage (σ 0.55)
  times an age factor; flexible workers' income lognormal with mean 0.7 × average wage (σ 0.6),
  and 70% of them declare the floor base, 20% the average wage, 10% their income (clamped).
- personal account: in service the employee's 2% of the base a year, retirees the area's
  monthly amount × 12; the opening balance is the year's credit × Exponential(1.5) (retirees
  × Exponential(2)); new joiners start at 0 and get the credit for the months left. The balance
  column is opening + the year's credit.
- family mutual aid: 30% of employees and retirees authorise it; half of their balance is moved
  to the resident members of their household, split equally (``mutual_aid_balance``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.synth.catalog import (
    CONDITION_PREVALENCE,
    CONDITIONS,
    draw_by_band,
    sex_fixed,
    weight_cdf,
)
from yibao.synth.columns import dates, fixed_strings, nullable_int, string_lists, strings
from yibao.synth.config import Area
from yibao.synth.coverage import (
    AID_CLASSES,
    EMPLOYEE,
    FLEXIBLE,
    NONE,
    RESIDENT,
    RETIREE,
    SCHEMES,
    Coverage,
    enrol,
)
from yibao.synth.dates import I64, days_in_year, year_starts
from yibao.synth.demography import AGE_P, BAND_OF_AGE, MALE_SHARE, MAX_AGE, by_age, draw_ages
from yibao.synth.households import RELATIONS, form_households
from yibao.synth.ids import IdIssuer, psn_numbers
from yibao.synth.income import household_income
from yibao.synth.names import names

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

EMPLOYEE_SHARE = 0.29
RETIREE_SHARE = 0.28
FLEXIBLE_SHARE = 0.15
RETIRE_MEN, RETIRE_WOMEN = 60, 50
WORK_MEN, WORK_WOMEN = 59, 54
WORK_WEIGHT = by_age({(18, 21): 0.25, (22, 24): 0.8, (25, 49): 1.0, (50, 54): 0.8, (55, 59): 0.6})
STUDENT = by_age({(6, 17): 0.97, (18, 22): 0.55})
#: household-level shares of the aid classes drawn per household, in AID_CLASSES order 2..5
HOUSEHOLD_AID = (0.042, 0.012, 0.007, 0.003)
TEKUN_ALONE_60 = 0.08
GROUPS = ("newborn", "child", "student", "elderly")
WAGE_SIGMA = 0.55
WAGE_AGE = by_age({(0, 24): 0.7, (25, 34): 0.95, (35, 49): 1.1, (50, MAX_AGE): 1.0})
FLEX_INCOME, FLEX_SIGMA = 0.7, 0.6
ACCOUNT_YEARS, RETIREE_ACCOUNT_YEARS = 1.5, 2.0
USE_ACCOUNT = 0.92
MUTUAL_AID, MUTUAL_AID_PART = 0.3, 0.5

_ages = np.arange(MAX_AGE + 1)
_retire_m = (_ages >= RETIRE_MEN).astype(float)
_retire_w = (_ages >= RETIRE_WOMEN).astype(float)
P_RETIRE = (
    EMPLOYEE_SHARE
    * RETIREE_SHARE
    / float((AGE_P * (MALE_SHARE * _retire_m + (1 - MALE_SHARE) * _retire_w)).sum())
)
_work_m = WORK_WEIGHT * (_ages <= WORK_MEN)
_work_w = WORK_WEIGHT * (_ages <= WORK_WOMEN) * (1 - P_RETIRE * _retire_w)
P_WORK = (
    EMPLOYEE_SHARE
    * (1 - RETIREE_SHARE)
    / float(
        (
            AGE_P * (MALE_SHARE * _work_m * (1 - P_RETIRE * _retire_m) + (1 - MALE_SHARE) * _work_w)
        ).sum()
    )
)
assert P_RETIRE <= 1 and P_WORK * WORK_WEIGHT.max() <= 1

_CONDITION_CDF = weight_cdf([c.weights for c in CONDITIONS])
_CONDITION_MEN, _CONDITION_WOMEN = sex_fixed(tuple(c.code for c in CONDITIONS), CONDITIONS)
CONDITION_CODES = tuple(c.code for c in CONDITIONS)


@dataclass
class Persons:
    """A chunk of persons: the Arrow table and the arrays the claims are drawn from."""

    table: pa.Table
    psn_no: I64
    age: I64
    male: B
    scheme: I64
    condition: I64  # index into CONDITIONS, -1 none
    start_day: I64


def _schemes(rng: np.random.Generator, age: I64, male: B) -> I64:
    n = len(age)
    retire_age = np.where(male, RETIRE_MEN, RETIRE_WOMEN)
    work_age = np.where(male, WORK_MEN, WORK_WOMEN)
    retiree = (age >= retire_age) & (rng.random(n) < P_RETIRE)
    working = ~retiree & (age <= work_age) & (rng.random(n) < P_WORK * WORK_WEIGHT[age])
    flexible = working & (rng.random(n) < FLEXIBLE_SHARE)
    scheme = np.full(n, RESIDENT, dtype=np.int64)
    scheme[working] = EMPLOYEE
    scheme[flexible] = FLEXIBLE
    scheme[retiree] = RETIREE
    return scheme


def _aid(rng: np.random.Generator, scheme: I64, age: I64, head: I64) -> I64:
    """Aid class code per person (0 none, else 1 + index into AID_CLASSES)."""
    n = len(age)
    cdf = np.cumsum(HOUSEHOLD_AID)
    household = np.searchsorted(cdf, rng.random(n), side="right")  # drawn at every index ...
    aid = np.where(household < len(HOUSEHOLD_AID), household + 2, 0)[head]  # ... used at heads
    size = np.bincount(head, minlength=n)
    alone = size[head] == 1
    tekun = alone & (age >= 60) & (rng.random(n) < TEKUN_ALONE_60)
    aid = np.where(tekun, 1, aid)
    return np.asarray(np.where(scheme == RESIDENT, aid, 0), dtype=np.int64)


def _conditions(rng: np.random.Generator, age: I64, male: B) -> I64:
    band = BAND_OF_AGE[age]
    has = rng.random(len(age)) < np.asarray(CONDITION_PREVALENCE)[band]
    which = draw_by_band(rng, _CONDITION_CDF, band)
    which = np.where(male, _CONDITION_MEN[which], _CONDITION_WOMEN[which])
    return np.asarray(np.where(has, which, -1), dtype=np.int64)


def _wages(rng: np.random.Generator, area: Area, scheme: I64, age: I64) -> tuple[I64, I64]:
    """(wage, contribution base) in fen a year; -1 where the person has none."""
    n = len(age)
    avg = area.average_wage / 100.0
    emp = avg * WAGE_AGE[age] * rng.lognormal(-(WAGE_SIGMA**2) / 2, WAGE_SIGMA, n)
    flex = FLEX_INCOME * avg * rng.lognormal(-(FLEX_SIGMA**2) / 2, FLEX_SIGMA, n)
    floor, ceiling = area.base_floor / 100.0, area.base_ceiling / 100.0
    u = rng.random(n)
    flex_base = np.where(u < 0.7, floor, np.where(u < 0.9, avg, np.clip(flex, floor, ceiling)))
    wage = np.where(scheme == EMPLOYEE, emp, flex)
    base = np.where(scheme == EMPLOYEE, np.clip(emp, floor, ceiling), flex_base)
    none = (scheme != EMPLOYEE) & (scheme != FLEXIBLE)
    wage_fen = np.where(none, -1, np.rint(wage).astype(np.int64) * 100)
    base_fen = np.where(none, -1, np.rint(base).astype(np.int64) * 100)
    return np.asarray(wage_fen, dtype=np.int64), np.asarray(base_fen, dtype=np.int64)


def _accounts(
    rng: np.random.Generator,
    area: Area,
    scheme: I64,
    base: I64,
    cover: Coverage,
    head: I64,
) -> tuple[I64, B, I64]:
    """(account balance, use account, mutual aid balance) in fen."""
    n = len(scheme)
    ndays = days_in_year(area.year)
    working = (scheme == EMPLOYEE) | (scheme == FLEXIBLE)
    retiree = scheme == RETIREE
    credit = np.where(working, np.maximum(base, 0) * area.in_service_share, 0.0)
    credit = np.where(retiree, area.retiree_monthly_credit * 12.0, credit)
    joined = working & (cover.contribution_years == 0) & (cover.start_day > 0)
    credit = np.where(joined, credit * (ndays - cover.start_day) / ndays, credit)
    years = np.where(
        retiree, rng.exponential(RETIREE_ACCOUNT_YEARS, n), rng.exponential(ACCOUNT_YEARS, n)
    )
    opening = np.where(joined, 0.0, credit * years)
    balance = np.rint(opening + credit).astype(np.int64)
    use = (working | retiree) & (rng.random(n) < USE_ACCOUNT)

    resident = scheme == RESIDENT
    residents_in = np.bincount(head, weights=resident, minlength=n)
    gives = (working | retiree) & (rng.random(n) < MUTUAL_AID) & (residents_in[head] > 0)
    pledge = np.where(gives, np.floor(balance * MUTUAL_AID_PART).astype(np.int64), 0)
    balance -= pledge
    pool = np.bincount(head, weights=pledge, minlength=n)
    share = np.where(resident, pool[head] / np.maximum(residents_in[head], 1), 0.0)
    mutual = np.floor(share).astype(np.int64)
    return balance, use, mutual


def make_persons(
    rng: np.random.Generator,
    area: Area,
    issuer: IdIssuer,
    first: int,
    n: int,
    income_draws: np.random.Generator,
) -> Persons:
    """Persons ``first`` .. ``first + n - 1`` of the run.

    ``income_draws`` is the household incomes' own stream (``synth.income.income_rng``).
    """
    year = area.year
    age = draw_ages(rng, n)
    male = rng.random(n) < MALE_SHARE
    birth_year = year - age
    starts = year_starts(birth_year)
    lengths = year_starts(birth_year + 1) - starts
    birth = starts + (rng.random(n) * lengths).astype(np.int64)
    head, relation = form_households(rng, age, male)
    scheme = _schemes(rng, age, male)
    aid = _aid(rng, scheme, age, head)
    condition = _conditions(rng, age, male)
    cover = enrol(rng, area, scheme, age, male, birth, aid)
    wage, base = _wages(rng, area, scheme, age)
    balance, use_account, mutual = _accounts(rng, area, scheme, base, cover, head)

    resident = scheme == RESIDENT
    student = resident & (rng.random(n) < STUDENT[age])
    groups = np.column_stack(
        [resident & (age == 0), resident & (age < 18) & ~student, student, resident & (age >= 60)]
    )
    income = household_income(
        income_draws,
        year=year,
        average_wage_yuan=area.average_wage / 100.0,
        pension_monthly_yuan=area.average_pension_monthly / 100.0,
        disposable_income_yuan=area.disposable_income / 100.0,
        head=head,
        scheme=scheme,
        age=age,
        wage_fen=wage,
        aid=aid > 0,
    )
    psn = psn_numbers(area.region, first, n)
    table = pa.table(
        {
            "psn_no": pa.array(psn),
            "scheme": strings(SCHEMES, scheme),
            "assistance_class": strings(AID_CLASSES, aid - 1),
            "account_balance": pa.array(balance),
            "use_account": pa.array(use_account),
            "mutual_aid_balance": pa.array(mutual),
            "incentive_raise": pa.array(cover.incentive_raise),
            "entitled_from": dates(cover.entitled_from, NONE),
            "national_id": issuer.issue(birth, male),
            "name": names(rng, male),
            "sex": strings(("F", "M"), male.astype(np.int64)),
            "birth_date": dates(birth),
            "household_id": pa.array(psn[head]),
            "relation": strings(RELATIONS, relation),
            "household_income": pa.array(income, type=pa.int64()),
            "groups": string_lists(GROUPS, groups),
            "chronic_condition": strings(CONDITION_CODES, condition),
            "wage": nullable_int(wage, -1, pa.int64()),
            "contribution_base": nullable_int(base, -1, pa.int64()),
            "contribution_years": nullable_int(cover.contribution_years, -1, pa.int16()),
            "enrolled_on": dates(cover.enrolled_on),
            "coverage_history": fixed_strings(cover.history),
            "continuous_years": pa.array(cover.continuous_years.astype(np.int16)),
            "lapsed_years": pa.array(cover.lapsed_years.astype(np.int8)),
            "repaired_years": pa.array(cover.repaired_years.astype(np.int8)),
            "zero_claim_years": pa.array(cover.zero_claim_years.astype(np.int8)),
        }
    )
    return Persons(
        table=table,
        psn_no=psn,
        age=age,
        male=male,
        scheme=scheme,
        condition=condition,
        start_day=cover.start_day,
    )
