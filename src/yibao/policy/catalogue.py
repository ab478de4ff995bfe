"""The catalogue (医保目录) as a file: its layout, its parser and the shipped illustrative one.

A catalogue file (CSV, UTF-8, ``#`` comment lines allowed; or Parquet with the same columns) has
one row per item version; docs/catalogue.md describes each column. Money is read in yuan (a price
limit to the millionth of a yuan, the unit price's precision), quantities in the item's unit (to
the ten-thousandth); both come out as the kernel's integer units (``QTY_SCALE``,
``PRICE_SCALE``). ``valid_from`` and ``valid_to`` are the first and the last day a row applies
(both inclusive, optional). Every error names the file, the line (CSV: the line of the file;
Parquet: the row, from 1) and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path

from yibao.policy.errors import ParameterError
from yibao.policy.vocab import ItemClass, ItemKind

QTY_SCALE = 10_000  # quantity units per item unit (the platform's cnt: four decimals)
PRICE_SCALE = 1_000_000  # price units per yuan (the platform's pric: six decimals)
#: The largest unit price or price limit accepted (yuan).
MAX_PRICE_YUAN = Decimal(1_000_000)
#: The largest quantity limit accepted (item units).
MAX_QUANTITY = Decimal(1_000_000)

#: The columns, in the order of the shipped file; the required ones first.
REQUIRED_COLUMNS = ("code", "name", "kind", "class")
OPTIONAL_COLUMNS = (
    "unit",
    "price_limit",
    "typical_price",
    "sex",
    "min_age",
    "max_age",
    "min_level",
    "max_per_day",
    "max_per_stay",
    "indication",
    "valid_from",
    "valid_to",
    "fee_type",
    "procedure",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: Sex codes (GB/T 2261.1): 0 any, 1 male, 2 female; the file writes "", "M"/"1" or "F"/"2".
SEX_CODES = {"": 0, "M": 1, "1": 1, "F": 2, "2": 2}
#: A national code: ASCII letters and digits, 1 to 50 characters.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,49}")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MAX_TEXT = 500


class CatalogueError(ParameterError):
    """A catalogue file is wrong: names the file, the line (or row) and the column."""

    def __init__(self, file: str, line: int | None, field: str, reason: str) -> None:
        self.line = line
        self.field = field
        where = f"line {line}: {field}" if line is not None else field
        super().__init__(file, where, reason)


@dataclass(frozen=True)
class CatalogueItem:
    """One version of one catalogue item (目录项目). Prices in price units (1/1,000,000 yuan),
    quantities in quantity units (1/10,000 of the item's unit); None: no limit."""

    code: str  # national code (医保目录编码)
    name: str
    kind: ItemKind
    item_class: ItemClass  # 甲类 / 乙类 / 丙类
    unit: str = ""
    price_limit: int | None = None  # 限价
    typical_price: int | None = None  # illustrative unit price, for the synthetic area
    sex: int = 0  # 0 any, 1 male only, 2 female only (限性别)
    min_age: int | None = None  # years, inclusive (限年龄)
    max_age: int | None = None
    min_level: int | None = None  # lowest institution level that may bill it (限医疗机构级别)
    max_per_day: int | None = None  # 日限量
    max_per_stay: int | None = None  # 单次住院限量
    indication: str = ""  # 限适应症: in scope only when the hospital approves (hosp_appr_flag)
    valid_from: dt.date | None = None  # first day (inclusive)
    valid_to: dt.date | None = None  # last day (inclusive)
    fee_type: str = ""  # 医疗收费项目类别 (med_chrgitm_type), two digits
    procedure: str = ""  # the ICD-9-CM-3 procedure an item belongs to (informative)

    @property
    def needs_approval(self) -> bool:
        return bool(self.indication)

    def applies_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def shipped_folder() -> Path:
    """The catalogues shipped with the package (``policy/catalogues/<region>.csv``)."""
    return Path(str(resources.files("yibao.policy") / "catalogues"))


def shipped_catalogue(region: str) -> Path | None:
    """The shipped catalogue file of ``region``, or None."""
    path = shipped_folder() / f"{region}.csv"
    return path if path.is_file() else None


def read_catalogue(path: Path | str) -> list[CatalogueItem]:
    """Read and check a catalogue file (``.parquet``: Parquet, else CSV)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return parse_rows(_parquet_rows(path), str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(str(path), None, "file", f"cannot read: {exc.strerror}") from exc
    return parse_csv(data, str(path))


def parse_csv(data: bytes | str, file: str = "<catalogue>") -> list[CatalogueItem]:
    """A CSV catalogue (UTF-8, a byte order mark allowed, ``#`` comment lines skipped)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise CatalogueError(file, line, "file", "not UTF-8 text") from exc
    else:
        text = data.removeprefix("\ufeff")
    return parse_rows(_csv_rows(text, file), file)


def _csv_rows(text: str, file: str) -> Iterator[tuple[int, dict[str, str]]]:
    lines = text.splitlines()
    numbered = [(n, s) for n, s in enumerate(lines, start=1) if not s.lstrip().startswith("#")]
    numbered = [(n, s) for n, s in numbered if s.strip()]
    if not numbered:
        raise CatalogueError(file, None, "header", "the file has no header line")
    try:
        parsed = list(csv.reader(io.StringIO("\n".join(s for _, s in numbered)), strict=True))
    except csv.Error as exc:
        raise CatalogueError(file, None, "file", f"not valid CSV: {exc}") from exc
    if len(parsed) != len(numbered):  # a quoted field with a line break
        raise CatalogueError(file, None, "file", "a quoted field spans lines")
    header_line, header = numbered[0][0], [h.strip() for h in parsed[0]]
    _check_header(header, file, header_line)
    for (n, _), values in zip(numbered[1:], parsed[1:], strict=True):
        if len(values) != len(header):
            raise CatalogueError(
                file, n, "row", f"has {len(values)} fields, the header {len(header)}"
            )
        yield n, dict(zip(header, values, strict=True))


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise CatalogueError(str(path), None, "file", f"not a Parquet file: {exc}") from exc
    header = list(table.column_names)
    _check_header(header, str(path), None)
    for n, row in enumerate(table.to_pylist(), start=1):
        yield n, {k: "" if v is None else str(v) for k, v in row.items()}


def _check_header(header: Sequence[str], file: str, line: int | None) -> None:
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise CatalogueError(file, line, name, "missing column")
    for name in header:
        if name not in COLUMNS:
            raise CatalogueError(
                file, line, name or "header", f"unknown column; expected {', '.join(COLUMNS)}"
            )
    dup = {h for h in header if list(header).count(h) > 1}
    if dup:
        raise CatalogueError(file, line, sorted(dup)[0], "column given twice")


def parse_rows(rows: Iterable[tuple[int, Mapping[str, str]]], file: str) -> list[CatalogueItem]:
    """Check each (line number, row) and build the items; a code may appear more than once only
    with validity periods that do not overlap."""
    items: list[CatalogueItem] = []
    seen: dict[str, list[tuple[int, CatalogueItem]]] = {}
    for line, row in rows:
        item = parse_row(row, file, line)
        for other_line, other in seen.get(item.code, []):
            if _overlap(item, other):
                raise CatalogueError(
                    file,
                    line,
                    "code",
                    f"{item.code} is already listed on line {other_line} for an overlapping "
                    "period (valid_from .. valid_to)",
                )
        seen.setdefault(item.code, []).append((line, item))
        items.append(item)
    if not items:
        raise CatalogueError(file, None, "file", "no items")
    return items


def _overlap(a: CatalogueItem, b: CatalogueItem) -> bool:
    lo = dt.date.min
    hi = dt.date.max
    return (a.valid_from or lo) <= (b.valid_to or hi) and (b.valid_from or lo) <= (a.valid_to or hi)


def to_units(value: object, scale: int, bound: Decimal, unit: str) -> int:
    """A non-negative decimal (text or number) in integer units of 1/``scale`` (a price in
    price units, a quantity in quantity units); ValueError with the reason otherwise."""
    if type(value) is str and _DECIMAL.fullmatch(value):  # the common case, in integers
        whole, _, frac = value.partition(".")
        places = _PLACES.get(scale)
        if places is not None and len(frac) <= places:
            units = int(whole) * scale + (int(frac.ljust(places, "0")) if frac else 0)
            if units <= _bound_units(bound, scale):
                return units
    return _to_units(value, scale, bound, unit)


#: Decimal places of the scales ``to_units`` converts in integers.
_PLACES = {10**k: k for k in range(1, 10)}


@functools.lru_cache(maxsize=16)
def _bound_units(bound: Decimal, scale: int) -> int:
    """``bound`` in units of 1/``scale``, rounded down (a value is above it iff its units
    are)."""
    return int(bound * scale)


def _to_units(value: object, scale: int, bound: Decimal, unit: str) -> int:
    """``to_units`` of any value, with the reason of a refusal."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"must be a number ({unit})")
    text = value.strip() if isinstance(value, str) else str(value)
    if text.startswith("-") and _DECIMAL.fullmatch(text[1:]):
        raise ValueError(f"must not be negative (got {text})")
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{text!r} is not a number ({unit})")
    number = Decimal(text)
    if number > bound:
        raise ValueError(f"{text} is above the largest accepted ({bound} {unit})")
    units = number * scale
    if units != units.to_integral_value():
        raise ValueError(f"{text} has more than {len(str(scale)) - 1} decimals")
    return int(units)


def kind_of_code(code: str) -> ItemKind:
    """The list a national code belongs to by its first character: X, Z, T drugs (西药, 中成药,
    中药饮片), C consumables, anything else a service item."""
    first = code[:1].upper()
    if first in ("X", "Z", "T"):
        return ItemKind.DRUG
    return ItemKind.CONSUMABLE if first == "C" else ItemKind.SERVICE


def parse_row(row: Mapping[str, str], file: str, line: int) -> CatalogueItem:
    """One row of a catalogue file."""

    def cell(name: str) -> str:
        value = row.get(name) or ""
        if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise CatalogueError(file, line, name, "control character")
        if len(value) > _MAX_TEXT:
            raise CatalogueError(file, line, name, f"longer than {_MAX_TEXT} characters")
        return value.strip()

    def fail(name: str, reason: str) -> CatalogueError:
        return CatalogueError(file, line, name, reason)

    code = cell("code")
    if not code:
        raise fail("code", "missing")
    if not _CODE.fullmatch(code):
        raise fail("code", f"{code!r} is not a national code (ASCII letters and digits)")
    name = cell("name")
    if not name:
        raise fail("name", "missing")
    kind = cell("kind").lower()
    if kind not in tuple(ItemKind):
        raise fail("kind", f"unknown kind {kind!r}; expected one of {', '.join(ItemKind)}")
    cls = cell("class").upper()
    by_code = {"01": "A", "02": "B", "03": "C"}  # the platform's chrgitm_lv codes
    cls = by_code.get(cls, cls)
    if cls not in tuple(ItemClass):
        raise fail("class", f"unknown class {cls!r}; expected A, B or C (or 01, 02, 03)")

    def scaled(name: str, scale: int, bound: Decimal, unit: str) -> int | None:
        text = cell(name)
        if not text:
            return None
        try:
            return to_units(text, scale, bound, unit)
        except ValueError as exc:
            raise fail(name, str(exc)) from None

    def whole(name: str, lo: int, hi: int) -> int | None:
        text = cell(name)
        if not text:
            return None
        if not text.isascii() or not text.isdigit():
            raise fail(name, f"{text!r} is not a whole number from {lo} to {hi}")
        value = int(text)
        if not lo <= value <= hi:
            raise fail(name, f"{value} is outside {lo} .. {hi}")
        return value

    def day(name: str) -> dt.date | None:
        text = cell(name)
        if not text:
            return None
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise fail(name, f"{text!r} is not an ISO date (YYYY-MM-DD)") from None
        if not dt.date(1970, 1, 1) <= value <= dt.date(2999, 12, 31):
            raise fail(name, f"{value} is outside 1970-01-01 .. 2999-12-31")
        return value

    price_limit = scaled("price_limit", PRICE_SCALE, MAX_PRICE_YUAN, "yuan")
    typical = scaled("typical_price", PRICE_SCALE, MAX_PRICE_YUAN, "yuan")
    sex_text = cell("sex").upper()
    if sex_text not in SEX_CODES:
        raise fail("sex", f"unknown sex {sex_text!r}; expected empty, M or F (1 or 2)")
    min_age = whole("min_age", 0, 150)
    max_age = whole("max_age", 0, 150)
    if min_age is not None and max_age is not None and min_age > max_age:
        raise fail("max_age", f"{max_age} is below min_age {min_age}")
    per_day = scaled("max_per_day", QTY_SCALE, MAX_QUANTITY, "item units")
    per_stay = scaled("max_per_stay", QTY_SCALE, MAX_QUANTITY, "item units")
    valid_from = day("valid_from")
    valid_to = day("valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise fail("valid_to", f"{valid_to} is before valid_from {valid_from}")
    fee_type = cell("fee_type")
    if fee_type and not (len(fee_type) == 2 and fee_type.isascii() and fee_type.isdigit()):
        raise fail("fee_type", f"{fee_type!r} is not a two-digit med_chrgitm_type code")
    return CatalogueItem(
        code=code,
        name=name,
        kind=ItemKind(kind),
        item_class=ItemClass(cls),
        unit=cell("unit"),
        price_limit=price_limit,
        typical_price=typical,
        sex=SEX_CODES[sex_text],
        min_age=min_age,
        max_age=max_age,
        min_level=whole("min_level", 1, 3),
        max_per_day=per_day,
        max_per_stay=per_stay,
        indication=cell("indication"),
        valid_from=valid_from,
        valid_to=valid_to,
        fee_type=fee_type,
        procedure=cell("procedure"),
    )


def items_on(items: Iterable[CatalogueItem], day: dt.date) -> dict[str, CatalogueItem]:
    """The items that apply on ``day``, by code."""
    return {i.code: i for i in items if i.applies_on(day)}


@cache
def _shipped_items(path: str, mtime: float) -> tuple[CatalogueItem, ...]:
    return tuple(read_catalogue(path))


def region_chain(region: str) -> list[str]:
    """Where a region's catalogue comes from, nearest first: the region, its parents in the
    parameter files (``Policy``'s chain, from the folder in use), then the national one; a
    region without a parameter file: itself, its province (the first two digits + 0000), then
    the national one."""
    from yibao.policy.params import policy_dir

    return list(_region_chain(region, policy_dir()))


@cache
def _region_chain(region: str, folder: Path | None) -> tuple[str, ...]:
    from yibao.policy.errors import UnknownRegion
    from yibao.policy.params import NATIONAL, Policy

    try:
        chain = [layer.region for layer in Policy(region, folder=folder).chain]
    except UnknownRegion:
        chain = [region, f"{region[:2]}0000"]
    chain.append(NATIONAL)
    return tuple(dict.fromkeys(chain))


def shipped_file_items(region: str) -> tuple[CatalogueItem, ...] | None:
    """The items of the file shipped for exactly ``region`` (read once per file), or None."""
    path = shipped_catalogue(region)
    return None if path is None else _shipped_items(str(path), path.stat().st_mtime)


def shipped_items(region: str) -> tuple[str, tuple[CatalogueItem, ...]]:
    """The shipped catalogue that applies to ``region`` (``region_chain``): the region it
    belongs to, and its items (read once per file)."""
    for code in region_chain(region):
        items = shipped_file_items(code)
        if items is not None:
            return code, items
    raise CatalogueError(str(shipped_folder()), None, "region", f"no catalogue for {region!r}")


def merge_by_code(layers: Sequence[Iterable[CatalogueItem]]) -> list[CatalogueItem]:
    """The catalogue of a region from its chain's catalogues, nearest first: each code's
    versions come from the nearest catalogue that lists the code at all (a province's file
    adds its own items to the national ones and overrides those it lists again)."""
    taken: dict[str, int] = {}
    out: list[CatalogueItem] = []
    for depth, items in enumerate(layers):
        for item in items:
            if taken.setdefault(item.code, depth) == depth:
                out.append(item)
    return out
