"""Streaming the kernel over many batches on all cores (NumPy releases the GIL in its loops).

Batches are independent when they hold whole persons, so they settle in parallel threads; the
results come back in input order and memory stays bounded by ``workers`` + ``prefetch`` batches.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from yibao.kernel.settle import Claims, Persons, Result, State, settle
from yibao.kernel.tables import Tables

Batch = tuple[Claims, Persons, State | None]


def settle_stream(
    tables: Tables,
    batches: Iterable[Batch],
    workers: int | None = None,
    prefetch: int = 2,
    explain: bool = False,
) -> Iterator[Result]:
    """Settle each batch (claims of whole persons, sorted by person and date), in order."""
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[Result]] = deque()
        for claims, persons, state in batches:
            pending.append(pool.submit(settle, tables, claims, persons, state, explain))
            if len(pending) >= workers + prefetch:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
