"""Provider payment group tables as files: a DIP group table (病种分值表) and a DRG grouping
table (分组方案 with relative weights). Both are CSV (UTF-8, ``#`` comment lines allowed), one
row per line; docs/provider-payment.md describes the columns. Every error names the file, the
line and the column.

DIP (``method = dip``), columns ``code, kind, name, score, avg_cost, cases``: one group per row;
``kind`` is ``core``, ``comprehensive`` or ``per_diem`` (``score`` is then the points per bed day).

DRG (``method = drg``), columns ``level, code, name, parent, by, codes, split, age_min, age_max,
weight, avg_cost, cases``: ``mdc`` rows (principal diagnosis ranges), ``adrg`` rows (``parent``
the MDC, ``by`` ``procedure`` or ``diagnosis``, the codes they match), ``drg`` rows (``parent``
the ADRG, ``split`` ``mcc``, ``cc`` or empty, an optional age range, the weight × 100), and
``cc`` / ``mcc`` rows listing the secondary diagnoses that are complications.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from yibao.policy.errors import ParameterError

METHODS = ("dip", "drg")
DIP_COLUMNS = ("code", "kind", "name", "score", "avg_cost", "cases")
DRG_COLUMNS = (
    "level", "code", "name", "parent", "by", "codes", "split", "age_min", "age_max",
    "weight", "avg_cost", "cases",
)  # fmt: skip
REQUIRED = {"dip": ("code", "score"), "drg": ("level", "code")}
DIP_KINDS = ("core", "comprehensive", "per_diem")
DRG_LEVELS = ("mdc", "adrg", "drg", "cc", "mcc")
DRG_BY = ("procedure", "diagnosis")
DRG_SPLITS = ("mcc", "cc", "")
#: Points and weights: four places; at most this many points.
MAX_SCORE = Decimal(1_000_000)
MAX_AVG_COST_YUAN = Decimal(100_000_000)
MAX_ROWS = 200_000
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:\-+_*]{0,63}")
_CODE_ITEM = re.compile(
    r"[A-Z][0-9A-Z.]{0,9}(-[A-Z][0-9A-Z.]{0,9})?|[0-9]{2}(\.[0-9x]{0,4})?(-[0-9]{2}(\.[0-9x]{0,4})?)?"
)
_MAX_TEXT = 500


class GroupTableError(ParameterError):
    """A group table file is wrong: names the file, the line and the column."""

    def __init__(self, file: str, line: int | None, field: str, reason: str) -> None:
        self.line = line
        self.field = field
        where = f"line {line}: {field}" if line is not None else field
        super().__init__(file, where, reason)


@dataclass(frozen=True, slots=True)
class GroupTableRow:
    """One row of a group table. DIP rows have ``level`` ``group``. ``score`` is the DIP score or
    the DRG weight (× 100) in points × 10^4; ``avg_cost`` fen."""

    level: str
    code: str
    kind: str = ""
    name: str = ""
    parent: str = ""
    by: str = ""
    codes: tuple[str, ...] = ()
    split: str = ""
    age_min: int | None = None
    age_max: int | None = None
    score: int | None = None
    avg_cost: int | None = None
    cases: int | None = None


def shipped_drg_table(region: str) -> Path | None:
    """The shipped illustrative DRG grouping table of a region, if any."""
    path = Path(str(resources.files("yibao.policy") / "provider_payment" / f"drg_{region}.csv"))
    return path if path.is_file() else None


def read_table(path: Path | str, method: str) -> list[GroupTableRow]:
    """A group table file (CSV)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise GroupTableError(str(p), None, "file", f"cannot read: {exc.strerror}") from exc
    return parse_csv(data, method, str(p))


