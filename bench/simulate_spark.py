"""A whole policy simulation's throughput on Apache Spark (``yibao simulate --engine spark``),
beside the local engine on the same area.

    python bench/simulate_spark.py --persons 200000 [--master local[2]] [--partitions 4]
                                   [--area DIR] [--repeat 3] [--no-local]

Generates a seeded area with ``yibao synth`` (about 5.7 claims per person; not timed), or reads
one given with --area. The scenarios are those of ``bench/simulate.py``: the baseline and the
shipped reform ``lower_deductible.yaml``. The Spark session is started and the kernel's compiled
code loaded before the clock starts; each run is timed from the Parquet read to the merged
totals and the report (``batch.spark.simulate_area`` then ``Accumulator.result``): the shuffle
by household, every partition through the seam in ``mapInArrow``, its partial totals reduced
on the executor. The first run also starts the Python workers (shown apart, not counted). Prints
each run with the CPU it took (the Python workers', from each partition; the JVM's, from
/proc; the driver's): claims per CPU-second is the per-core rate that sizes a cluster, and
holds on a loaded machine where wall-clock figures do not. Then the workers' and the JVM's peak
memory, and the local engine's figures on the same area (``simulation.local.simulate_area``,
threads on every core; its totals must equal Spark's) with the ratios.
Last line: ``claims/s: <number>`` on Spark, best of --repeat runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from yibao.batch.simulation.engine import scenario
from yibao.batch.simulation.local import area_meta
from yibao.batch.simulation.local import simulate_area as simulate_local
from yibao.batch.simulation.reform import check_reform, read_reform
from yibao.batch.spark import SparkOptions, session, simulate_area
from yibao.kernel.settle import warm
from yibao.synth import SynthConfig, generate
from yibao.synth.calibrated import area_overlays, area_policy

REFORM = Path(__file__).parents[1] / "src/yibao/calc/examples/reforms/lower_deductible.yaml"


def jvm_pid(spark: Any) -> int:
    """The driver JVM (in local mode the executor runs in it)."""
    return int(spark.sparkContext._gateway.proc.pid)


def jvm_peak_mib(pid: int) -> float:
    """The JVM's peak resident memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def jvm_cpu(pid: int) -> float:
    """The JVM's CPU seconds so far (user and system, every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--area", type=Path, help="a generated area (default: generate one)")
    parser.add_argument("--chunk-size", type=int, default=100_000, help="persons per part")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=4, help="partitions by household")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-local", action="store_true", help="skip the local engine")
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
        names = [s.name for s in scenarios]
        for s in scenarios:
            warm(s.tables)
        opts = SparkOptions(args.master, args.partitions, driver_memory=args.driver_memory)
        start = time.perf_counter()
        spark = session(opts)
        print(f"Spark {spark.version} session {args.master} in {time.perf_counter() - start:.1f} s")
        pid = jvm_pid(spark)
        figures, cores = [], []
        for run in range(args.repeat + 1):
            stats: list[dict[str, float]] = []
            start, cpu, jvm_start = time.perf_counter(), time.process_time(), jvm_cpu(pid)
            acc = simulate_area(area, scenarios, args.year, options=opts, stats=stats)
            spark_result = acc.result(names)
            wall = time.perf_counter() - start
            workers = sum(s["cpu_seconds"] for s in stats)
            jvm = jvm_cpu(pid) - jvm_start
            used = workers + jvm + time.process_time() - cpu  # the Python workers, JVM, driver
            rss = max(s["max_rss_kib"] for s in stats) / 1024
            note = "  (first: starts the Python workers, not counted)" if run == 0 else ""
            print(
                f"  {acc.claims} claims in {wall:.2f} s: {acc.claims / wall:,.0f} claims/s; "
                f"{len(stats)} partitions; CPU s: Python workers {workers:.2f}, JVM {jvm:.2f}, "
                f"all {used:.2f}: {acc.claims / used:,.0f} claims per CPU-second; "
                f"worker peak RSS {rss:.0f} MiB{note}"
            )
            if run:
                figures.append(acc.claims / wall)
                cores.append(acc.claims / used)
        jvm_mib = jvm_peak_mib(pid)
        local = local_cpu = 0.0
        if not args.no_local:
            best, best_cpu = math.inf, math.inf
            for _ in range(args.repeat):
                start, cpu = time.perf_counter(), time.process_time()
                local_acc = simulate_local(area, scenarios, args.year)
                local_result = local_acc.result(names)
                best = min(best, time.perf_counter() - start)
                best_cpu = min(best_cpu, time.process_time() - cpu)
            assert local_result == spark_result, "the engines disagree"
            local, local_cpu = local_acc.claims / best, local_acc.claims / best_cpu
    spark_rate = max(figures)
    print(
        f"claims: {acc.claims}  persons: {acc.persons}  master: {args.master}  "
        f"partitions: {args.partitions}  load average: {os.getloadavg()[0]:.1f}  "
        f"JVM peak RSS MiB: {jvm_mib:.0f}  claims per CPU-second: {max(cores):,.0f}"
    )
    if local:
        print(
            f"local engine (same totals): claims/s {local:,.0f}, per CPU-second "
            f"{local_cpu:,.0f}; spark/local: {spark_rate / local:.2f} wall, "
            f"{max(cores) / local_cpu:.2f} per CPU-second"
        )
    print(f"claims/s: {math.floor(spark_rate)}")


if __name__ == "__main__":
    main()
