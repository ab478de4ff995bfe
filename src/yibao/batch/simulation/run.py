"""A simulation from start to end: the area and the reforms checked (before any work), the
scenarios compiled, the area settled by an engine, the report built (back-office.md §6)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from yibao.batch.simulation.aggregate import Accumulator
from yibao.batch.simulation.engine import Scenario, scenario
from yibao.batch.simulation.local import AreaError, area_meta, check_area, simulate_area
from yibao.batch.simulation.reform import Reform, load_reforms
from yibao.policy import ParameterError, Policy, UnknownRegion
from yibao.synth.calibrated import BenefitsError, area_overlays, benefits_of
from yibao.synth.calibration import calibration_table

ENGINES = ("local", "spark")
BASELINE = "baseline"


@dataclass
class Plan:
    """What a simulation will do, every input checked."""

    area: Path
    region: str
    year: int
    reforms: list[Reform]
    scenarios: list[Scenario]
    claims: int  # the area's claims (Parquet metadata), for progress

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]


def plan(
    area: Path, reform_paths: list[Path], year: int | None = None, region: str | None = None
) -> Plan:
    """Check the area and every reform and compile the scenarios; raises ``AreaError`` or
    ``reform.ReformError`` (one line) before any claim is read."""
    parts = check_area(area)
    meta = area_meta(area)
    found_region = region or str(meta.get("policy_region") or meta.get("region") or "")
    if not found_region:
        raise AreaError("--region: the area has no meta.json; give the region")
    meta_year = meta.get("year")
    if year is None:
        if not isinstance(meta_year, int):
            raise AreaError("--year: the area has no meta.json; give the year of its claims")
        year = meta_year
    elif isinstance(meta_year, int) and meta_year != year:
        raise AreaError(f"--year: the area's claims are of {meta_year}, not {year}")
    if not reform_paths:
        raise AreaError("REFORM: give at least one reform file")
    try:
        base = area_overlays(meta)
    except BenefitsError as exc:
        raise AreaError(f"--area: {exc}") from exc
    checked = load_reforms(reform_paths, found_region, base)
    if BASELINE in {r.name for r, _ in checked}:
        raise AreaError(f"{BASELINE!r} is the name of the baseline; name the reform otherwise")
    try:
        scenarios = [scenario(BASELINE, Policy(found_region, overlays=base), year)]
        scenarios += [scenario(r.name, policy, year) for r, policy in checked]
    except UnknownRegion as exc:
        raise AreaError(f"--region: unknown region {found_region!r}") from exc
    except ParameterError as exc:
        raise AreaError(f"{exc.file}: {exc.path}: {exc.reason}") from exc
    claims = sum(pq.ParquetFile(c).metadata.num_rows for _, c in parts)
    return Plan(area, found_region, year, [r for r, _ in checked], scenarios, claims)


def check_engine(engine: str) -> None:
    """Refuse an unknown engine, or Spark where it cannot run (no pyspark, no Java), before any
    work (``AreaError``)."""
    if engine not in ENGINES:
        raise AreaError(f"--engine: unknown engine {engine!r}; one of {', '.join(ENGINES)}")
    if engine == "spark":
        try:
            spark = importlib.import_module("yibao.batch.spark")
        except ImportError as exc:
            raise AreaError(f"--engine spark: the Spark engine cannot be loaded ({exc})") from exc
        check = getattr(spark, "check_available", None)
        if check is not None:
            try:
                check()
            except (ImportError, RuntimeError, OSError) as exc:
                raise AreaError(f"--engine spark: {exc}") from exc


def settle(
    p: Plan,
    engine: str = "local",
    master: str | None = None,
    workers: int | None = None,
    on_part: Callable[[int, int], None] | None = None,
) -> Accumulator:
    """The area settled under every scenario by ``engine`` (``local`` or ``spark``)."""
    if engine == "local":
        return simulate_area(p.area, p.scenarios, p.year, workers, on_part)
    check_engine(engine)
    spark = importlib.import_module("yibao.batch.spark")
    found = spark.simulate_area(p.area, p.scenarios, p.year, master=master, on_part=on_part)
    if isinstance(found, Accumulator):
        return found
    acc = Accumulator(len(p.scenarios))
    tables: Iterable[pa.Table] = found
    for table in tables:
        acc.add(table)
    return acc


def calibration(
    area: Path,
    region: str | None = None,
    by_level: dict[tuple[str, int], tuple[int, int]] | None = None,
) -> list[dict[str, Any]] | None:
    """The area's calibration table (``calibration_table``: what the generated area's answer
    depends on against published figures) as rows of JSON, or None where the synthetic area
    has no calibration. Only a generated area (``meta.json`` of ``yibao synth``) is
    calibrated: an exported one is the bureau's own data. ``by_level``: the baseline's
    inpatient sums (``Accumulator.inpatient_by_level``), taken when the baseline was settled
    under ``region`` = the area's own (else the area is settled once more under its own)."""
    meta = area_meta(area)
    if meta.get("generator") != "yibao.synth":
        return None
    if region != str(meta.get("policy_region") or meta.get("region") or ""):
        by_level = None
    return calibration_table(area, by_level)


def report(p: Plan, acc: Accumulator, engine: str = "local") -> dict[str, Any]:
    """The JSON of back-office.md §6 (and more: the reforms' sources, who is affected, the
    quintiles' bounds, the calibration table)."""
    body = acc.result(p.names)
    for entry, reform in zip(body["reforms"], p.reforms, strict=True):
        entry["source"] = reform.source
    meta = area_meta(p.area)
    return {
        "year": p.year,
        "region": p.region,
        "area": str(p.area),
        "engine": engine,
        **body,
        "benefits": benefits_of(meta) if meta.get("generator") == "yibao.synth" else None,
        "calibration": calibration(p.area, p.region, acc.inpatient_by_level()),
    }
