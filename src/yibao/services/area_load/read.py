"""Reading a generated area: its manifest, its persons parts, one part at a time."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from yibao.services.area_load.report import AreaLoadRefused

#: the columns of ``persons/part-*.parquet`` a load reads
PERSON_COLUMNS = (
    "psn_no",
    "scheme",
    "assistance_class",
    "national_id",
    "name",
    "birth_date",
    "household_id",
    "relation",
    "groups",
    "wage",
    "contribution_base",
    "enrolled_on",
    "account_balance",
    "coverage_history",
    "contribution_years",
    "continuous_years",
    "repaired_years",
    "zero_claim_years",
)


@dataclass(frozen=True, slots=True)
class Area:
    folder: Path
    region: str
    year: int
    persons: int
    parts: list[Path]


def open_area(folder: str | Path) -> Area:
    """The generated area in ``folder`` (``meta.json`` and ``persons/part-*.parquet``)."""
    folder = Path(folder)
    if not (folder / "meta.json").exists():
        raise AreaLoadRefused(f"{folder} has no meta.json (not a generated folder)")
    meta: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    parts = sorted((folder / "persons").glob("part-*.parquet"))
    if not parts:
        raise AreaLoadRefused(f"{folder}/persons holds no part-*.parquet")
    return Area(folder, str(meta["region"]), int(meta["year"]), int(meta["persons"]), parts)


def part_rows(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


@dataclass(slots=True)
class GeneratedPerson:
    """One row of a persons part (the columns of ``PERSON_COLUMNS``)."""

    psn_no: int
    scheme: str
    assistance_class: str | None
    national_id: str
    name: str
    birth_date: dt.date
    household_id: int
    relation: str
    groups: list[str] | None
    wage: int | None
    contribution_base: int | None
    enrolled_on: dt.date
    account_balance: int | None
    coverage_history: str | None
    contribution_years: int | None
    continuous_years: int | None
    repaired_years: int | None
    zero_claim_years: int | None


def read_part(path: Path) -> pa.Table:
    return pq.read_table(path, columns=list(PERSON_COLUMNS))


def persons_of(table: pa.Table) -> list[GeneratedPerson]:
    columns = [table.column(c).to_pylist() for c in PERSON_COLUMNS]
    return [GeneratedPerson(*row) for row in zip(*columns, strict=True)]


def registry_batch(table: pa.Table, region: str) -> pa.RecordBatch:
    """The part as ``store.bulk`` imports persons: ID, name, household, region of residence."""
    household = table.column("household_id").cast(pa.string())
    return pa.RecordBatch.from_arrays(
        [
            table.column("national_id").combine_chunks(),
            table.column("name").combine_chunks(),
            household.combine_chunks(),
            pa.array([region] * table.num_rows, type=pa.string()),
        ],
        names=["national_id", "name", "household", "region"],
    )
