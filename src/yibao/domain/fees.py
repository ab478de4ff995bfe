"""Fee detail lines (费用明细) and a visit's clinical data (diagnoses, procedures, discharge) as
plain data, with the checks of their fields. No ORM import.

Units as the columnar classification's (``kernel.classify``): quantity in 1/10,000 of a unit
(``cnt``, four decimals), unit price in 1/1,000,000 yuan (``pric``, six decimals), amounts in
fen.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from yibao.domain.errors import InvalidField
from yibao.policy.catalogue import (
    MAX_PRICE_YUAN,
    MAX_QUANTITY,
    PRICE_SCALE,
    QTY_SCALE,
    to_units,
)
from yibao.policy.vocab import DischargeWay, FeeLineStatus, ItemClass, LineReason

#: The most lines one upload (2204) may carry, and a visit may hold.
MAX_LINES_PER_UPLOAD = 2_000
MAX_LINES_PER_VISIT = 20_000
#: Hospital approval flags (hosp_appr_flag): 0 none needed, 1 approved, 2 not approved.
APPROVAL_FLAGS = ("0", "1", "2")
APPROVED = "1"

#: ICD-10 (国家临床版 2.0 included: ``J18.900``, ``I10.x00x002``) and ICD-9-CM-3 (国家临床版
#: 3.0 included: ``36.0600x001``) code formats.
ICD10 = re.compile(r"[A-Z][0-9]{2}(\.[0-9xX]{1,3}([xX][0-9]{3})?)?")
ICD9CM3 = re.compile(r"[0-9]{2}(\.[0-9xX]{1,4}([xX][0-9]{3})?)?")


def _units(value: object, field: str, scale: int, bound: Decimal, unit: str) -> int:
    """``policy.catalogue.to_units`` (the catalogue file's parser), its reason naming
    ``field``."""
    if value is None or value == "":
        raise InvalidField(field, f"missing (a number, {unit})")
    try:
        return to_units(value, scale, bound, unit)
    except ValueError as exc:
        raise InvalidField(field, str(exc)) from None


def parse_quantity(value: object, field: str = "cnt") -> int:
    """``cnt``: more than 0, at most four decimals, at most ``policy.catalogue.MAX_QUANTITY``."""
    q = _units(value, field, QTY_SCALE, MAX_QUANTITY, "item units")
    if q <= 0:
        raise InvalidField(field, f"must be more than 0 (got {value})")
    return q


def parse_price(value: object, field: str = "pric") -> int:
    """``pric`` (yuan): not negative, at most six decimals, at most
    ``policy.catalogue.MAX_PRICE_YUAN``."""
    return _units(value, field, PRICE_SCALE, MAX_PRICE_YUAN, "yuan")


def units_text(value: int, scale: int, places: int) -> str:
    """Integer units of 1/``scale`` as a decimal string with ``places`` decimals."""
    if value >= 0 and places > 0 and scale == 10**places:  # exact: the digits, a point put in
        digits = str(value).zfill(places + 1)
        return digits[:-places] + "." + digits[-places:]
    return str((Decimal(value) / scale).quantize(Decimal(1).scaleb(-places)))


@dataclass(frozen=True, slots=True)
class FeeLineClass:
    """A line's classification (fen): ``amount`` = fully_self_paid + over_limit + in_scope;
    ``category_b`` (乙类) ≤ in_scope."""

    item_class: ItemClass
    fully_self_paid: int
    over_limit: int
    in_scope: int
    category_b: int
    reason: LineReason


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One fee detail line of a visit (费用明细, 2204): the hospital's serial (``feedetl_sn``,
    unique per visit), the national code (``med_list_codg``), quantity, unit price, amount,
    the day the fee was incurred, the hospital's approval flag, and its classification."""

    feedetl_sn: str
    code: str
    quantity: int
    unit_price: int
    amount: int
    fee_date: dt.date
    approval: str = "0"
    status: FeeLineStatus = FeeLineStatus.LIVE
    classes: FeeLineClass | None = None
    id: int | None = None

    @property
    def approved(self) -> bool:
        return self.approval == APPROVED

    def with_amount(self, amount: int) -> FeeLine:
        """This line with ``amount`` (``dataclasses.replace``, several times faster)."""
        return fee_line(
            self.feedetl_sn, self.code, self.quantity, self.unit_price, amount, self.fee_date,
            self.approval, self.status, self.classes, self.id,
        )  # fmt: skip

    def with_classes(self, classes: FeeLineClass | None) -> FeeLine:
        """This line with its classification ``classes``."""
        return fee_line(
            self.feedetl_sn, self.code, self.quantity, self.unit_price, self.amount,
            self.fee_date, self.approval, self.status, classes, self.id,
        )  # fmt: skip


#: The slots of a line and of a classification, set directly by ``fee_line`` and
#: ``fee_line_class`` (each field's descriptor: what a frozen dataclass's ``__init__`` reaches
#: through ``object.__setattr__``, looked up anew per field).
_new = object.__new__
_LINE_SLOTS = "feedetl_sn code quantity unit_price amount fee_date approval status classes id"
_CLASS_SLOTS = "item_class fully_self_paid over_limit in_scope category_b reason"
_SN, _CODE, _QTY, _PRICE, _AMOUNT, _DAY, _APPROVAL, _STATUS, _CLASSES, _ID = (
    getattr(FeeLine, name).__set__ for name in _LINE_SLOTS.split()
)
_ITEM_CLASS, _FULLY, _OVER, _IN_SCOPE, _CAT_B, _REASON = (
    getattr(FeeLineClass, name).__set__ for name in _CLASS_SLOTS.split()
)


def fee_line(
    feedetl_sn: str,
    code: str,
    quantity: int,
    unit_price: int,
    amount: int,
    fee_date: dt.date,
    approval: str,
    status: FeeLineStatus,
    classes: FeeLineClass | None,
    id: int | None,
) -> FeeLine:
    """``FeeLine`` of every field, its slots set directly: the same line in about half the
    time of ``__init__``'s (the paths that make a line per uploaded line). A field added to
    ``FeeLine`` is added here (``tests/test_fee_answer.py`` checks every field is set)."""
    line: FeeLine = _new(FeeLine)
    _SN(line, feedetl_sn)
    _CODE(line, code)
    _QTY(line, quantity)
    _PRICE(line, unit_price)
    _AMOUNT(line, amount)
    _DAY(line, fee_date)
    _APPROVAL(line, approval)
    _STATUS(line, status)
    _CLASSES(line, classes)
    _ID(line, id)
    return line


def fee_line_class(
    item_class: ItemClass,
    fully_self_paid: int,
    over_limit: int,
    in_scope: int,
    category_b: int,
    reason: LineReason,
) -> FeeLineClass:
    """``FeeLineClass`` of every field, its slots set directly (``fee_line``)."""
    c: FeeLineClass = _new(FeeLineClass)
    _ITEM_CLASS(c, item_class)
    _FULLY(c, fully_self_paid)
    _OVER(c, over_limit)
    _IN_SCOPE(c, in_scope)
    _CAT_B(c, category_b)
    _REASON(c, reason)
    return c


@dataclass(frozen=True, slots=True)
class LineSums:
    """A visit's live lines summed (fen): what settlement derives the claim's amounts from."""

    count: int
    amount: int
    fully_self_paid: int
    over_limit: int
    in_scope: int
    category_b: int
    #: (rule code, lines) of the line rules the lines' classification fires
    #: (``policy.supervision.LINE_RULE_REASONS``), those with lines only: what 2207 checks a
    #: refusing rule against without reading the lines
    rule_lines: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    #: the day of the last live line (a settlement is not dated before it); None: not known
    last_day: dt.date | None = field(default=None, compare=False)


def check_discharge_way(value: object, field: str = "dscg_way") -> DischargeWay:
    try:
        return DischargeWay(str(value).strip())
    except ValueError:
        codes = ", ".join(f"{w.value} ({w.name.lower()})" for w in DischargeWay)
        raise InvalidField(field, f"unknown code {value!r}; expected one of {codes}") from None


def check_icd10(value: object, field: str = "diag_code") -> str:
    """An ICD-10 diagnosis code (国家临床版 included): a letter, two digits, an optional
    subdivision; the letter is read in upper case."""
    text = str(value).strip() if isinstance(value, str) else ""
    code = text[:1].upper() + text[1:]
    if not ICD10.fullmatch(code):
        raise InvalidField(field, f"{value!r} is not an ICD-10 code (e.g. J18.900, I10.x00x002)")
    return code


def check_icd9cm3(value: object, field: str = "oprn_oprt_code") -> str:
    """An ICD-9-CM-3 procedure code (国家临床版 included): two digits, an optional
    subdivision."""
    code = value.strip() if isinstance(value, str) else ""
    if not ICD9CM3.fullmatch(code):
        raise InvalidField(field, f"{value!r} is not an ICD-9-CM-3 code (e.g. 47.09, 36.0600x001)")
    return code


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A visit's diagnosis (ICD-10); the principal one (主要诊断) comes first."""

    code: str
    principal: bool = False
    diag_type: str = "1"  # 1 西医诊断, 2 中医主病, 3 中医主证


@dataclass(frozen=True, slots=True)
class Procedure:
    """A visit's procedure or operation (ICD-9-CM-3); the main one (主手术) comes first."""

    code: str
    on: dt.date | None = None
    main: bool = False


def principal_first(diagnoses: list[Diagnosis], field: str = "diseinfo") -> list[Diagnosis]:
    """The diagnoses with the principal one first: the one flagged, else the first given; two
    flagged, or a code given twice, is refused."""
    flagged = [i for i, d in enumerate(diagnoses) if d.principal]
    if len(flagged) > 1:
        raise InvalidField(f"{field}[{flagged[1]}].maindiag_flag", "a second principal diagnosis")
    seen: set[str] = set()
    for i, d in enumerate(diagnoses):
        if d.code in seen:
            raise InvalidField(f"{field}[{i}].diag_code", f"{d.code} is given twice")
        seen.add(d.code)
    if not diagnoses:
        return []
    first = flagged[0] if flagged else 0
    ordered = [diagnoses[first]] + [d for i, d in enumerate(diagnoses) if i != first]
    return [
        Diagnosis(d.code, principal=(i == 0), diag_type=d.diag_type) for i, d in enumerate(ordered)
    ]
