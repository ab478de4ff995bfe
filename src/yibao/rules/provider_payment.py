"""Provider payment (按病种分值 DIP, 按疾病诊断相关分组 DRG, 按床日 per-diem), rules.md section 8
and back-office.md section 3: the parameters and the scalar rules. The per-case arithmetic over
many cases is columnar, in ``yibao.kernel.dip``.

Units (exact integers, one rounding per layer, half up):

- points (分值, DIP score or DRG relative weight × 100) are carried × 10^4 (``POINTS_SCALE``);
- the point value (点值, yuan per point) × 10^6 (``POINT_VALUE_SCALE``);
- ratios (outlier thresholds, institution coefficients) × 10^4 (``RATIO_SCALE``);
- money in fen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from yibao.policy import ParameterError, Policy
from yibao.rules.errors import InvalidField

#: Points are integers in units of 10^-4 point (four places).
POINTS_SCALE = 10_000
#: The point value is an integer in units of 10^-6 yuan per point (six places).
POINT_VALUE_SCALE = 1_000_000
#: Ratios (outlier thresholds, institution coefficients) in units of 10^-4.
RATIO_SCALE = 10_000

#: The payment methods whose parameters share one shape (``provider_payment.<method>.*``).
METHODS = ("dip", "drg")


class ProviderPaymentError(InvalidField):
    """An input of a provider payment rule is outside what the rule allows."""


def scaled(value: Decimal | int, scale: int, field: str) -> int:
    """``value × scale`` as an exact integer; refused when it has more places than the scale."""
    product = Decimal(value) * scale
    if product != product.to_integral_value():
        places = len(str(scale)) - 1
        raise ProviderPaymentError(field, f"at most {places} decimal places, got {value}")
    return int(product)


@dataclass(frozen=True, slots=True)
class OutlierThresholds:
    """Multiples of a group's average cost (× 10^4): a case below ``low`` is a low-cost case
    (费用极低), above ``high`` a high-cost case (费用极高), above ``review`` also flagged for
    special review (特殊审核)."""

    low: int
    high: int
    review: int


@dataclass(frozen=True, slots=True)
class GroupBuilding:
    """How groups and their scores are built from history: the minimum cases of a core group
    (核心病种), the yearly weights of the history (oldest first), the scale of a score."""

    min_cases: int
    history_weights: tuple[int, ...]
    scale: int


def _ratio(policy: Policy, path: str, on: dt.date) -> int:
    value = policy.rate(path, on)
    try:
        out = scaled(value, RATIO_SCALE, path)
    except ProviderPaymentError as exc:
        raise ParameterError(policy.source_file(path, on), path, exc.reason) from exc
    if out <= 0:
        raise ParameterError(policy.source_file(path, on), path, f"must be positive, got {value}")
    return out


def outlier_thresholds(policy: Policy, method: str, on: dt.date) -> OutlierThresholds:
    """``provider_payment.<method>.{low,high,review}_outlier`` in force on ``on``; refused unless
    0 < low ≤ 1 ≤ high ≤ review."""
    base = f"provider_payment.{method}"
    t = OutlierThresholds(
        low=_ratio(policy, f"{base}.low_outlier", on),
        high=_ratio(policy, f"{base}.high_outlier", on),
        review=_ratio(policy, f"{base}.review_outlier", on),
    )
    if not t.low <= RATIO_SCALE <= t.high <= t.review:
        path = f"{base}.low_outlier"
        raise ParameterError(
            policy.source_file(path, on),
            base,
            "must be low_outlier ≤ 1 ≤ high_outlier ≤ review_outlier",
        )
    return t


def group_building(policy: Policy, method: str, on: dt.date) -> GroupBuilding:
    """``provider_payment.<method>.{min_cases,history_weights,scale}`` in force on ``on``."""
    base = f"provider_payment.{method}"
    path = f"{base}.history_weights"
    raw = policy.get(path, on)
    if (
        not isinstance(raw, list)
        or not raw
        or any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in raw)
        or sum(raw) <= 0
    ):
        raise ParameterError(
            policy.source_file(path, on), path, "must be a list of whole weights, oldest first"
        )
    min_cases = policy.count(f"{base}.min_cases", on)
    scale = policy.count(f"{base}.scale", on)
    if min_cases < 1 or scale < 1:
        raise ParameterError(
            policy.source_file(path, on), base, "min_cases and scale must be at least 1"
        )
    return GroupBuilding(min_cases=min_cases, history_weights=tuple(raw), scale=scale)


def long_stay_days(policy: Policy, on: dt.date) -> int:
    """``provider_payment.per_diem.long_stay_days``: a stay this long is paid by bed day."""
    return policy.count("provider_payment.per_diem.long_stay_days", on)


def point_value(fund_available_fen: int, reimbursement_ratio: Decimal, total_points: int) -> int:
    """点值 = (fund_available ÷ reimbursement_ratio) ÷ Σ case points, yuan per point rounded to
    six places half up, returned × 10^6. ``total_points`` is × 10^4."""
    if total_points <= 0:
        raise ProviderPaymentError("cases", "the total points are zero: no point value")
    if fund_available_fen < 0:
        raise ProviderPaymentError("fund_available", "must not be negative")
    # yuan/point × 10^6 = fen/100 ÷ ratio ÷ (total/10^4) × 10^6 = fen × 10^8 ÷ (ratio × total)
    ratio = Decimal(reimbursement_ratio)
    if not 0 < ratio <= 1:
        raise ProviderPaymentError(
            "reimbursement_ratio", f"must be above 0 and at most 1, got {ratio}"
        )
    num, den = ratio.as_integer_ratio()  # ratio = num / den
    numerator = fund_available_fen * 10**8 * den
    denominator = num * total_points
    q, r = divmod(numerator, denominator)
    return q + (1 if 2 * r >= denominator else 0)


def standard_fen(points: int, point_value_e6: int) -> int:
    """A case's standard (支付标准) = points × point value, fen half up (points × 10^4, point
    value × 10^6: fen = points × value ÷ 10^8)."""
    q, r = divmod(points * point_value_e6, 10**8)
    return q + (1 if 2 * r >= 10**8 else 0)


def fund_due_fen(standard: int, patient_paid: int) -> int:
    """What the fund owes for a case: max(standard − patient_paid, 0)."""
    return max(standard - patient_paid, 0)


def settlement_fen(fund_due: int, advanced: int) -> int:
    """An institution's settlement (清算): fund_due − advanced; negative, it pays back."""
    return fund_due - advanced


def points_text(points: int) -> str:
    """Points (× 10^4) as a decimal string with four places."""
    return str(Decimal(points).scaleb(-4).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def point_value_text(value: int) -> str:
    """A point value (× 10^6) as a decimal string with six places."""
    return str(Decimal(value).scaleb(-6).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))
