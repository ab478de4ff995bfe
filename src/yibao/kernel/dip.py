"""Provider payment over many cases, columnar (NumPy int64, exact): case kinds and points,
standards, fund due, sums by institution (back-office.md section 3, rules.md section 8). The
scalar rules and units are in ``yibao.rules.provider_payment``: points × 10^4, point value
× 10^6 yuan per point, ratios × 10^4, money in fen.

Every array is one value per case (the caller gathers a case's group attributes by its group
index). Products that pass 2^63 are handled exactly by ``muldiv_round``: a float64 estimate of
the quotient, corrected by the exact remainder computed modulo 2^64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from yibao.rules.provider_payment import (
    POINT_VALUE_SCALE,
    POINTS_SCALE,
    RATIO_SCALE,
    OutlierThresholds,
)

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]

#: Case kinds, as int8 codes: ``KINDS[code]`` is the name in answers.
NORMAL, LOW, HIGH, PER_DIEM = 0, 1, 2, 3
KINDS = ("normal", "low", "high", "per_diem")

#: The largest quotient ``muldiv_round`` answers exactly (float64 estimate within ±2).
MAX_QUOTIENT = 2**50
#: The largest divisor ``muldiv_round`` accepts (the corrected remainder stays in int64).
MAX_DIVISOR = 2**60


class KernelRangeError(ValueError):
    """A value beyond what the exact columnar arithmetic answers (an absurd input)."""


def muldiv_round(a: I64, b: I64, d: I64 | int) -> I64:
    """round_half_up(a × b ÷ d) for non-negative int64 ``a``, ``b`` and positive ``d``, exact
    even when a × b passes 2^63 (quotients up to ``MAX_QUOTIENT``, divisors up to
    ``MAX_DIVISOR``; beyond, ``KernelRangeError``)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    dd = np.broadcast_to(np.asarray(d, dtype=np.int64), np.broadcast_shapes(a.shape, b.shape))
    if dd.size and (int(dd.min()) <= 0 or int(dd.max()) > MAX_DIVISOR):
        raise KernelRangeError("divisor out of range")
    if a.size and (int(a.min()) < 0 or int(b.min()) < 0):
        raise KernelRangeError("negative operand")
    estimate = a.astype(np.float64)
    estimate *= b
    estimate /= dd
    if estimate.size and float(estimate.max()) > MAX_QUOTIENT:
        raise KernelRangeError("quotient out of range")
    q = np.floor(estimate, out=estimate).astype(np.int64)
    # The exact remainder a·b − q·d, computed modulo 2^64 (unsigned views of the non-negative
    # values): it is small, so the wrapped result is the true one. The estimate is within one
    # of the floor: at most one step down or up.
    ud = np.ascontiguousarray(dd).view(np.uint64)
    with np.errstate(over="ignore"):
        urem = np.ascontiguousarray(a).view(np.uint64) * np.ascontiguousarray(b).view(np.uint64)
        urem -= q.view(np.uint64) * ud
    rem = urem.view(np.int64)
    low = rem < 0
    q -= low
    rem += dd * low
    high = rem >= dd
    q += high
    rem -= dd * high
    q += rem >= dd - rem
    return q


@dataclass(frozen=True, slots=True)
class CasePoints:
    """Each case's points (× 10^4), kind (``KINDS`` code) and review flag."""

    points: I64
    kind: I8
    review: Bool


def case_kinds(
    cost: I64, avg_cost: I64, per_diem: Bool, thresholds: OutlierThresholds
) -> tuple[I8, Bool]:
    """A case's kind: ``PER_DIEM`` in a per-diem group, ``LOW`` when cost < low × avg_cost,
    ``HIGH`` when cost > high × avg_cost, else ``NORMAL``; ``review`` when cost > review ×
    avg_cost (never for per-diem). Comparisons are exact: cost × 10^4 against ratio × avg."""
    cost = np.asarray(cost, dtype=np.int64)
    avg = np.asarray(avg_cost, dtype=np.int64)
    scaled_cost = cost * RATIO_SCALE
    low = scaled_cost < avg * thresholds.low
    high = scaled_cost > avg * thresholds.high
    review = (scaled_cost > avg * thresholds.review) & ~per_diem
    kind = np.full(cost.shape, NORMAL, dtype=np.int8)
    kind[low] = LOW
    kind[high] = HIGH
    kind[per_diem] = PER_DIEM
    return kind, review


