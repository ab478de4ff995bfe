"""What a parameter's value may be, by its name: amounts, rates and factors.

Checked when a file or an overlay is read (``tree.flatten``), so region files, scenario overlays
and a bureau's own folder all get the same errors (file, parameter path, reason).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from yibao.policy.errors import ParameterError

#: A numeric leaf is an amount of money (yuan in files, fen inside) when a segment of its
#: path is one of these names.
MONEY_KEYS = frozenset(
    {
        "average_wage",
        "resident_disposable_income",
        "average_pension",
        "retiree_monthly",
        "base_floor",
        "base_ceiling",
        "individual",
        "fiscal_subsidy",
        "amount",
        "deductible",
        "annual_deductible",
        "annual_cap",
        "cap",
        "upto",
        "per_capita",
        "per_month",
        "per_recipient",
        "area_amount",
    }
)
#: Rates (0.75 = 75 %): a segment ``ratio``, ``ratio_bonus``, ``assistance_subsidy`` or one
#: ending in ``_ratio``, ``_rate`` or ``_share``. Between 0 and 1.
RATE_KEYS = frozenset({"ratio", "ratio_bonus", "assistance_subsidy"})
RATE_ENDINGS = ("_ratio", "_rate", "_share")
#: Factors (a multiple of something else): a segment ending in ``_factor`` or ``_factors``.
FACTOR_ENDINGS = ("_factor", "_factors")
#: Rates are exact to this many decimal places (the kernel's integer scale, 1e6).
RATE_PLACES = 6

_DATE = re.compile(r"@\d{4}-\d{2}-\d{2}")


def segments(path: str) -> list[str]:
    """The names in a parameter path: ``a.b[0].c@2025-01-01`` -> a, b, c."""
    plain = _DATE.sub("", path).replace("[", ".").replace("]", "")
    return [p for p in plain.split(".") if p and not p.isdigit()]


def is_money(path: str) -> bool:
    return any(p in MONEY_KEYS for p in segments(path))


def kind(path: str) -> str | None:
    """``money``, ``rate``, ``factor`` or None (a count, a code, a flag...), by the last
    segment that names one."""
    for name in reversed(segments(path)):
        if name in MONEY_KEYS:
            return "money"
        if name in RATE_KEYS or name.endswith(RATE_ENDINGS):
            return "rate"
        if name.endswith(FACTOR_ENDINGS):
            return "factor"
    return None


def _places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _number(file: str, path: str, value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ParameterError(file, path, f"must be a number ({what}), not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(file, path, f"must be a finite number ({what}), not {value}")
    number = Decimal(str(value))
    if number < 0:
        raise ParameterError(file, path, f"must not be negative (got {value})")
    return number


def check_multiplier(file: str, path: str, value: Any) -> None:
    """The ``ratio`` of a relative value ``{of: PATH, ratio: R}``: a number ≥ 0, ≤ 6 places."""
    number = _number(file, f"{path}.ratio", value, "a multiple")
    if _places(number) > RATE_PLACES:
        raise ParameterError(file, f"{path}.ratio", f"{value} has more than 6 decimal places")


def check_value(file: str, path: str, value: Any) -> None:
    """A scalar leaf (not a list, not a relative value) against what its name says it is."""
    if value is None:
        return
    what = kind(path)
    if what is None:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            _number(file, path, value, "a count or a number")
        return
    if what == "money":
        number = _number(file, path, value, "an amount in yuan")
        if _places(number) > 2:
            raise ParameterError(file, path, f"{value} has more than two decimal places (fen)")
        return
    number = _number(file, path, value, "a rate such as 0.75" if what == "rate" else "a factor")
    if _places(number) > RATE_PLACES:
        raise ParameterError(file, path, f"{value} has more than 6 decimal places")
    if what == "rate" and number > 1:
        raise ParameterError(file, path, f"{value} is above 1 (a rate: 0.75 = 75 %)")
