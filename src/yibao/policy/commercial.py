"""The region's supplementary commercial insurance products (惠民保), dated like every parameter
(``commercial.products.<code>``): each product's name, insurer, annual deductible, ratio, annual
cap, what it covers (``in_scope``: the in-scope remainder after the funds; ``listed``: the
claim's self-paid items on its list), its sale period for a coverage year, and the days after a
purchase within which it may be cancelled (``cooling_off_days``, 犹豫期). A product's terms for
year Y are those in force on 1 January of Y (docs/parameters.md)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from yibao.policy.errors import ParameterError
from yibao.policy.params import Policy, fen_to_yuan

ROOT = "commercial.products"
#: A product or insurer code: letters, digits, ``-`` and ``_``, 1 to 40.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}")
#: What a product may cover (``covers``), in the kernel's order of bits.
COVERS = ("in_scope", "listed")
_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")


@dataclass(frozen=True)
class Product:
    """A product's terms for one coverage year: ``deductible`` and ``cap`` in fen a year,
    ``ratio`` exact, ``covers`` a subset of ``COVERS``; sold from ``sale_from`` to ``sale_to``
    (inclusive) for that year."""

    code: str
    name: str
    insurer: str
    deductible: int
    ratio: Decimal
    cap: int
    covers: tuple[str, ...]
    sale_from: dt.date
    sale_to: dt.date
    #: days after a purchase within which it may be cancelled (犹豫期) even once it covers
    cooling_off_days: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "product_name": self.name,
            "insurer": self.insurer,
            "deductible": fen_to_yuan(self.deductible),
            "ratio": str(self.ratio),
            "cap": fen_to_yuan(self.cap),
            "covers": list(self.covers),
            "sale_from": self.sale_from.isoformat(),
            "sale_to": self.sale_to.isoformat(),
            "cooling_off_days": self.cooling_off_days,
        }


def _month_day(file: str, path: str, value: object) -> tuple[int, int]:
    found = _MONTH_DAY.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ParameterError(file, path, f"expected a day of the year MM-DD, got {value!r}")
    month, day = int(found.group(1)), int(found.group(2))
    try:
        dt.date(2024, month, day)  # a leap year: 02-29 allowed
    except ValueError:
        raise ParameterError(file, path, f"{value!r} is not a day of the year") from None
    return month, day


def _on(year: int, month: int, day: int) -> dt.date:
    """The day in ``year``; 02-29 in a common year is 02-28."""
    if month == 2 and day == 29 and (year % 4 or (year % 100 == 0 and year % 400)):
        day = 28
    return dt.date(year, month, day)


def sale_period(
    year: int, opens: tuple[int, int], closes: tuple[int, int]
) -> tuple[dt.date, dt.date]:
    """The sale period for coverage year ``year``: it closes on ``closes`` of ``year`` and opens
    on ``opens`` of ``year``, or of the year before when ``opens`` comes after ``closes`` in the
    calendar (sold from 11-01 to 03-31: 1 November of Y−1 to 31 March of Y)."""
    start_year = year - 1 if opens > closes else year
    return _on(start_year, *opens), _on(year, *closes)


def products(policy: Policy, year: int) -> dict[str, Product]:
    """The products sold for coverage year ``year`` by code (their terms on 1 January of
    ``year``); empty when the region lists none."""
    on = dt.date(year, 1, 1)
    if not policy.has(ROOT, on):
        return {}
    out: dict[str, Product] = {}
    for code, entry in policy.node(ROOT, on).items():
        path = f"{ROOT}.{code}"
        file = policy.source_file(path, on)
        if not CODE.fullmatch(code):
            raise ParameterError(file, path, "not a product code")
        if not isinstance(entry, dict):
            raise ParameterError(file, path, "expected a product entry")
        insurer = entry.get("insurer")
        if not isinstance(insurer, str) or not CODE.fullmatch(insurer):
            raise ParameterError(file, f"{path}.insurer", "expected the insurer's code")
        amounts = {}
        for key in ("deductible", "cap"):
            value = entry.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ParameterError(file, f"{path}.{key}", "expected an amount")
            amounts[key] = value
        if amounts["cap"] <= 0:
            raise ParameterError(file, f"{path}.cap", "must be above 0")
        ratio = entry.get("ratio")
        if isinstance(ratio, bool) or not isinstance(ratio, int | Decimal) or not 0 < ratio <= 1:
            raise ParameterError(file, f"{path}.ratio", "expected a rate above 0, at most 1")
        covers = entry.get("covers", ["in_scope"])
        if (
            not isinstance(covers, list)
            or not covers
            or any(c not in COVERS for c in covers)
            or len(set(covers)) != len(covers)
        ):
            raise ParameterError(file, f"{path}.covers", "must list in_scope and/or listed")
        opens = _month_day(file, f"{path}.sale_from", entry.get("sale_from"))
        closes = _month_day(file, f"{path}.sale_to", entry.get("sale_to"))
        sale_from, sale_to = sale_period(year, opens, closes)
        cooling = entry.get("cooling_off_days", 0)
        if isinstance(cooling, bool) or not isinstance(cooling, int) or not 0 <= cooling <= 366:
            raise ParameterError(file, f"{path}.cooling_off_days", "expected 0 to 366 days")
        out[code] = Product(
            code,
            str(entry.get("name", code)),
            insurer,
            amounts["deductible"],
            Decimal(ratio),
            amounts["cap"],
            tuple(c for c in COVERS if c in covers),
            sale_from,
            sale_to,
            cooling,
        )
    return out
