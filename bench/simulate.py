"""A whole policy simulation's throughput on the local engine: read the area's Parquet, settle
every claim under the baseline and one reform, aggregate the totals and household burden.

    python bench/simulate.py --persons 1000000 [--area DIR] [--workers 2] [--repeat 3]

Generates a seeded area with ``yibao synth`` (about 5.7 claims per person, parts of
--chunk-size persons; not timed), or reads one given with --area. The compiled kernel and the
scenarios (baseline, and the shipped example reform ``lower_deductible.yaml``, which changes
many claims) are loaded before the clock starts. Timed: ``simulation.local.simulate_area``
(parts on --workers threads: each part read from Parquet, turned into kernel arrays once, settled
under both scenarios, reduced to its slice of the totals) and the report
(``Accumulator.result``). Prints the best of --repeat runs (the machine is shared) and each
run's figure, with the claims per CPU-second of the process (all threads: what the run
would reach on the cores alone); also one part's settlement under both scenarios alone.
Last line: ``claims/s: <number>``.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
import time
from pathlib import Path

from yibao.batch.area import parts
from yibao.batch.simulation.engine import scenario, settle_part
from yibao.batch.simulation.local import area_meta, read_slice, simulate_area
from yibao.batch.simulation.reform import check_reform, read_reform
from yibao.kernel.settle import warm
from yibao.synth import SynthConfig, generate
from yibao.synth.calibrated import area_overlays, area_policy

CLAIMS_PER_PERSON = 5.73
REFORM = Path(__file__).parents[1] / "src/yibao/calc/examples/reforms/lower_deductible.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--area", type=Path, help="a generated area (default: generate one)")
    parser.add_argument("--chunk-size", type=int, default=100_000, help="persons per part")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--region", default="360100")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        area = args.area
        if area is None:
            area = Path(tmp) / "area"
            start = time.perf_counter()
            config = SynthConfig(args.region, args.persons, args.year, args.seed, args.chunk_size)
            generate(area, config)
            print(f"generated {args.persons} persons in {time.perf_counter() - start:.1f} s")
        reform = read_reform(REFORM)
        scenarios = [
            # the area's policy: the region's, a generated area's calibrated benefits on top
            scenario("baseline", area_policy(args.region, area_meta(area)), args.year),
            scenario(
                reform.name,
                check_reform(reform, args.region, area_overlays(area_meta(area))),
                args.year,
            ),
        ]
        for s in scenarios:
            warm(s.tables)
        # the kernel's share: one part's arrays settled under both scenarios, alone
        first = read_slice(*parts(area)[0], args.year)
        start = time.process_time()
        settle_part(first, scenarios)
        one = time.process_time() - start
        print(
            f"one part ({len(first.claims)} claims): both scenarios and per-person sums on one "
            f"thread {len(first.claims) / one:,.0f} claims per CPU-second"
        )
        figures = []
        for _ in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            acc = simulate_area(area, scenarios, args.year, args.workers)
            result = acc.result([s.name for s in scenarios])
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            figures.append(acc.claims / wall)
            print(
                f"  {acc.claims} claims in {wall:.2f} s: {acc.claims / wall:,.0f} claims/s "
                f"({cpu:.2f} s of CPU: {acc.claims / cpu:,.0f} claims per CPU-second)"
            )
    delta = result["reforms"][0]["delta"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"claims: {acc.claims}  persons: {acc.persons}  households: {result['households']}  "
        f"workers: {args.workers}  load average: {os.getloadavg()[0]:.1f}  max RSS MiB: {rss:.0f}"
    )
    print(f"reform {reform.name!r}: basic fund {delta['hifp_pay']} yuan")
    print(f"claims/s: {math.floor(max(figures))}")


if __name__ == "__main__":
    main()
