"""What to generate (``SynthConfig``) and the pooling area's policy figures it needs (``Area``).

The area figures come from the policy parameters (``yibao.policy``): the region's own file when
there is one, else the national defaults (000000). A dated value not in force on 1 January of
the year (e.g. an average wage before the first dated entry) is taken from the nearest date at
which the parameter has a value, and the date used is recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from yibao.policy import NATIONAL, ParameterError, Policy, UnknownRegion

DEFAULT_CHUNK = 200_000
#: Year from which the resident waiting periods and incentives of Guo Ban Fa [2024] No. 38 apply.
WAITING_FROM_YEAR = 2025


@dataclass(frozen=True)
class SynthConfig:
    region: str
    persons: int
    year: int
    seed: int
    chunk_size: int = DEFAULT_CHUNK
    #: share of claims made irregular for supervision (synth.irregular); 0: none
    irregular: float = 0.0
    #: the benefits the area is settled under (``synth.calibrated``): ``calibrated`` (the
    #: region's parameters with the calibrated overlay on top) or ``region``
    benefits: str = "calibrated"

    def __post_init__(self) -> None:
        if len(self.region) != 6 or not self.region.isdigit():
            raise ValueError(f"region must be a 6-digit division code, got {self.region!r}")
        if self.persons < 1:
            raise ValueError(f"persons must be at least 1, got {self.persons}")
        if not 1950 <= self.year <= 2100:
            raise ValueError(f"year must be between 1950 and 2100, got {self.year}")
        if self.seed < 0:
            raise ValueError(f"seed must not be negative, got {self.seed}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk size must be at least 1, got {self.chunk_size}")
        if not 0 <= self.irregular <= 0.5:
            raise ValueError(f"irregular must be between 0 and 0.5, got {self.irregular}")
        if self.benefits not in ("calibrated", "region"):
            raise ValueError(f"benefits must be calibrated or region, got {self.benefits!r}")

    @property
    def chunks(self) -> int:
        return -(-self.persons // self.chunk_size)


@dataclass(frozen=True)
class Area:
    """Policy figures of the pooling area for the year (money in fen, rates as float)."""

    region: str
    year: int
    policy_region: str
    figures_dated: dict[str, str]
    average_wage: int
    average_pension_monthly: int
    disposable_income: int
    base_floor: int
    base_ceiling: int
    in_service_share: float
    retiree_monthly_credit: int
    employer_wait_months: int
    flexible_first_months: int
    fixed_months: int
    months_per_lapsed_year: int
    first_lapse_year_free: bool
    repair_months_per_year: int
    long_lapse_years: int
    long_lapse_min_months: int
    newborn_window_days: int
    exempt_groups: tuple[str, ...]
    continuous_after_years: int
    continuous_amount: int
    continuous_kept_on_lapse: bool
    zero_claim_amount: int
    incentive_limit: int

    @property
    def waiting_applies(self) -> bool:
        return self.year >= WAITING_FROM_YEAR


def _policy(region: str) -> Policy:
    try:
        return Policy(region)
    except UnknownRegion:
        return Policy(NATIONAL)


def _get(policy: Policy, path: str, on: dt.date, used: dict[str, str]) -> Any:
    """The value on ``on``; else the value at the nearest date at which it has one."""
    try:
        return policy.get(path, on)
    except ParameterError:
        pass
    candidates = sorted(policy.dates(), key=lambda d: (abs((d - on).days), d))
    for when in candidates:
        try:
            value = policy.get(path, when)
        except ParameterError:
            continue
        used[path] = when.isoformat()
        return value
    raise ParameterError(policy.source_file(path, on), path, "no value at any date")


def _float(value: Any) -> float:
    return float(Decimal(value))


def load_area(region: str, year: int) -> Area:
    policy = _policy(region)
    on = dt.date(year, 1, 1)
    used: dict[str, str] = {}

    def get(path: str) -> Any:
        return _get(policy, path, on, used)

    ci_cap = int(get("critical_illness.cap"))
    limit_ratio = _float(get("resident.incentives.total_limit_ratio"))
    return Area(
        region=region,
        year=year,
        policy_region=policy.region,
        figures_dated=used,
        average_wage=int(get("economy.average_wage")),
        average_pension_monthly=int(get("economy.average_pension")),
        disposable_income=int(get("economy.resident_disposable_income")),
        base_floor=int(get("employee.contribution.base_floor")),
        base_ceiling=int(get("employee.contribution.base_ceiling")),
        in_service_share=_float(get("employee.personal_account.in_service_share")),
        retiree_monthly_credit=int(get("employee.personal_account.retiree_monthly")),
        employer_wait_months=int(get("employee.waiting.employer_enrolled_months")),
        flexible_first_months=int(get("employee.waiting.flexible_first_months")),
        fixed_months=int(get("resident.waiting.fixed_months")),
        months_per_lapsed_year=int(get("resident.waiting.months_per_lapsed_year")),
        first_lapse_year_free=bool(get("resident.waiting.first_lapse_year_free")),
        repair_months_per_year=int(get("resident.waiting.repair_months_per_year")),
        long_lapse_years=int(get("resident.waiting.long_lapse_years")),
        long_lapse_min_months=int(get("resident.waiting.long_lapse_min_months")),
        newborn_window_days=int(get("resident.waiting.newborn_window_days")),
        exempt_groups=tuple(str(g) for g in get("resident.waiting.exempt_groups")),
        continuous_after_years=int(get("resident.incentives.continuous.after_years")),
        continuous_amount=int(get("resident.incentives.continuous.amount")),
        continuous_kept_on_lapse=bool(get("resident.incentives.continuous.kept_on_lapse")),
        zero_claim_amount=int(get("resident.incentives.zero_claim.amount")),
        incentive_limit=round(ci_cap * limit_ratio),
    )
