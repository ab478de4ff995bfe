"""A visit's fee lines classified against its region's catalogue (``kernel.classify``): the
whole visit's live lines in one pass, in upload order, so per-day and per-stay maximum
quantities count the earlier uploads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from yibao.domain.fees import FeeLine, FeeLineClass, LineSums, fee_line_class
from yibao.domain.identity import Sex
from yibao.domain.registry import Person
from yibao.domain.settlement import Visit
from yibao.kernel.classify import (
    CLASSES,
    NO_LIMIT,
    REASONS,
    SEX_ANY,
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
    rows = table.rows(ids, _epoch_days([line.fee_date for line in lines]))
    return np.where(ids < 0, -2, rows)


def _epoch_days(dates: Sequence[dt.date]) -> I64:
    """``epoch_days`` of each date (each distinct one computed once)."""
    days = {d: epoch_days(d) for d in set(dates)}
    return np.array([days[d] for d in dates], dtype=np.int64)


_fee_date = attrgetter("fee_date")


def amounts(quantities: Sequence[int], prices: Sequence[int]) -> list[int]:
    """Each line's amount (fen, half up): quantity × unit price (``kernel.classify``)."""
    q = np.array(quantities, dtype=np.int64)
    p = np.array(prices, dtype=np.int64)
    return [int(a) for a in line_amounts(q, p)]


@dataclass(frozen=True)
class VisitLines:
    """A visit's lines to classify together, with their catalogue rows (every one ≥ 0), and
    its person: None when no row is restricted by sex or age (``needs_person``: read for
    those only)."""

    visit: Visit
    person: Person | None
    lines: Sequence[FeeLine]
    rows: I64


def needs_person(table: CatalogueTable, rows: I64) -> bool:
    """Whether a line of these catalogue rows is classified by the person's sex or age (an item
    restricted by either: ``CatalogueTable.by_person``)."""
    return bool(len(rows)) and bool(table.by_person[rows].any())


def classify_visits(
    table: CatalogueTable, visits: Sequence[VisitLines]
) -> list[tuple[list[FeeLineClass], list[int | None]]]:
    """Classify the lines of many visits of one catalogue in one columnar call (each visit's
    maxima count its own lines only): per visit, its lines' classifications and the price
    limits they were held to (price units; None when the item has none)."""
    sizes = [len(v.lines) for v in visits]
    n = sum(sizes)
    if not n:
        return [([], []) for _ in visits]
    lines = [line for v in visits for line in v.lines]
    rows = np.concatenate([v.rows for v in visits]).astype(np.int64)
    if any(v.person is None and needs_person(table, v.rows) for v in visits):
        raise ValueError("an item restricted by sex or age is classified without the person")
    sex = [_sex(v.person) for v in visits]
    ages = [age for v in visits for age in _ages(v.person, v.lines)]
    count = np.array(sizes, dtype=np.int64)
    found = classify_lines(
        table,
        Lines(
            visit=np.repeat(np.arange(len(visits), dtype=np.int64), count),
            row=rows,
            day=_epoch_days([line.fee_date for line in lines]),
            quantity=np.array([line.quantity for line in lines], dtype=np.int64),
            unit_price=np.array([line.unit_price for line in lines], dtype=np.int64),
            sex=np.repeat(np.array(sex, dtype=np.int64), count),
            age=np.array(ages, dtype=np.int64),
            level=np.repeat(np.array([v.visit.level for v in visits], dtype=np.int64), count),
            approved=np.array([line.approved for line in lines], dtype=np.bool_),
        ),
    )
    classes = list(
        map(
            fee_line_class,
            [CLASSES[k] for k in table.item_class[rows].tolist()],
            found.fully_self_paid.tolist(),
            found.over_limit.tolist(),
            found.in_scope.tolist(),
            found.category_b.tolist(),
            [REASONS[k] for k in found.reason.tolist()],
        )
    )
    limits = [None if k == NO_LIMIT else k for k in table.price_limit[rows].tolist()]
    out, at = [], 0
    for size in sizes:
        out.append((classes[at : at + size], limits[at : at + size]))
        at += size
    return out


def _sex(person: Person | None) -> int:
    """The person's sex code (None: no person, no item restricted by sex: ``SEX_ANY``)."""
    if person is None:
        return SEX_ANY
    return SEX_MALE if person.sex is Sex.MALE else SEX_FEMALE


def _ages(person: Person | None, lines: Sequence[FeeLine]) -> list[int]:
    """The person's age on each line's day (each distinct day computed once; no person: 0)."""
    if person is None:
        return [0] * len(lines)
    on = {d: person.age_on(d) for d in set(map(_fee_date, lines))}
    return [on[line.fee_date] for line in lines]


def summed(lines: Sequence[FeeLine]) -> LineSums:
    """Live classified lines summed (one pass)."""
    count = amount = fully_self_paid = over_limit = in_scope = category_b = 0
    for line in lines:
        amount += line.amount
        c = line.classes
        if c is not None:
            count += 1
            fully_self_paid += c.fully_self_paid
            over_limit += c.over_limit
            in_scope += c.in_scope
            category_b += c.category_b
    return LineSums(
        count,
        amount,
        fully_self_paid,
        over_limit,
        in_scope,
        category_b,
        last_day=max(map(_fee_date, lines), default=None),
    )
