"""Single-claim pre-settlement through the same kernel, in process.

    python bench/presettle.py [--n 50000] [--coalesce 64]

Each request is the first claim of one person of a generated area (``yibao synth``) with a
stored year-to-date state, as the online path sees it (policy tables compiled once): the
claim's and the person's fields in one array, the state as a column of the kernel's state
matrix (``kernel.online.Request``, ``state_of``), as the service builds them. Two ways are
timed, each in wall time and in the process's CPU time (the machine may be shared):

- one kernel call per request (``settle_one``): the latency floor of a lone request;
- requests coalesced ``--coalesce`` at a time into one kernel call (``settle_many``), as a server
  does with the requests that arrive together.

``--parts`` also times the parts of one call in process (best of repeated timings, the
process's CPU time): the given state as the compiled entry reads it, allocating the output,
the compiled call, the result's objects, and the whole call.

Last line: ``settlements/s: <number>``, one kernel call per request.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import timeit
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import numpy as np

from yibao.batch.area import parts, read_part
from yibao.kernel.online import Request, settle_many, settle_one, state_of
from yibao.kernel.settle import Claims, Persons, warm
from yibao.kernel.tables import Tables, compile_tables
from yibao.policy import Policy
from yibao.synth import SynthConfig, generate


def requests(tables: Tables, n: int, region: str) -> list[Request]:
    """n single-claim requests of distinct persons of a generated area, each with a state."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), SynthConfig(region, n + n // 2, 2025, seed=7))
        claims, persons = read_part(*parts(tmp)[0])
    n = min(n, len(persons.scheme))
    first = np.searchsorted(claims.person, np.arange(n))
    zero = np.zeros(1, dtype=np.int64)
    out = []
    for p in range(n):
        i = first[p]
        c = Claims(**{f.name: getattr(claims, f.name)[i : i + 1] for f in fields(Claims)})
        c.person = zero
        person = Persons(**{f.name: getattr(persons, f.name)[p : p + 1] for f in fields(Persons)})
        out.append(Request.of(c, person, state_of(tables, {"admissions": 1})))
    return out


def time_parts(tables: Tables, request: Request) -> None:
    """Where one call's time goes (µs of the process's CPU time, best of 7 × 20,000)."""
    from yibao.kernel import single_pass as sp
    from yibao.kernel.columns import Result
    from yibao.kernel.state import Rows, State

    def best(f: Callable[[], object]) -> float:
        timer = timeit.Timer(f, timer=time.process_time)
        return min(timer.repeat(number=20_000, repeat=7)) / 20_000 * 1e6

    e = sp.online(tables)
    given, at, _ = sp._given(e, request.state)
    buf = np.empty((e.height, 1), dtype=np.int64)
    timed = {
        "given state": lambda: sp._given(e, request.state),
        "allocate output": lambda: np.empty((e.height, 1), dtype=np.int64),
        "compiled call": lambda: sp.settle_each(e.static, request.row, given, at, buf, True),
        "result objects": lambda: Result(Rows(buf, e.columns[0]), State(Rows(buf, e.state_at))),
        "whole call": lambda: settle_one(tables, request),
    }
    for name, f in timed.items():
        print(f"{name}: {best(f):.2f} µs CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--coalesce", type=int, default=64)
    parser.add_argument("--region", default="360100")
    parser.add_argument("--parts", action="store_true", help="time the parts of one call")
    args = parser.parse_args()
    tables = compile_tables(Policy(args.region), 2025)
    warm(tables)  # the compiled kernel loaded from its cache (or compiled) before timing
    reqs = requests(tables, args.n, args.region)

    start, cpu = time.perf_counter(), time.process_time()
    for r in reqs:
        settle_one(tables, r)
    alone, alone_cpu = time.perf_counter() - start, time.process_time() - cpu

    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(reqs), args.coalesce):
        settle_many(tables, reqs[i : i + args.coalesce])
    together, together_cpu = time.perf_counter() - start, time.process_time() - cpu

    if args.parts:
        time_parts(tables, reqs[0])

    n = len(reqs)
    print(
        f"one call per request: {n / alone:,.0f}/s  ({alone / n * 1e6:.1f} µs each, "
        f"CPU {alone_cpu / n * 1e6:.1f} µs)"
    )
    print(
        f"coalesced {args.coalesce} per call: {n / together:,.0f}/s  "
        f"({together / n * 1e6:.1f} µs each, CPU {together_cpu / n * 1e6:.1f} µs)"
    )
    print(f"settlements/s: {n / alone:.0f}")


if __name__ == "__main__":
    main()
