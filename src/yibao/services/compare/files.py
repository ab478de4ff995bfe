"""Department files in, by their declared layouts (docs/compare.md): CSV or Parquet, streamed
in batches, every row checked column by column; a bad row is reported by its number and field
and the rest is processed.

``row_no`` is the 1-based number of the data row in the file (a CSV's header line not counted).
A row whose ID is missing or malformed is reported (``kept``: it goes on to the unmatched
records that record linkage takes); a row with another bad field is reported and dropped. A
file without a column of its layout is refused as a whole (``LayoutError``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from yibao.domain.errors import InvalidField
from yibao.domain.identity import ID_REASONS, id_keys, normalise_ids
from yibao.policy.vocab import AidClass

BATCH_ROWS = 1 << 20


@dataclass(frozen=True)
class Column:
    name: str
    #: id, text, sex, date, int, aid_class
    kind: str
    required: bool = True
    low: int = 0
    high: int = 0


_ID = Column("id_no", "id", required=False)
_NAME = Column("name", "text")
LAYOUTS: dict[str, tuple[Column, ...]] = {
    "household": (
        _ID,
        _NAME,
        Column("sex", "sex"),
        Column("birth_date", "date"),
        Column("address", "text", required=False),
        Column("household_no", "text", required=False),
    ),
    "aid": (
        _ID,
        _NAME,
        Column("aid_class", "aid_class"),
        Column("valid_from", "date"),
        Column("valid_to", "date", required=False),
    ),
    "death": (_ID, _NAME, Column("death_date", "date")),
    "employment": (
        _ID,
        _NAME,
        Column("employer", "text"),
        Column("year", "int", low=1950, high=2100),
        Column("months", "int", low=1, high=12),
    ),
    "education": (
        _ID,
        _NAME,
        Column("birth_date", "date", required=False),
        Column("school", "text"),
        Column("enrol_year", "int", low=1950, high=2100),
    ),
}
KINDS = tuple(LAYOUTS)
ERROR_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("row_no", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("value", pa.string()),
        ("kept", pa.bool_()),
    ]
)
_AID = pa.array([a.value for a in AidClass], type=pa.string())


class LayoutError(InvalidField):
    """A department file that does not have its declared layout (refused as a whole)."""


def _type(column: Column) -> pa.DataType:
    return {
        "date": pa.date32(),
        "int": pa.int32(),
    }.get(column.kind, pa.string())


def schema(kind: str) -> pa.Schema:
    """The columns a read file of ``kind`` has: row_no, id_raw, id_no (18 digits or null),
    id_reason (ID_REASONS code), id_key (``id_keys``: the ID as an integer, null if none) and the
    layout's other columns typed."""
    fields = [
        pa.field("row_no", pa.int64()),
        pa.field("id_raw", pa.string()),
        pa.field("id_no", pa.string()),
        pa.field("id_reason", pa.int8()),
        pa.field("id_key", pa.int64()),
    ]
    fields += [pa.field(c.name, _type(c)) for c in LAYOUTS[kind] if c.kind != "id"]
    return pa.schema(fields)


@dataclass
class DepartmentFile:
    """A file read: its rows that passed (typed, ``schema(kind)``), the errors by row."""

    kind: str
    path: Path
    rows: pa.Table
    errors: pa.Table
    read: int

    @property
    def dropped(self) -> int:
        return int(pc.sum(pc.invert(self.errors["kept"])).as_py() or 0)


def _check_kind(kind: str) -> tuple[Column, ...]:
    if kind not in LAYOUTS:
        raise InvalidField("source", f"must be one of {', '.join(KINDS)}", kind)
    return LAYOUTS[kind]


def _check_columns(kind: str, path: Path, names: list[str]) -> None:
    missing = [c.name for c in LAYOUTS[kind] if c.name not in names]
    if missing:
        raise LayoutError(
            str(path),
            f"is not a {kind} file: missing column(s) {', '.join(missing)} "
            f"(layout: {', '.join(c.name for c in LAYOUTS[kind])})",
        )


