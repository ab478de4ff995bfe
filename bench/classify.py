"""Fee detail lines classified per second through the columnar path (kernel.classify).

    python bench/classify.py [--lines 10000000] [--batch 131072] [--threads 2] [--seed 1]

Generates ``--lines`` lines (not timed) against the shipped illustrative catalogue: visits of 1
to 60 lines (about 20 on average) spread over up to 10 days, codes drawn with more weight on
drugs, lab tests and consumables, each item's unit price around its typical price, about 3% of
priced items billed above their price limit, quantities 1–4 units (items with a daily or
per-stay maximum sometimes above it), patients of both sexes and all ages at levels 1–3, a few
restricted lines approved. The codes arrive as an Arrow dictionary array, as a Parquet part
reads them. Timed, per batch of ``--batch`` lines (cut at visit boundaries): the dictionary's
codes resolved to code ids (once per distinct code) and taken per line, ``CatalogueTable.rows``,
``classify_lines`` and ``visit_sums``; batches run on ``--threads`` threads (NumPy releases the
GIL in most passes). Last line: ``lines/s: <n>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import pyarrow as pa

from yibao.kernel.catalogue import shipped_table
from yibao.kernel.classify import (
    NO_LIMIT,
    CatalogueTable,
    Lines,
    classify_lines,
    visit_sums,
)
from yibao.kernel.tables import epoch_days
from yibao.policy.catalogue import QTY_SCALE, shipped_items

FIRST_DAY = epoch_days(dt.date(2025, 1, 1))


def generate(n: int, seed: int) -> tuple[pa.DictionaryArray, dict[str, np.ndarray]]:
    """``n`` lines: the codes (dictionary-encoded) and the other columns."""
    rng = np.random.default_rng(seed)
    _, items = shipped_items("000000")
    items = [i for i in items if i.typical_price is not None]
    weight = np.array(
        [{"drug": 3.0, "consumable": 1.5, "service": 1.0}[i.kind.value] for i in items]
    )
    weight /= weight.sum()
    item = rng.choice(len(items), size=n, p=weight)
    typical = np.array([i.typical_price for i in items], dtype=np.int64)
    limit = np.array(
        [i.price_limit if i.price_limit is not None else -1 for i in items], dtype=np.int64
    )
    price = (typical[item] * rng.uniform(0.8, 1.1, n)).astype(np.int64) // 10_000 * 10_000
    limited = limit[item] >= 0
    above = limited & (rng.random(n) < 0.03)
    price = np.where(limited & ~above, np.minimum(price, limit[item]), price)
    price = np.where(above, limit[item] + limit[item] // 10, price)
    quantity = rng.integers(1, 5, n) * QTY_SCALE
    sizes = rng.integers(1, 40, n // 10 + 2)
    visit = np.repeat(np.arange(len(sizes)), sizes)[:n]
    if len(visit) < n:  # pragma: no cover - sizes average 20, n // 10 visits suffice
        raise SystemExit("not enough visits")
    n_visits = int(visit[-1]) + 1
    start = FIRST_DAY + rng.integers(0, 350, n_visits)
    day = start[visit] + rng.integers(0, 10, n)
    sex = rng.integers(1, 3, n_visits)[visit]
    age = rng.integers(0, 95, n_visits)[visit]
    level = rng.integers(1, 4, n_visits)[visit]
    approved = rng.random(n) < 0.7
    codes = pa.DictionaryArray.from_arrays(
        pa.array(item.astype(np.int32)), pa.array([i.code for i in items])
    )
    columns = {
        "visit": visit.astype(np.int64),
        "day": day.astype(np.int64),
        "quantity": quantity.astype(np.int64),
        "unit_price": price.astype(np.int64),
        "sex": sex.astype(np.int64),
        "age": age.astype(np.int64),
        "level": level.astype(np.int64),
        "approved": approved,
    }
    return codes, columns


def classify_batch(
    table: CatalogueTable, codes: pa.DictionaryArray, cols: dict[str, np.ndarray], lo: int, hi: int
) -> int:
    """Classify lines lo..hi (whole visits); returns the in-scope sum (to use the result)."""
    chunk = codes.slice(lo, hi - lo)
    ids_of_dictionary = table.code_ids(chunk.dictionary.to_numpy(zero_copy_only=False))
    code_id = ids_of_dictionary.take(chunk.indices.to_numpy())
    day = cols["day"][lo:hi]
    visit = cols["visit"][lo:hi]
    first = int(visit[0])
    local = visit - first
    lines = Lines(
        visit=local,
        row=table.rows(code_id, day),
        day=day,
        quantity=cols["quantity"][lo:hi],
        unit_price=cols["unit_price"][lo:hi],
        sex=cols["sex"][lo:hi],
        age=cols["age"][lo:hi],
        level=cols["level"][lo:hi],
        approved=cols["approved"][lo:hi],
    )
    classes = classify_lines(table, lines)
    sums = visit_sums(local, classes, int(local[-1]) + 1)
    return int(sums.total.sum() - sums.fully_self_paid.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=131_072)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    table = shipped_table("000000")
    codes, cols = generate(args.lines, args.seed)
    n = len(cols["visit"])
    # batch edges at visit boundaries
    edges = [0]
    while edges[-1] < n:
        cut = min(edges[-1] + args.batch, n)
        if cut < n:
            cut = int(np.searchsorted(cols["visit"], cols["visit"][cut], side="left"))
        edges.append(max(cut, edges[-1] + 1))
    bounds = list(pairwise(edges))
    limited = int((table.max_per_day != NO_LIMIT).sum() + (table.max_per_stay != NO_LIMIT).sum())
    print(f"{n:,} lines, {len(bounds)} batches, {len(table.codes)} items, {limited} maxima")
    classify_batch(table, codes, cols, *bounds[0])  # warm-up
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        total = sum(pool.map(lambda b: classify_batch(table, codes, cols, *b), bounds))
    elapsed = time.perf_counter() - started
    print(f"classified in {elapsed:.2f} s on {args.threads} thread(s); checksum {total}")
    print(f"lines/s: {int(n / elapsed)}")


if __name__ == "__main__":
    main()