def case_points(
    cost: I64,
    weight: I64,
    avg_cost: I64,
    per_diem: Bool,
    days: I64,
    coefficient: I64,
    thresholds: OutlierThresholds,
) -> CasePoints:
    """Case points = base points × the institution's coefficient, four places half up.

    Base points: the group's ``weight``; low-cost: weight × cost ÷ avg_cost; high-cost: weight ×
    (cost ÷ avg_cost − high + 1); per-diem: ``weight`` (points per day) × ``days``. ``weight`` is
    points × 10^4, ``coefficient`` × 10^4, money in fen; ``avg_cost`` of a per-diem group is
    ignored (any positive value)."""
    cost = np.asarray(cost, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.int64)
    per_diem = np.asarray(per_diem, dtype=np.bool_)
    avg = np.where(per_diem, 1, np.asarray(avg_cost, dtype=np.int64))
    if avg.size and int(avg.min()) <= 0:
        raise KernelRangeError("a group's average cost must be positive")
    kind, review = case_kinds(cost, avg, per_diem, thresholds)
    coefficient = np.asarray(coefficient, dtype=np.int64)
    wc = weight * coefficient  # points × 10^8
    # Each kind as (multiplier, divisor) of wc, so that points × 10^4 = wc × m ÷ (d × 10^4).
    m = np.ones_like(cost)
    d = np.ones_like(cost)
    is_low = kind == LOW
    is_high = kind == HIGH
    is_day = kind == PER_DIEM
    m = np.where(is_low, cost, m)
    d = np.where(is_low, avg, d)
    # weight × (cost/avg − h + 1) = weight × (cost·10^4 − (h − 10^4)·avg) ÷ (avg·10^4)
    excess = cost * RATIO_SCALE - (thresholds.high - RATIO_SCALE) * avg
    m = np.where(is_high, excess, m)
    d = np.where(is_high, avg * RATIO_SCALE, d)
    m = np.where(is_day, np.asarray(days, dtype=np.int64), m)
    points = muldiv_round(wc, m, d * RATIO_SCALE)
    return CasePoints(points=points, kind=kind, review=review)


def total_points(points: I64) -> int:
    """Σ case points (× 10^4), as a Python integer (no overflow)."""
    return int(np.sum(points, dtype=np.int64))


def case_standards(points: I64, point_value: int) -> I64:
    """Each case's standard (支付标准) = points × point value in fen, half up (points × 10^4,
    point value × 10^6 yuan: fen = points × value ÷ 10^8)."""
    points = np.asarray(points, dtype=np.int64)
    value = np.full(points.shape, point_value, dtype=np.int64)
    return muldiv_round(points, value, POINTS_SCALE * POINT_VALUE_SCALE // 100)


def case_fund_due(standard: I64, patient_paid: I64) -> I64:
    """What the fund owes for each case: max(standard − patient_paid, 0) fen."""
    return np.maximum(np.asarray(standard, np.int64) - np.asarray(patient_paid, np.int64), 0)


@dataclass(frozen=True, slots=True)
class InstitutionSums:
    """Per institution (by index): cases, points (× 10^4), standard and fund due (fen)."""

    cases: I64
    points: I64
    standard: I64
    fund_due: I64


def institution_sums(
    institution: I64, n_institutions: int, points: I64, standard: I64, fund_due: I64
) -> InstitutionSums:
    """Sums of each institution's cases (``institution`` is each case's index into
    ``0..n_institutions-1``); integer sums, exact."""
    idx = np.asarray(institution, dtype=np.int64)

    def total(values: I64) -> I64:
        out = np.zeros(n_institutions, dtype=np.int64)
        np.add.at(out, idx, np.asarray(values, dtype=np.int64))
        return out

    return InstitutionSums(
        cases=np.bincount(idx, minlength=n_institutions).astype(np.int64),
        points=total(points),
        standard=total(standard),
        fund_due=total(fund_due),
    )