def _batches(kind: str, path: Path, skipped: list[tuple[int, str]]) -> Iterator[pa.RecordBatch]:
    """The file's batches, every layout column as text (dates and ints may stay typed in
    Parquet); a CSV row with the wrong number of fields goes to ``skipped``."""
    names = [c.name for c in LAYOUTS[kind]]
    if path.suffix.lower() == ".parquet":
        try:
            file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise LayoutError(str(path), f"is not a readable Parquet file ({exc})") from exc
        _check_columns(kind, path, file.schema_arrow.names)
        yield from file.iter_batches(batch_size=BATCH_ROWS, columns=names)
        return
    with path.open("rb") as f:
        header = f.readline().decode("utf-8-sig", errors="replace").strip()
    columns = [h.strip().strip('"') for h in header.split(",")]
    _check_columns(kind, path, columns)

    def bad_row(row: pcsv.InvalidRow) -> str:
        number = (row.number or 0) - 1  # the line number (header = line 1) as the row number
        skipped.append(
            (number, f"has {row.actual_columns} fields, expected {row.expected_columns}")
        )
        return "skip"

    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=64 << 20, encoding="utf8", use_threads=False),
        parse_options=pcsv.ParseOptions(invalid_row_handler=bad_row),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            include_columns=names,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    yield from reader


def _text(col: pa.Array) -> pa.Array:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return pc.utf8_trim_whitespace(col.cast(pa.string()))
    if pa.types.is_date(col.type):
        return pc.strftime(col, format="%Y-%m-%d")
    return col.cast(pa.string())


def _parse(column: Column, raw: pa.Array) -> tuple[pa.Array, np.ndarray, pa.Array]:
    """(typed values, bad mask, reason) of one column of a batch."""
    if column.kind == "date" and pa.types.is_date32(raw.type):  # typed in Parquet
        missing = np.asarray(pc.is_null(raw).to_numpy(zero_copy_only=False), dtype=bool)
        bad_np = missing if column.required else np.zeros(len(raw), dtype=bool)
        return raw, bad_np, pa.array(np.where(missing, "missing", ""), pa.string())
    text = _text(raw)
    empty = pc.fill_null(pc.equal(text, ""), True)
    if column.kind == "date":
        parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
        value = pc.cast(parsed, pa.date32())
        # strptime rolls 30 February over: only a date written back the same is one
        same = pc.equal(pc.strftime(value, format="%Y-%m-%d"), text)
        value = pc.if_else(pc.fill_null(same, False), value, pa.scalar(None, pa.date32()))
        bad = pc.and_(pc.invert(empty), pc.is_null(value))
        reason = "not a date YYYY-MM-DD"
    elif column.kind == "int":
        digits = pc.match_substring_regex(text, r"^\d{1,9}$")
        value = pc.if_else(digits, text, pa.scalar(None, pa.string())).cast(pa.int32())
        in_range = pc.and_(pc.greater_equal(value, column.low), pc.less_equal(value, column.high))
        bad = pc.and_(pc.invert(empty), pc.invert(pc.fill_null(in_range, False)))
        reason = f"not a whole number from {column.low} to {column.high}"
    elif column.kind == "sex":
        value = pc.utf8_upper(text)
        bad = pc.and_(pc.invert(empty), pc.invert(pc.is_in(value, pa.array(["M", "F"]))))
        reason = "must be M or F"
    elif column.kind == "aid_class":
        value = text
        bad = pc.and_(pc.invert(empty), pc.invert(pc.is_in(value, _AID)))
        reason = f"must be one of {', '.join(a.value for a in AidClass)}"
    else:
        value, bad, reason = text, pa.array(np.zeros(len(text), dtype=bool)), ""
    bad_np = np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)
    missing = np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)
    if column.required:
        bad_np = bad_np | missing
    value = pc.if_else(pa.array(missing), pa.scalar(None, value.type), value)
    reasons = pc.if_else(pa.array(missing), "missing", reason)
    return value, bad_np, reasons


