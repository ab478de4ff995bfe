"""A visit's fee lines classified against its region's catalogue (``kernel.classify``): the
whole visit's live lines in one pass, in upload order, so per-day and per-stay maximum
quantities count the earlier uploads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from yibao.domain.fees import FeeLine, FeeLineClass, LineSums
from yibao.domain.identity import Sex
from yibao.domain.registry import Person
from yibao.domain.settlement import Visit
from yibao.kernel.classify import (
    CLASSES,
    NO_LIMIT,
    REASONS,
    SEX_FEMALE,
    SEX_MALE,
    CatalogueTable,
    Lines,
    classify_lines,
    line_amounts,
)
from yibao.kernel.segments import I64
from yibao.kernel.tables import epoch_days


def catalogue_rows(table: CatalogueTable, lines: Sequence[FeeLine]) -> I64:
    """Each line's catalogue row on its fee date: −2 for a code the catalogue does not list,
    −1 for one it lists but not on that date."""
    if not lines:
        return np.zeros(0, dtype=np.int64)
    ids = table.code_ids(np.array([line.code for line in lines]))
    days = np.array([epoch_days(line.fee_date) for line in lines], dtype=np.int64)
    rows = table.rows(ids, days)
    return np.where(ids < 0, -2, rows)


def amounts(quantities: Sequence[int], prices: Sequence[int]) -> list[int]:
    """Each line's amount (fen, half up): quantity × unit price (``kernel.classify``)."""
    q = np.array(quantities, dtype=np.int64)
    p = np.array(prices, dtype=np.int64)
    return [int(a) for a in line_amounts(q, p)]


@dataclass(frozen=True)
class Classified:
    """A line's classification and the price limit it was held to (price units; None when the
    item has none)."""

    classes: FeeLineClass
    price_limit: int | None


def classify_visit(
    table: CatalogueTable, visit: Visit, person: Person, lines: Sequence[FeeLine], rows: I64
) -> list[Classified]:
    """Classify the visit's lines (``rows``: their catalogue rows, every one ≥ 0)."""
    n = len(lines)
    if not n:
        return []
    days = np.array([epoch_days(line.fee_date) for line in lines], dtype=np.int64)
    ages = np.array([person.age_on(line.fee_date) for line in lines], dtype=np.int64)
    sex = SEX_MALE if person.sex is Sex.MALE else SEX_FEMALE
    found = classify_lines(
        table,
        Lines(
            visit=np.zeros(n, dtype=np.int64),
            row=rows,
            day=days,
            quantity=np.array([line.quantity for line in lines], dtype=np.int64),
            unit_price=np.array([line.unit_price for line in lines], dtype=np.int64),
            sex=np.full(n, sex, dtype=np.int64),
            age=ages,
            level=np.full(n, visit.level, dtype=np.int64),
            approved=np.array([line.approved for line in lines], dtype=np.bool_),
        ),
    )
    limits = table.price_limit[rows]
    classes = table.item_class[rows]
    return [
        Classified(
            FeeLineClass(
                CLASSES[int(classes[i])],
                int(found.fully_self_paid[i]),
                int(found.over_limit[i]),
                int(found.in_scope[i]),
                int(found.category_b[i]),
                REASONS[int(found.reason[i])],
            ),
            None if limits[i] == NO_LIMIT else int(limits[i]),
        )
        for i in range(n)
    ]


def summed(lines: Sequence[FeeLine]) -> LineSums:
    """Live classified lines summed."""
    cs = [line.classes for line in lines if line.classes is not None]
    return LineSums(
        len(cs),
        sum(line.amount for line in lines),
        sum(c.fully_self_paid for c in cs),
        sum(c.over_limit for c in cs),
        sum(c.in_scope for c in cs),
        sum(c.category_b for c in cs),
    )
