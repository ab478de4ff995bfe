"""Bulk import of persons from CSV or Parquet, streamed in batches.

Each batch is validated (national ID by ``stdnum.cn.ric``, name, phone, region), loaded into a
temporary staging table (PostgreSQL: ``COPY ... FROM STDIN``; SQLite: ``executemany``), and
moved into ``households`` and ``persons`` with set-based ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``. One database transaction per batch: a rerun after a crash skips what is already in.
Memory is bounded by the batch size; the population is never held as Python objects.

Columns (header names): ``national_id`` and ``name`` (required), ``phone``, ``household``
(household code; ``household_id`` is read as the code when there is no ``household``, so the
persons files of ``yibao synth`` import as they are), ``region`` (6-digit area of residence).
Other columns are ignored. A folder is imported file by file (``*.parquet``, ``*.csv``,
``*.csv.gz``, in name order).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, text

from yibao.domain.errors import InvalidField
from yibao.domain.identity import parse_national_id
from yibao.domain.registry import check_area, check_name, check_phone

COLUMNS = ("national_id", "name", "phone", "household", "region")
ALIASES = {"household_id": "household"}
REQUIRED = ("national_id", "name")
STAGE = "yibao_person_stage"
STAGE_COLUMNS = ("national_id", "name", "sex", "birth_date", "phone", "household", "region")

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (the header is row 0)
    field: str
    reason: str


@dataclass
class ImportReport:
    path: str
    format: str
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    invalid: int = 0
    households_created: int = 0
    batches: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "read": self.read,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "households_created": self.households_created,
            "batches": self.batches,
            "errors": [{"row": e.row, "field": e.field, "reason": e.reason} for e in self.errors],
        }


class ImportFileError(InvalidField):
    """The file itself cannot be imported (format, missing column)."""


def _format_of(path: Path) -> str:
    names = [s.lower() for s in path.suffixes]
    if names and names[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".csv" in names or ".tsv" in names:
        return "csv"
    raise ImportFileError("file", f"{path.name}: expected a .csv(.gz) or .parquet file")


def _files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    found = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.name.lower().endswith((".parquet", ".pq", ".csv", ".csv.gz"))
    )
    if not found:
        raise ImportFileError("file", f"{path} holds no .parquet or .csv file")
    return found


def _csv_header(path: Path) -> list[str]:
    opener: Any = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    return next(csv.reader(io.StringIO(line)), [])


def read_batches(path: Path, batch_size: int) -> tuple[Iterator[pa.RecordBatch], int | None]:
    """Batches with string columns named as COLUMNS, and the row count if known up front."""
    fmt = _format_of(path)
    if fmt == "parquet":
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        present = _present(names)
        _require(path, list(present.values()))
        batches = pf.iter_batches(batch_size=batch_size, columns=list(present))
        return _renamed(batches, present), pf.metadata.num_rows
    header = [h.strip() for h in _csv_header(path)]
    present = _present(header)
    _require(path, list(present.values()))
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=max(1 << 16, min(batch_size * 80, 1 << 26))),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in present},
            include_columns=list(present),
            strings_can_be_null=True,
        ),
    )
    return _renamed(_rechunk(reader, batch_size), present), None


def _present(names: list[str]) -> dict[str, str]:
    """File column -> import column, for the columns this import reads."""
    found = {c: c for c in COLUMNS if c in names}
    for alias, target in ALIASES.items():
        if alias in names and target not in found.values():
            found[alias] = target
    return found


def _renamed(batches: Any, present: dict[str, str]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield pa.RecordBatch.from_arrays(
            batch.columns, names=[present[n] for n in batch.schema.names]
        )


def _rechunk(batches: Any, size: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for offset in range(0, batch.num_rows, size):
            yield batch.slice(offset, size)


def _require(path: Path, present: list[str]) -> None:
    for col in REQUIRED:
        if col not in present:
            raise ImportFileError(col, f"{path.name} has no {col!r} column")


def _strings(batch: pa.RecordBatch, name: str) -> list[Any]:
    idx = batch.schema.get_field_index(name)
    if idx < 0:
        return [None] * batch.num_rows
    col = batch.column(idx)
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    return list(col.to_pylist())


def validate_batch(
    batch: pa.RecordBatch, first_row: int, report: ImportReport, max_errors: int
) -> list[tuple[Any, ...]]:
    """Valid rows as staging tuples; invalid rows are counted and the first few reported."""
    ids, names, phones, households, regions = (_strings(batch, c) for c in COLUMNS)
    out: list[tuple[Any, ...]] = []
    for i in range(batch.num_rows):
        try:
            nid = parse_national_id(ids[i])
            name = check_name(names[i])
            phone = check_phone(phones[i])
            region = check_area(regions[i], "region") if regions[i] else None
            household = households[i].strip() if households[i] else None
            if household is not None and len(household) > 40:
                raise InvalidField("household", "longer than 40 characters", household)
        except InvalidField as exc:
            report.invalid += 1
            if len(report.errors) < max_errors:
                report.errors.append(RowError(first_row + i, exc.field, exc.reason))
            continue
        out.append(
            (nid.number, name, nid.sex.value, nid.birth_date, phone, household or None, region)
        )
    return out


def _prepare_stage(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (national_id text, name text, sex text, "
            "birth_date date, phone text, household text, region text) ON COMMIT DELETE ROWS"
        )
    else:
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (national_id text, name text, sex text, "
            "birth_date text, phone text, household text, region text)"
        )
    conn.exec_driver_sql(f"DELETE FROM {STAGE}")


def _load_stage(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(STAGE_COLUMNS)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {STAGE} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in STAGE_COLUMNS)
    iso = [(r[0], r[1], r[2], r[3].isoformat(), r[4], r[5], r[6]) for r in rows]
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(f"INSERT INTO {STAGE} ({cols}) VALUES ({marks})", iso)
    finally:
        cur.close()


_INSERT_HOUSEHOLDS = text(
    f"INSERT INTO households (code, region) "
    f"SELECT household, MIN(region) FROM {STAGE} WHERE household IS NOT NULL "
    "GROUP BY household ON CONFLICT (code) DO NOTHING"
)
_INSERT_PERSONS = text(
    "INSERT INTO persons (national_id, name, sex, birth_date, phone, household_id, region) "
    "SELECT s.national_id, s.name, s.sex, s.birth_date, s.phone, h.id, s.region "
    f"FROM {STAGE} s LEFT JOIN households h ON h.code = s.household WHERE 1 = 1 "
    "ON CONFLICT (national_id) DO NOTHING"
)


def stage_persons(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Empty the staging table and load validated rows (from ``validate_batch``) into it,
    inside the caller's transaction."""
    _prepare_stage(conn)
    if rows:
        _load_stage(conn, rows)