def parse_csv(data: bytes | str, method: str, file: str = "<table>") -> list[GroupTableRow]:
    """A CSV group table (UTF-8, a byte order mark allowed, ``#`` comment lines skipped)."""
    if method not in METHODS:
        raise GroupTableError(file, None, "method", f"unknown method {method!r}")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise GroupTableError(file, line, "file", "not UTF-8 text") from exc
    else:
        text = data.removeprefix("\ufeff")
    columns = DIP_COLUMNS if method == "dip" else DRG_COLUMNS
    rows = [_row(method, cells, file, n) for n, cells in _csv_rows(text, file, columns, method)]
    _check_table(method, rows, file)
    return rows


def _csv_rows(
    text: str, file: str, columns: tuple[str, ...], method: str
) -> Iterator[tuple[int, dict[str, str]]]:
    lines = text.splitlines()
    numbered = [(n, s) for n, s in enumerate(lines, start=1) if s.strip()]
    numbered = [(n, s) for n, s in numbered if not s.lstrip().startswith("#")]
    if not numbered:
        raise GroupTableError(file, None, "header", "the file has no header line")
    if len(numbered) > MAX_ROWS + 1:
        raise GroupTableError(file, None, "file", f"more than {MAX_ROWS} rows")
    try:
        parsed = list(csv.reader(io.StringIO("\n".join(s for _, s in numbered)), strict=True))
    except csv.Error as exc:
        raise GroupTableError(file, None, "file", f"not valid CSV: {exc}") from exc
    if len(parsed) != len(numbered):
        raise GroupTableError(file, None, "file", "a quoted field spans lines")
    header = [h.strip() for h in parsed[0]]
    for h in header:
        if h not in columns:
            raise GroupTableError(
                file,
                numbered[0][0],
                "header",
                f"unknown column {h!r}; expected {', '.join(columns)}",
            )
    if len(set(header)) != len(header):
        raise GroupTableError(file, numbered[0][0], "header", "a column is named twice")
    for need in REQUIRED[method]:
        if need not in header:
            raise GroupTableError(file, numbered[0][0], "header", f"missing column {need!r}")
    for (n, _), values in zip(numbered[1:], parsed[1:], strict=True):
        if len(values) != len(header):
            raise GroupTableError(
                file, n, "row", f"has {len(values)} fields, the header {len(header)}"
            )
        yield n, dict(zip(header, values, strict=True))


