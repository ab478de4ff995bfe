"""Batch settlement throughput of the columnar kernel over a synthetic pooling area.

    python bench/settle_batch.py --claims 10000000 [--area DIR] [--workers 2] [--main-thread]

Generates a seeded area with ``yibao synth`` (about 5.7 claims per person, every scheme, med
type, level, aid class and cross-region kind; not timed), or reads one given with --area, then
settles it part by part: each part is read into kernel arrays (not timed) and cut at person
boundaries into batches of --batch claims that ``settle_stream`` settles on all cores (timed).
Memory stays bounded by one part. ``--main-thread`` settles the batches one after the other on the
main thread instead (no pool); ``--passes K`` settles each part K times (a small area still
times many calls). Prints the page faults taken while settling (``ru_minflt``).
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

from rich.progress import Progress

from yibao.batch.area import parts, read_part, split
from yibao.kernel.settle import Result, settle_claims
from yibao.kernel.stream import Batch, KernelPool
from yibao.kernel.tables import Tables, compile_tables
from yibao.policy import Policy
from yibao.synth import SynthConfig, generate

CLAIMS_PER_PERSON = 5.73  # what yibao synth generates on average


def main_thread(tables: Tables, batch: Batch) -> Result:
    """One batch settled on the calling thread, keeping what the pool keeps."""
    result = settle_claims(tables, *batch, explain=False)
    return Result({"fund_pay_sumamt": result.columns["fund_pay_sumamt"]}, result.state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--area", type=Path, help="a generated area (default: generate one)")
    parser.add_argument("--batch", type=int, default=100_000, help="claims per kernel call")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--processes", action="store_true", help="processes instead of threads")
    parser.add_argument("--main-thread", action="store_true", help="settle on the main thread")
    parser.add_argument("--passes", type=int, default=1, help="settle each part this many times")
    parser.add_argument("--region", default="360100")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    tty = os.isatty(1)
    with tempfile.TemporaryDirectory() as tmp:
        area = args.area
        if area is None:
            area = Path(tmp) / "area"
            persons = math.ceil(args.claims / CLAIMS_PER_PERSON)
            start = time.perf_counter()
            generate(area, SynthConfig(args.region, persons, 2025, args.seed))
            print(f"generated {persons} persons in {time.perf_counter() - start:.1f} s (not timed)")
        tables = compile_tables(Policy(args.region), 2025)
        settled = paid = faults = 0
        elapsed = 0.0
        pool = KernelPool(tables, args.workers, processes=args.processes)
        with pool, Progress(disable=not tty) as progress:
            task = progress.add_task("settling", total=args.claims * args.passes)
            for persons_path, claims_path in parts(area):
                claims, persons = read_part(persons_path, claims_path)
                batches = [(c, p, None) for c, p in split(claims, persons, args.batch)]
                batches *= args.passes
                faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.perf_counter()
                if args.main_thread:
                    results = [main_thread(tables, batch) for batch in batches]
                else:
                    results = list(pool.stream(batches, columns=["fund_pay_sumamt"]))
                elapsed += time.perf_counter() - start
                faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
                settled += len(claims) * args.passes
                paid += sum(int(r.columns["fund_pay_sumamt"].sum()) for r in results)
                progress.update(task, completed=settled)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    where = "main thread" if args.main_thread else f"workers: {args.workers}"
    print(
        f"claims: {settled}  kernel seconds: {elapsed:.2f}  {where}  max RSS MiB: {rss:.0f}  "
        f"page faults while settling: {faults}"
    )
    print(f"funds paid (yuan): {paid / 100:,.2f}")
    print(f"claims/s: {settled / elapsed:.0f}")


if __name__ == "__main__":
    main()
