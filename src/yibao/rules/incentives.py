"""Incentives (参保激励), rules.md section 5: raises of the critical illness cap.

A continuous-participation raise is earned for each insured year after the first ``after_years``
continuous ones; a zero-reimbursement raise for each insured year in which the funds paid nothing.
Both are earned from ``since_year`` (2025), apply from the following year, and add up under one
limit (``total_limit_ratio`` × the original critical illness cap). A lapse restarts the count (the
continuous raise is kept or lost by ``kept_on_lapse``); a year whose critical illness payment used
the raised part of the cap clears the zero-reimbursement credit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from yibao.policy import Policy


@dataclass(frozen=True)
class YearRecord:
    insured: bool
    fund_paid: int = 0  # fen paid by all funds for the person that year
    used_raise: bool = False  # a critical illness payment used the raised part of the cap


@dataclass(frozen=True)
class Incentives:
    base_cap: int
    continuous_raise: int
    zero_claim_raise: int
    cap: int
    continuous_years: int


def incentives(policy: Policy, history: dict[int, YearRecord], year: int) -> Incentives:
    """The critical illness cap of ``year`` with the raises earned in the years before it."""
    on = dt.date(year, 1, 1)
    base_cap = policy.fen("critical_illness.cap", on)
    since = policy.count("resident.incentives.since_year", on, default=2025)
    after = policy.count("resident.incentives.continuous.after_years", on)
    kept = policy.flag("resident.incentives.continuous.kept_on_lapse", on)
    continuous = zero = run = 0
    for y in range(min(history, default=year), year):
        record = history.get(y, YearRecord(insured=False))
        earned_on = dt.date(y + 1, 1, 1)
        if not record.insured:
            run = 0
            if not kept:
                continuous = 0
            continue
        run += 1
        if y < since:
            continue
        if run > after:
            continuous += policy.fen("resident.incentives.continuous.amount", earned_on)
        if record.used_raise:
            zero = 0
        if record.fund_paid == 0:
            zero += policy.fen("resident.incentives.zero_claim.amount", earned_on)
    ratio = policy.rate("resident.incentives.total_limit_ratio", on)
    limit = int((base_cap * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    continuous = min(continuous, limit)
    zero = min(zero, limit - continuous)
    return Incentives(base_cap, continuous, zero, base_cap + continuous + zero, run)
