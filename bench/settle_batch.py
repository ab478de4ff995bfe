"""Batch settlement throughput of the columnar kernel.

    python bench/settle_batch.py --claims 10000000

Generates seeded batches of about --batch claims (whole persons, ~10 claims each), then settles
them through ``yibao.kernel.stream.settle_stream`` on all cores, a chunk of --chunk claims at a
time so that memory stays bounded; only settlement is timed. Last line: ``claims/s: <number>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from rich.progress import Progress

from yibao.kernel.stream import settle_stream
from yibao.kernel.tables import compile_tables
from yibao.policy import Policy

try:
    from bench._claims import batch
except ImportError:  # run as a script from the repository root
    from _claims import batch  # type: ignore[no-redef]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000, help="claims per batch")
    parser.add_argument("--chunk", type=int, default=2_000_000, help="claims generated at once")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--region", default="360100")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    tables = compile_tables(Policy(args.region), 2025)
    persons_per_batch = max(1, args.batch // 10)
    done = elapsed = 0.0
    settled = paid = 0
    with Progress(disable=not os.isatty(1)) as progress:
        task = progress.add_task("settling", total=args.claims)
        i = 0
        while settled < args.claims:
            chunk = []  # generation is not timed
            while sum(len(c) for c, _, _ in chunk) < min(args.chunk, args.claims - settled):
                claims, persons = batch(args.seed + i, persons_per_batch)
                chunk.append((claims, persons, None))
                i += 1
            start = time.perf_counter()
            results = list(settle_stream(tables, chunk, workers=args.workers))
            elapsed += time.perf_counter() - start
            settled += sum(len(c) for c, _, _ in chunk)
            paid += sum(int(r.columns["fund_pay_sumamt"].sum()) for r in results)
            progress.update(task, completed=min(settled, args.claims))
    done = settled / elapsed
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"claims: {settled}  batches: {i}  kernel seconds: {elapsed:.2f}  max RSS MiB: {rss:.0f}")
    print(f"funds paid (yuan): {paid / 100:,.2f}")
    print(f"claims/s: {done:,.0f}")


if __name__ == "__main__":
    main()
