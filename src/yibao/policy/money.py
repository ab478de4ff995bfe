"""Money at the edges (金额): the one upper bound of an amount and the one parser of a yuan amount.

Every edge (the API's 2201/2206/2207/3202 input and its settlement fast path, FHIR Claim
amounts, the CLI, the calculator, contributions' wages and bases) reads a yuan amount with
``parse_yuan`` and maps ``AmountError`` to its own error type; the domain checks fen values
with ``check_fen`` again (defence in depth). Integers given as text are read by ``parse_int``.

Bounds, and why the settlement kernel (``kernel.settle``, ``kernel.layers``) cannot overflow
within them:

- ``MAX_FEN``: no single amount (a claim's total or part, a balance, a wage) is above
  100 000 000.00 yuan (一亿元) = 10^10 fen. A fund's figures (a city's or a province's yearly
  income, an accumulated balance: ``parse_fund_yuan``) are bounded by ``MAX_FUND_YUAN``
  instead, 10^15 fen, far below 2^63; they never enter the kernel.
- ``MAX_YEAR_FEN``: no year-to-date accumulator of a person (the running bases and running
  payment totals of ``kernel.state.state_keys``) is above 10 000 000 000.00 yuan = 10^12 fen,
  100 claims at the bound. A claim that would take the person's year past it is refused
  (``year_room``). Every accumulator grows by at most the claim's total: each is a running sum
  of a base or a payment no larger than the claim's total (ratios are at most 1).

The kernel's largest products are a ratio (at most ``SCALE`` = 10^6) times an amount: a claim's
amount (≤ 10^10 × 10^6 = 10^16) or a year-to-date base in a banded schedule (≤ 10^12 × 10^6 =
10^18), summed over bands whose widths add up to the same base; and running sums of at most
10^12. All are below 2^63 − 1 ≈ 9.2 × 10^18, and the year bound is below the open top edge of a
schedule's last band (2^46 ≈ 7 × 10^13 fen), so every band is computed as written.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

#: The largest amount accepted anywhere, yuan and fen.
MAX_YUAN = Decimal("100000000.00")
MAX_FEN = 10_000_000_000
#: The largest amount of a fund (a province's yearly income, an accumulated balance): ten
#: trillion yuan (十万亿元), above the country's whole medical insurance income.
MAX_FUND_YUAN = Decimal("10000000000000.00")
#: The largest year-to-date accumulator of a person (fen): 100 claims at ``MAX_FEN``.
MAX_YEAR_FEN = 100 * MAX_FEN

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")


class AmountError(ValueError):
    """A bad amount or integer: ``field: reason``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def parse_yuan(value: object, field: str) -> int:
    """A yuan amount to integer fen: a decimal string of ASCII digits or a number, finite, not
    negative, at most two decimals, not above ``MAX_YUAN``."""
    return _parse_yuan(value, field, MAX_YUAN, signed=False)


def parse_fund_yuan(value: object, field: str, *, signed: bool = False) -> int:
    """A fund's amount (a city's or a province's income, spending or balance) to integer fen:
    as ``parse_yuan`` but bounded by ``MAX_FUND_YUAN``, and negative when ``signed`` (an
    accumulated deficit, 穿底)."""
    return _parse_yuan(value, field, MAX_FUND_YUAN, signed=signed)


def _parse_yuan(value: object, field: str, ceiling: Decimal, *, signed: bool) -> int:
    if value is None or value == "":
        raise AmountError(field, "missing (an amount in yuan)")
    if isinstance(value, bool):
        raise AmountError(field, "must be an amount in yuan, not a boolean")
    if isinstance(value, str):
        text = value.strip(" \t")
        digits = text[1:] if signed and text.startswith("-") else text
        if not _DECIMAL.fullmatch(digits):
            if text.startswith("-") and _DECIMAL.fullmatch(text[1:]):
                raise AmountError(field, f"must not be negative (got {value})")
            raise AmountError(
                field,
                f"{value!r} is not a number (an amount in yuan: ASCII digits, at most two "
                "decimals)",
            )
        number = Decimal(text)
    elif isinstance(value, int | float | Decimal):
        try:
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, ValueError):
            raise AmountError(field, f"{value!r} is not a number") from None
    else:
        raise AmountError(field, "must be an amount in yuan (a decimal number)")
    if not number.is_finite():
        raise AmountError(field, f"{value!r} is not a finite number")
    if number < 0 and not signed:
        raise AmountError(field, f"must not be negative (got {value})")
    if abs(number) > ceiling:
        raise AmountError(field, f"{value} is above the largest amount accepted ({ceiling} yuan)")
    fen = number * 100
    if fen != fen.to_integral_value():
        raise AmountError(field, f"{value} has more than two decimal places")
    return int(fen)


def check_fen(value: object, field: str) -> int:
    """An amount in integer fen within ``[0, MAX_FEN]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(field, f"must be an amount in integer fen, got {value!r}")
    if value < 0:
        raise AmountError(field, f"must not be negative (got {value} fen)")
    if value > MAX_FEN:
        raise AmountError(
            field, f"{value} fen is above the largest amount accepted ({MAX_YUAN} yuan)"
        )
    return value


def parse_int(value: object, field: str) -> int:
    """An integer given as an int or as text of ASCII digits (with an optional sign)."""
    if isinstance(value, bool):
        raise AmountError(field, "must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip(" \t")
        if _INTEGER.fullmatch(text) and len(text) <= 19:
            return int(text)
    raise AmountError(field, f"{value!r} is not an integer (ASCII digits)")


def year_room(accumulated: int, total: int, field: str = "total") -> None:
    """Refuse a claim of ``total`` fen that would take a year-to-date accumulator now at
    ``accumulated`` fen past ``MAX_YEAR_FEN``."""
    if accumulated + total > MAX_YEAR_FEN:
        raise AmountError(
            field,
            f"would take the person's year-to-date amounts past "
            f"{MAX_YEAR_FEN // 100}.00 yuan, the largest a year may hold",
        )


def round_fen(value: Decimal) -> int:
    """An exact amount in fen rounded half up to a whole fen: a rule's one rounding."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
