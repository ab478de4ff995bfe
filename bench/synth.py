"""Benchmark: generate N persons, their year of claims and the claims' fee detail lines, report
persons per second.

    .venv/bin/python bench/synth.py --persons 1000000 [--out DIR] [--seed S] [--year Y]

Writes to a temporary folder (removed afterwards) unless --out is given. The last line printed
is ``persons/s: <number>``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from yibao.synth import SynthConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--region", default="360100")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=200_000)
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="yibao-synth-"))
    config = SynthConfig(args.region, args.persons, args.year, args.seed, args.chunk_size)
    try:
        started = time.perf_counter()
        manifest = generate(out, config)
        seconds = time.perf_counter() - started
        size = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    print(
        f"persons: {manifest.persons:,}  claims: {manifest.claims:,}  lines: {manifest.lines:,}"
        f"  chunks: {manifest.chunks}"
    )
    print(f"seconds: {seconds:.2f}  parquet: {size / 2**20:.1f} MiB")
    print(f"claims/s: {manifest.claims / seconds:,.0f}  lines/s: {manifest.lines / seconds:,.0f}")
    print(f"persons/s: {manifest.persons / seconds:.0f}")


if __name__ == "__main__":
    main()
