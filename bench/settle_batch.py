"""Batch settlement throughput of the compiled kernel over a synthetic pooling area, end to end
from Parquet.

    python bench/settle_batch.py --claims 10000000 [--area DIR] [--workers 2] [--main-thread]

Generates a seeded area with ``yibao synth`` (about 5.7 claims per person, every scheme, med
type, level, aid class and cross-region kind; not timed), or reads one given with --area, then
settles it part by part twice. First the kernel alone: each part is read into kernel arrays (not
timed) and cut at person boundaries into batches of --batch claims that ``KernelPool.stream``
settles on all cores (timed: "kernel claims/s"). Then end to end, ``batch.area.settle_area``:
one part a core at once, each on its own thread (read from Parquet by ``batch.area.read_part``:
the kernel's columns, strings as dictionaries, sorted only if not in order; ``--read-threads``
lets Arrow decode on its own threads too; its batches settled in order on that same thread, the
part's data still in its core's caches (``--pool-end-to-end``: through the pool instead); its
payments written as Parquet by ``batch.area.write_payments``, one file a part in (person, date)
order, row groups of at least 131,072 claims) (timed: the last line, and the process CPU time a
claim). Memory stays bounded by about one part a core. ``--main-thread`` settles the kernel
alone's batches on the main thread instead of the pool; ``--passes K`` settles each
part K times for the kernel's own figure (a small area still times many calls). Prints the page
faults taken while settling (``ru_minflt``). The compiled kernel is loaded (or compiled) before
the clock starts. Results are written plainly (not-nullable int64, no dictionary or statistics,
LZ4 only for the mostly-zero payments: ``batch.area.MOSTLY_ZERO``).
Last line: ``claims/s: <number>``, end to end.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import Progress, TaskID

from yibao.batch.area import PAYMENTS, parts, read_part, settle_area, split
from yibao.kernel.settle import Result, settle_claims, warm
from yibao.kernel.stream import Batch, KernelPool
from yibao.kernel.tables import Tables, compile_tables
from yibao.policy import Policy
from yibao.synth import SynthConfig, generate

CLAIMS_PER_PERSON = 5.73  # what yibao synth generates on average
#: The payments written for each claim.
WRITTEN = PAYMENTS


def main_thread(tables: Tables, batch: Batch) -> Result:
    """One batch settled on the calling thread, keeping what the pool keeps."""
    result = settle_claims(tables, *batch, explain=False)
    return Result({c: result.columns[c] for c in WRITTEN}, result.state)


def settle(
    tables: Tables, pool: KernelPool, batches: Iterable[Batch], on_main_thread: bool
) -> Iterator[Result]:
    """The batches settled in order, on the pool or on the calling thread."""
    if on_main_thread:
        return (main_thread(tables, batch) for batch in batches)
    return pool.stream(batches, columns=WRITTEN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--area", type=Path, help="a generated area (default: generate one)")
    parser.add_argument("--batch", type=int, default=20_000, help="claims per kernel call")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--processes", action="store_true", help="processes instead of threads")
    parser.add_argument(
        "--main-thread",
        action="store_true",
        help="the kernel alone on the main thread, not on the pool",
    )
    parser.add_argument(
        "--pool-end-to-end",
        action="store_true",
        help="end to end, each part's batches settled on the pool (default: on the part's thread)",
    )
    parser.add_argument("--passes", type=int, default=1, help="settle each part this many times")
    parser.add_argument(
        "--read-threads",
        action="store_true",
        help="Arrow decodes each part on its own threads too (the reader's one thread by default)",
    )
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
        warm(tables)  # the compiled kernel loaded from its cache (or compiled) before timing
        settled = paid = faults = 0
        elapsed = 0.0
        pool = KernelPool(tables, args.workers, processes=args.processes)
        with pool, Progress(disable=not tty) as progress:
            task = progress.add_task("kernel alone", total=args.claims)
            # the kernel alone: each part read (not timed), its batches settled --passes times
            for persons_path, claims_path in parts(area):
                claims, persons = read_part(persons_path, claims_path)
                batches = [(c, p, None) for c, p in split(claims, persons, args.batch)]
                faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.perf_counter()
                for result in settle(tables, pool, batches * args.passes, args.main_thread):
                    paid += int(result.columns["fund_pay_sumamt"].sum())
                elapsed += time.perf_counter() - start
                faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
                settled += len(claims)
                progress.update(task, completed=settled)
            # end to end, --passes times: every part read, settled once and its payments
            # written (batch.area.settle_area), each pass into a new folder
            walls, cpus = [], []
            for k in range(args.passes):
                task = progress.add_task(f"end to end {k + 1}", total=settled)
                out = Path(tmp) / f"settled-{k}"
                start, cpu_start = time.perf_counter(), time.process_time()

                def stream(batches: Iterable[Batch], task: TaskID = task) -> Iterator[Result]:
                    for result in settle(tables, pool, batches, not args.pool_end_to_end):
                        progress.advance(task, len(result.columns[WRITTEN[0]]))
                        yield result

                done = settle_area(
                    area,
                    out,
                    stream,
                    args.batch,
                    WRITTEN,
                    read_threads=args.read_threads,
                    pipelines=args.workers,
                )
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu_start)
                # what was written is what the kernel alone paid (not timed)
                written = sum(
                    pc.sum(pq.read_table(f, columns=["fund_pay_sumamt"])[0]).as_py() or 0
                    for f in out.glob("part-*.parquet")
                )
                assert done == settled and written * args.passes == paid, (written, paid)
                shutil.rmtree(out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    alone = "main thread" if args.main_thread else f"workers: {args.workers}"
    end_to_end = f"workers: {args.workers}" if args.pool_end_to_end else "each part's thread"
    where = f"kernel alone: {alone}, end to end: {end_to_end}"
    passes = ", ".join(
        f"{w:.2f} s (CPU {c:.2f}: {c / settled * 1e9:.0f} ns a claim)"
        for w, c in zip(walls, cpus, strict=True)
    )
    print(
        f"claims: {settled}  kernel seconds ({args.passes} passes): {elapsed:.2f}  "
        f"end-to-end passes: {passes}  "
        f"{where}  max RSS MiB: {rss:.0f}  page faults while settling: {faults}"
    )
    print(f"funds paid (yuan): {paid / 100:,.2f}")
    print(f"kernel claims/s: {settled * args.passes / elapsed:.0f}")
    print(f"end-to-end claims/s by pass: {', '.join(f'{settled / w:.0f}' for w in walls)}")
    print(f"claims/s: {settled / statistics.median(walls):.0f}")


if __name__ == "__main__":
    main()
