"""The local engine: an area's parts settled under every scenario on all cores, in process.

Each part (whole persons and households, as ``yibao synth`` writes them) is read from Parquet
and turned into kernel arrays once (``engine.part_input``), settled under the baseline and each
reform (``engine.settle_part``: the compiled kernel runs without the GIL) and reduced to its
slice of the totals (``aggregate.Accumulator``) on a worker thread; parts run in parallel, at
most ``workers + 1`` in flight, so memory is bounded by a few parts.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

from yibao.batch.area import parts
from yibao.batch.simulation.aggregate import Accumulator
from yibao.batch.simulation.engine import (
    CLAIM_INPUT,
    INCOME,
    PERSON_INPUT,
    PartInput,
    Scenario,
    part_input,
    person_arrays,
    settle_part,
)


class AreaError(ValueError):
    """An area folder that cannot be simulated: ``field: reason``."""


def area_meta(area: Path) -> dict[str, object]:
    """The area's ``meta.json`` (region, year, counts), or {} for an exported area."""
    meta = Path(area) / "meta.json"
    if not meta.is_file():
        return {}
    found = json.loads(meta.read_text(encoding="utf-8"))
    return found if isinstance(found, dict) else {}


def check_area(area: Path) -> list[tuple[Path, Path]]:
    """The area's parts (persons, claims), or an ``AreaError``."""
    if not Path(area).is_dir():
        raise AreaError(f"--area: {area} is not a folder")
    found = parts(area)
    if not found:
        raise AreaError(f"--area: no persons/part-*.parquet in {area}")
    missing = [c for _, c in found if not c.is_file()]
    if missing:
        raise AreaError(f"--area: {missing[0]} is missing")
    return found


def read_slice(persons_path: Path, claims_path: Path, year: int) -> PartInput:
    """One part as kernel arrays (the household income too when the area has it)."""
    claims = pq.read_table(claims_path, columns=list(CLAIM_INPUT))
    names = pq.read_schema(persons_path).names
    columns = [*PERSON_INPUT, *([INCOME] if INCOME in names else [])]
    persons = pq.read_table(persons_path, columns=columns)
    return part_input(claims, persons, year)


def simulate_part(
    persons_path: Path,
    claims_path: Path,
    scenarios: Sequence[Scenario],
    year: int,
    pool: Executor | None = None,
) -> Accumulator:
    """One part read, settled under every scenario (at once on ``pool``'s threads, if given)
    and reduced to its slice of the totals."""
    part = read_slice(persons_path, claims_path, year)
    acc = Accumulator(len(scenarios))
    sums = settle_part(part, scenarios, pool)
    acc.add_arrays(person_arrays(part, sums), part.category, part.income)
    return acc


def simulate_area(
    area: Path,
    scenarios: Sequence[Scenario],
    year: int,
    workers: int | None = None,
    on_part: Callable[[int, int], None] | None = None,
) -> Accumulator:
    """Every part of ``area`` under every scenario (baseline first). ``on_part(claims,
    persons)`` is called as each part is done."""
    todo = check_area(area)
    workers = workers or os.cpu_count() or 1
    total = Accumulator(len(scenarios))
    # fewer parts than workers (a city in one part): the scenarios of a part settle at once
    inner = ThreadPoolExecutor(workers) if len(todo) < workers and len(scenarios) > 1 else None
    try:
        with ThreadPoolExecutor(min(workers, len(todo))) as pool:
            pending: deque[Future[Accumulator]] = deque()

            def collect() -> None:
                acc = pending.popleft().result()
                total.merge(acc)
                if on_part is not None:
                    on_part(acc.claims, acc.persons)

            for persons_path, claims_path in todo:
                pending.append(
                    pool.submit(simulate_part, persons_path, claims_path, scenarios, year, inner)
                )
                if len(pending) > workers:
                    collect()
            while pending:
                collect()
    finally:
        if inner is not None:
            inner.shutdown()
    return total