def staged_already_registered(conn: Connection) -> int:
    """How many staged national IDs are already in ``persons``."""
    return int(
        conn.execute(
            text(f"SELECT COUNT(*) FROM {STAGE} s JOIN persons p ON p.national_id = s.national_id")
        ).scalar_one()
    )


def insert_staged(conn: Connection) -> tuple[int, int]:
    """Move the staged rows into ``households`` and ``persons`` (existing ones are skipped);
    returns (households created, persons inserted)."""
    households = int(conn.execute(_INSERT_HOUSEHOLDS).rowcount or 0)
    persons = int(conn.execute(_INSERT_PERSONS).rowcount or 0)
    return households, persons


def import_persons(
    engine: Engine,
    path: str | Path,
    *,
    batch_size: int = 50_000,
    progress: Progress | None = None,
    max_errors: int = 100,
) -> ImportReport:
    """Stream the file into the registry; returns counts and the first ``max_errors`` errors."""
    if batch_size < 1:
        raise InvalidField("batch_size", "must be at least 1", batch_size)
    path = Path(path)
    if not path.exists():
        raise ImportFileError("file", f"{path} does not exist")
    files = _files(path)
    opened = [read_batches(f, batch_size) for f in files]
    totals = [t for _, t in opened]
    total = None if None in totals else sum(t for t in totals if t is not None)
    report = ImportReport(path=str(path), format="+".join(sorted({_format_of(f) for f in files})))
    with engine.connect() as conn:
        for batch in (b for batches, _ in opened for b in batches):
            rows = validate_batch(batch, report.read + 1, report, max_errors)
            report.read += batch.num_rows
            with conn.begin():
                stage_persons(conn, rows)
                if rows:
                    households, inserted = insert_staged(conn)
                    report.households_created += households
                    report.inserted += inserted
                    report.duplicates += len(rows) - inserted
            report.batches += 1
            if progress is not None:
                progress(report.read, total)
    return report
