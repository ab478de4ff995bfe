"""Streaming the kernel over many batches on all cores.

Batches are independent when they hold whole persons, so they settle in parallel; results come
back in input order and memory stays bounded by ``workers`` + ``prefetch`` batches in flight.
Threads (the default) share the batches without copying and the compiled kernel runs without the
GIL (``kernel.jit``); worker processes pay for pickling every batch both ways, which measured
slower here (docs/benchmarks.md).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from yibao.kernel.segments import I64
from yibao.kernel.settle import Claims, Persons, Result, State, settle_claims
from yibao.kernel.tables import Tables

Batch = tuple[Claims, Persons, State | None]

_TABLES: Tables | None = None


def _init(tables: Tables) -> None:
    global _TABLES
    _TABLES = tables


def _settle_in_worker(
    batch: Batch, explain: bool, columns: Sequence[str] | None
) -> tuple[Mapping[str, I64], State]:
    assert _TABLES is not None
    result = settle_claims(_TABLES, batch[0], batch[1], batch[2], explain)
    kept = result.columns if columns is None else {c: result.columns[c] for c in columns}
    return kept, result.state


class KernelPool:
    """Worker processes (or threads) holding the compiled tables, reused across streams."""

    def __init__(self, tables: Tables, workers: int | None = None, processes: bool = False):
        self.workers = workers or os.cpu_count() or 1
        self.executor: Executor
        if processes and self.workers > 1:
            self.executor = ProcessPoolExecutor(
                self.workers,
                mp_context=mp.get_context("fork"),
                initializer=_init,
                initargs=(tables,),
            )
        else:
            _init(tables)
            self.executor = ThreadPoolExecutor(self.workers)

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.executor.shutdown()

    def stream(
        self,
        batches: Iterable[Batch],
        prefetch: int = 2,
        explain: bool = False,
        columns: Sequence[str] | None = None,
    ) -> Iterator[Result]:
        """Settle each batch (claims of whole persons, sorted by person and date), in order.

        ``columns`` limits the output columns sent back from worker processes (all by default).
        """
        pending: deque[Future[tuple[Mapping[str, I64], State]]] = deque()
        for batch in batches:
            pending.append(self.executor.submit(_settle_in_worker, batch, explain, columns))
            if len(pending) >= self.workers + prefetch:
                yield Result(*pending.popleft().result())
        while pending:
            yield Result(*pending.popleft().result())


def settle_stream(
    tables: Tables,
    batches: Iterable[Batch],
    workers: int | None = None,
    explain: bool = False,
    processes: bool = False,
    columns: Sequence[str] | None = None,
) -> Iterator[Result]:
    """Settle a stream of batches on a pool of its own (see ``KernelPool.stream``)."""
    with KernelPool(tables, workers, processes) as pool:
        yield from pool.stream(batches, explain=explain, columns=columns)