def _errors(
    kind: str,
    row_no: np.ndarray,
    mask: np.ndarray,
    field: str,
    reason: str | pa.Array,
    value: pa.Array,
    kept: bool,
) -> pa.Table:
    idx = pa.array(np.flatnonzero(mask))
    n = len(idx)
    reasons = reason.take(idx) if isinstance(reason, pa.Array) else pa.array([reason] * n)
    return pa.table(
        {
            "source": pa.array([kind] * n, type=pa.string()),
            "row_no": pa.array(row_no[mask]),
            "field": pa.array([field] * n, type=pa.string()),
            "reason": reasons.cast(pa.string()),
            "value": _text(value.take(idx)),
            "kept": pa.array([kept] * n, type=pa.bool_()),
        },
        schema=ERROR_SCHEMA,
    )


def _row_numbers(start: int, m: int, skipped: set[int]) -> np.ndarray:
    if not skipped:
        return np.arange(start + 1, start + m + 1, dtype=np.int64)
    out: list[int] = []
    k = start
    while len(out) < m:
        k += 1
        if k not in skipped:
            out.append(k)
    return np.array(out, dtype=np.int64)


Progress = Callable[[int], None]


def read_department(
    kind: str, path: Path | str, *, progress: Progress | None = None
) -> DepartmentFile:
    """Read a department file of ``kind`` (CSV or Parquet) by its layout, batch by batch."""
    layout = _check_kind(kind)
    path = Path(path)
    if not path.is_file():
        raise InvalidField("file", "does not exist", str(path))
    skipped: list[tuple[int, str]] = []
    parts: list[pa.Table] = []
    errors: list[pa.Table] = []
    last = 0
    read = 0
    reason_text = pa.array(ID_REASONS, type=pa.string())
    for batch in _batches(kind, path, skipped):
        m = batch.num_rows
        row_no = _row_numbers(last, m, {s for s, _ in skipped})
        last = int(row_no[-1]) if m else last
        read += m
        ids, reason = normalise_ids(batch.column("id_no"))
        keys = id_keys(ids)
        bad_id = reason > 0
        errors.append(
            _errors(
                kind,
                row_no,
                bad_id,
                "id_no",
                reason_text.take(pa.array(reason.astype(np.int64))),
                batch.column("id_no"),
                True,
            )
        )
        drop = np.zeros(m, dtype=bool)
        columns: dict[str, pa.Array] = {}
        for column in layout:
            if column.kind == "id":
                continue
            value, bad, why = _parse(column, batch.column(column.name))
            fresh = bad & ~drop
            if fresh.any():
                errors.append(
                    _errors(kind, row_no, fresh, column.name, why, batch.column(column.name), False)
                )
            drop |= bad
            columns[column.name] = value
        keep = pa.array(~drop)
        table = pa.table(
            {
                "row_no": pa.array(row_no),
                "id_raw": _text(batch.column("id_no")),
                "id_no": ids,
                "id_reason": pa.array(reason),
                "id_key": pa.array(keys, mask=keys < 0),
                **columns,
            },
            schema=schema(kind),
        )
        parts.append(table.filter(keep))
        if progress is not None:
            progress(read)
    if skipped:
        errors.append(
            pa.table(
                {
                    "source": [kind] * len(skipped),
                    "row_no": [s for s, _ in skipped],
                    "field": ["*"] * len(skipped),
                    "reason": [r for _, r in skipped],
                    "value": [""] * len(skipped),
                    "kept": [False] * len(skipped),
                },
                schema=ERROR_SCHEMA,
            )
        )
    rows = pa.concat_tables(parts) if parts else schema(kind).empty_table()
    errs = pa.concat_tables(errors) if errors else ERROR_SCHEMA.empty_table()
    errs = errs.sort_by([("row_no", "ascending"), ("field", "ascending")])
    return DepartmentFile(kind, path, rows, errs, read + len(skipped))
