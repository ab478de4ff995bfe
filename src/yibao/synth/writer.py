"""The run: chunk after chunk of persons and their claims, written as Parquet parts.

Layout of ``out``::

    out/meta.json                     what was generated (region, year, seed, counts, ...)
    out/persons/part-00000.parquet    persons 1 .. chunk_size
    out/claims/part-00000.parquet     their claims, sorted by (psn_no, date)
    out/lines/part-00000.parquet      the claims' fee detail lines, grouped by claim
    ...

Chunk ``k`` draws every random number from ``SeedSequence(seed, spawn_key=(k,))``, so the output
depends on (region, persons, year, seed, chunk size) only, never on the machine. The only state
carried from one chunk to the next is the count of ID order codes per birth date and sex. A chunk
is written by a background thread while the next one is generated; at most two chunks are in
memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from yibao.kernel.schema import CLAIM_COLUMNS, NULLABLE, PERSON_COLUMNS
from yibao.policy.catalogue import shipped_items
from yibao.policy.params import Policy
from yibao.policy.supervision import rule_catalogue
from yibao.synth.claim_rates import MAX_LOS
from yibao.synth.claims import make_claims
from yibao.synth.config import SynthConfig, load_area
from yibao.synth.dates import days_in_year, year_start
from yibao.synth.ids import IdIssuer
from yibao.synth.income import income_figures, income_rng
from yibao.synth.institutions import Institutions
from yibao.synth.irregular import plant
from yibao.synth.lines import ItemPool, build_pool
from yibao.synth.population import make_persons

FORMAT = 1
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
#: called after each chunk with (chunks done, chunks in all, persons done, claims done)
Progress = Callable[[int, int, int, int], None]


@dataclass
class Manifest:
    region: str
    year: int
    seed: int
    persons: int
    chunk_size: int
    chunks: int
    claims: int = 0
    lines: int = 0
    catalogue_region: str = ""
    format: int = FORMAT
    generator: str = "yibao.synth"
    policy_region: str = ""
    average_wage: int = 0
    figures_dated: dict[str, str] = field(default_factory=dict)
    institutions: dict[str, int] = field(default_factory=dict)
    id_order_overflow: int = 0
    #: planted irregularities (rows of ``truth/``), 0 without ``--irregular``
    planted: int = 0
    irregular: float = 0.0
    #: the household income figures used (``synth.income.income_figures``)
    income: dict[str, Any] = field(default_factory=dict)
    #: the benefits the area is settled under (``synth.calibrated``: calibrated or region)
    benefits: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


#: the part folders, one part per chunk in each
PARTS = ("persons", "claims", "lines")
#: the planted irregularities' ground truth (``--irregular``), one part per chunk
TRUTH = "truth"


def item_pool(region: str, year: int) -> tuple[str, ItemPool]:
    """The shipped catalogue that applies to the region (its code) and its items valid on every
    day a line of the year can fall on (from MAX_LOS days before the year to its end)."""
    used, items = shipped_items(region)
    first = year_start(year) - MAX_LOS - 1
    return used, build_pool(items, first, year_start(year) + days_in_year(year) - 1)


def chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk,))))


def part_name(chunk: int) -> str:
    return f"part-{chunk:05d}.parquet"


#: The kernel's columns that never hold a null, by part, written as required (not-null) Parquet
#: columns: a reader decodes no definition levels for them (``batch.area.read_part``: a claims
#: part's kernel columns ~80 → ~69 ns a claim).
REQUIRED = {
    "persons": tuple(c for c in PERSON_COLUMNS if c not in NULLABLE),
    "claims": tuple(c for c in CLAIM_COLUMNS if c not in NULLABLE),
}


def required(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """``table`` with the fields ``names`` declared not null (they hold none)."""
    fields = []
    for f in table.schema:
        if f.name in names:
            assert table[f.name].null_count == 0, f"{f.name} holds nulls"
            f = f.with_nullable(False)
        fields.append(f)
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, table.schema.metadata))


#: The kernel's columns, read on every settlement of the area (``batch.area.read_part``): LZ4,
#: which decodes in about two thirds of ZSTD's time (a claims part's kernel columns ~38 → ~27 ns
#: a claim) for ~15 % more bytes on disk; every other column ZSTD.
FAST = "lz4"
KERNEL_COLUMNS = frozenset(CLAIM_COLUMNS) | frozenset(PERSON_COLUMNS)


def _write(table: pa.Table, path: Path) -> None:
    leaves = _leaf_paths(table.schema)
    pq.write_table(
        table,
        path,
        compression={c: FAST if c in KERNEL_COLUMNS else COMPRESSION for c in leaves},
        compression_level={c: COMPRESSION_LEVEL for c in leaves if c not in KERNEL_COLUMNS} or None,
        row_group_size=1 << 20,
    )


def _leaf_paths(schema: pa.Schema) -> list[str]:
    """The Parquet column paths of ``schema``'s fields (a list column's values are
    ``<name>.list.element``), as the writer's per-column options name them."""
    return [f"{f.name}.list.element" if pa.types.is_list(f.type) else f.name for f in schema]


