"""A catalogue's items compiled to the arrays classification reads (``CatalogueTable``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache

import numpy as np

from yibao.kernel.classify import CLASSES, NO_LIMIT, CatalogueTable
from yibao.kernel.segments import I64
from yibao.kernel.tables import epoch_days
from yibao.policy.catalogue import CatalogueItem, shipped_items

#: Epoch days a version without an end date applies until (exclusive); days are below it.
END_OF_TIME = (1 << 20) - 1


def _day(d: dt.date | None, default: int) -> int:
    return default if d is None else epoch_days(d)


def compile_catalogue(items: Iterable[CatalogueItem]) -> CatalogueTable:
    """Compile item versions (any order; a code's versions must not overlap) to a table sorted
    by (code, valid from); ``valid_to`` becomes exclusive (the day after the last day)."""
    rows = sorted(items, key=lambda i: (i.code, i.valid_from or dt.date.min))
    codes = tuple(dict.fromkeys(i.code for i in rows))
    index = {c: k for k, c in enumerate(codes)}

    def col(values: Iterable[int]) -> I64:
        return np.fromiter(values, dtype=np.int64, count=len(rows))

    def limit(v: int | None) -> int:
        return int(NO_LIMIT) if v is None else v

    return CatalogueTable(
        codes=codes,
        code_id=col(index[i.code] for i in rows),
        valid_from=col(_day(i.valid_from, 0) for i in rows),
        valid_to=col(
            END_OF_TIME if i.valid_to is None else epoch_days(i.valid_to) + 1 for i in rows
        ),
        item_class=col(CLASSES.index(i.item_class) for i in rows),
        price_limit=col(limit(i.price_limit) for i in rows),
        sex=col(i.sex for i in rows),
        min_age=col(i.min_age or 0 for i in rows),
        max_age=col(limit(i.max_age) for i in rows),
        min_level=col(i.min_level or 0 for i in rows),
        max_per_day=col(limit(i.max_per_day) for i in rows),
        max_per_stay=col(limit(i.max_per_stay) for i in rows),
        needs_approval=np.fromiter(
            (i.needs_approval for i in rows), dtype=np.bool_, count=len(rows)
        ),
    )


@cache
def shipped_table(region: str) -> CatalogueTable:
    """The compiled shipped catalogue that applies to ``region`` (``policy.catalogue
    .shipped_items``: the region's own, its province's, else the national one)."""
    return compile_catalogue(shipped_items(region)[1])