def _row(method: str, cells: Mapping[str, str], file: str, line: int) -> GroupTableRow:
    def cell(name: str) -> str:
        value = cells.get(name, "").strip()
        if len(value) > _MAX_TEXT or not value.isprintable():
            raise fail(name, f"must be printable text of at most {_MAX_TEXT} characters")
        return value

    def fail(name: str, reason: str) -> GroupTableError:
        return GroupTableError(file, line, name, reason)

    def decimal(name: str, bound: Decimal, places: int) -> Decimal | None:
        raw = cell(name)
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise fail(name, f"not a number: {raw!r}") from exc
        if not value.is_finite() or value < 0 or value > bound:
            raise fail(name, f"must be a number from 0 to {bound}, got {raw}")
        if value != value.quantize(Decimal(1).scaleb(-places)):
            raise fail(name, f"at most {places} decimal places, got {raw}")
        return value

    def whole(name: str, lo: int, hi: int) -> int | None:
        raw = cell(name)
        if not raw:
            return None
        if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
            raise fail(name, f"must be a whole number from {lo} to {hi}, got {raw!r}")
        return int(raw)

    def points(name: str) -> int | None:
        v = decimal(name, MAX_SCORE, 4)
        if v is not None and v == 0:
            raise fail(name, "must be above 0")
        return None if v is None else int(v * 10_000)

    def fen(name: str) -> int | None:
        v = decimal(name, MAX_AVG_COST_YUAN, 2)
        if v is not None and v == 0:
            raise fail(name, "must be above 0")
        return None if v is None else int(v * 100)

    code = cell("code")
    if not _CODE.fullmatch(code):
        raise fail("code", f"must be a group code (letters, digits, . : - + _ *), got {code!r}")
    cases = whole("cases", 0, 10**9)
    if method == "dip":
        kind = cell("kind") or ("comprehensive" if code.startswith("chapter:") else "core")
        if kind not in DIP_KINDS:
            raise fail("kind", f"unknown kind {kind!r}; expected {', '.join(DIP_KINDS)}")
        score = points("score")
        if score is None:
            raise fail("score", "missing")
        avg = fen("avg_cost")
        if avg is None and kind != "per_diem":
            raise fail("avg_cost", "missing: a group needs its average cost")
        return GroupTableRow(
            "group", code, kind=kind, name=cell("name"), score=score, avg_cost=avg, cases=cases
        )
    level = cell("level").lower()
    if level not in DRG_LEVELS:
        raise fail("level", f"unknown level {level!r}; expected {', '.join(DRG_LEVELS)}")
    codes = tuple(c.strip().upper() for c in cell("codes").split(";") if c.strip())
    for c in codes:
        if not _CODE_ITEM.fullmatch(c):
            raise fail("codes", f"{c!r} is not an ICD-10 or ICD-9-CM-3 code or range")
    by = cell("by").lower()
    split = cell("split").lower()
    if level in ("mdc", "adrg", "cc", "mcc") and not codes:
        raise fail("codes", f"missing: a {level} row lists the codes it matches")
    if level == "adrg" and by not in DRG_BY:
        raise fail("by", f"must be {' or '.join(DRG_BY)}, got {by!r}")
    if level in ("adrg", "drg") and not cell("parent"):
        raise fail(
            "parent", f"missing: a {level} row names its {'MDC' if level == 'adrg' else 'ADRG'}"
        )
    if split not in DRG_SPLITS:
        raise fail("split", f"must be mcc, cc or empty, got {split!r}")
    age_min = whole("age_min", 0, 150)
    age_max = whole("age_max", 0, 150)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise fail("age_max", "is below age_min")
    return GroupTableRow(
        level,
        code,
        name=cell("name"),
        parent=cell("parent"),
        by=by,
        codes=codes,
        split=split,
        age_min=age_min,
        age_max=age_max,
        score=points("weight"),
        avg_cost=fen("avg_cost"),
        cases=cases,
        kind="drg" if level == "drg" else "",
    )


def _check_table(method: str, rows: list[GroupTableRow], file: str) -> None:
    if not rows:
        raise GroupTableError(file, None, "file", "the table has no rows")
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.level, row.code)
        if key in seen:
            raise GroupTableError(file, None, "code", f"{row.level} {row.code} is listed twice")
        seen.add(key)
    if method == "drg":
        for row in rows:
            want = {"adrg": "mdc", "drg": "adrg"}.get(row.level)
            if want and (want, row.parent) not in seen:
                raise GroupTableError(
                    file, None, "parent", f"{row.level} {row.code}: unknown {want} {row.parent!r}"
                )


def _points(value: int | None) -> str:
    if value is None:
        return ""
    whole, part = divmod(value, 10_000)
    return f"{whole}.{part:04d}"


def _yuan(value: int | None) -> str:
    if value is None:
        return ""
    whole, part = divmod(value, 100)
    return f"{whole}.{part:02d}"


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def to_csv(rows: list[GroupTableRow], method: str) -> str:
    """A table as CSV in the layout ``parse_csv`` reads (points four places, yuan two)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if method == "dip":
        writer.writerow(DIP_COLUMNS)
        for r in rows:
            writer.writerow(
                [r.code, r.kind, r.name, _points(r.score), _yuan(r.avg_cost), _opt(r.cases)]
            )
    else:
        writer.writerow(DRG_COLUMNS)
        for r in rows:
            writer.writerow(
                [
                    r.level,
                    r.code,
                    r.name,
                    r.parent,
                    r.by,
                    ";".join(r.codes),
                    r.split,
                    _opt(r.age_min),
                    _opt(r.age_max),
                    _points(r.score),
                    _yuan(r.avg_cost),
                    _opt(r.cases),
                ]
            )
    return buf.getvalue()