def _prepare(out: Path) -> None:
    for sub in (*PARTS, TRUTH):
        folder = out / sub
        if sub in PARTS:
            folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
    (out / "meta.json").unlink(missing_ok=True)


def generate(out: Path | str, config: SynthConfig, progress: Progress | None = None) -> Manifest:
    """Generate the pooling area described by ``config`` into ``out`` (replacing its parts)."""
    out = Path(out)
    area = load_area(config.region, config.year)
    issuer = IdIssuer(config.region, config.year)
    institutions = Institutions(config.region, config.persons)
    catalogue_region, items = item_pool(config.region, config.year)
    manifest = Manifest(
        region=config.region,
        year=config.year,
        seed=config.seed,
        persons=config.persons,
        chunk_size=config.chunk_size,
        chunks=config.chunks,
        policy_region=area.policy_region,
        average_wage=area.average_wage,
        figures_dated=dict(area.figures_dated),
        institutions=dict(institutions.counts),
        catalogue_region=catalogue_region,
        irregular=config.irregular,
        income=income_figures(config.year, area.disposable_income / 100.0),
        benefits=config.benefits,
    )
    _prepare(out)
    done = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[Any] | None = None
        for chunk in range(config.chunks):
            rng = chunk_rng(config.seed, chunk)
            first = chunk * config.chunk_size
            n = min(config.chunk_size, config.persons - first)
            persons = make_persons(rng, area, issuer, first, n, income_rng(config.seed, chunk))
            claims, lines = make_claims(rng, area, persons, institutions, chunk, items)
            truth = None
            if config.irregular:
                claims, lines, truth = plant(
                    rng,
                    persons.table,
                    claims,
                    lines,
                    items.table,
                    rule_catalogue(Policy(area.policy_region), dt.date(config.year, 1, 1)),
                    config.year,
                    chunk,
                    config.irregular,
                )
                manifest.planted += truth.num_rows
            if pending is not None:
                pending.result()
            tables = (persons.table, claims, lines)
            pending = pool.submit(_write_chunk, out, chunk, tables, truth)
            done += n
            manifest.claims += claims.num_rows
            manifest.lines += lines.num_rows
            if progress is not None:
                progress(chunk + 1, config.chunks, done, manifest.claims)
        if pending is not None:
            pending.result()
    manifest.id_order_overflow = issuer.overflow
    (out / "meta.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _write_chunk(
    out: Path, chunk: int, tables: tuple[pa.Table, ...], truth: pa.Table | None = None
) -> None:
    for sub, table in zip(PARTS, tables, strict=True):
        _write(required(table, REQUIRED.get(sub, ())), out / sub / part_name(chunk))
    if truth is not None:
        (out / TRUTH).mkdir(exist_ok=True)
        _write(truth, out / TRUTH / part_name(chunk))


def read_manifest(out: Path | str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(out) / "meta.json").read_text(encoding="utf-8"))
    return data
