"""Fee detail lines against the catalogue (医保目录): each line's amount, what is fully self-paid
(全自费), over the price limit (超限价) and category B (乙类), in one columnar pass over any
number of lines (rules.md §6, back-office.md §1).

Units: quantities in 1/10,000 of a unit (the national platform's ``cnt``, four decimals), unit
prices in 1/1,000,000 yuan (``pric``, six decimals), amounts in fen. Per line, each amount is
rounded to the fen half up once: amount = quantity × unit price; over limit = quantity × (unit
price − price limit) when the price is above the limit; the self-paid part of a quantity above a
daily or per-stay maximum = that quantity × unit price. Then fully_self_paid + over_limit +
in_scope = amount, and category_b is the in-scope amount of a class-B line. The category-B
pre-payment (乙类先行自付) is not taken here: the kernel's policy scope takes it from the claim's
summed ``category_b``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from yibao.kernel.segments import I64, B, round_div
from yibao.policy.catalogue import PRICE_SCALE as PRICE_SCALE
from yibao.policy.catalogue import QTY_SCALE as QTY_SCALE
from yibao.policy.vocab import ItemClass, LineReason

#: quantity × unit price in these units, divided by this, is fen
_TO_FEN = QTY_SCALE * PRICE_SCALE // 100
#: The largest line amount accepted (yuan): quantity × price stays far inside int64.
MAX_LINE_YUAN = 10_000_000
#: The same in quantity units × price units (10^17 < 2^63).
MAX_LINE_UNITS = MAX_LINE_YUAN * QTY_SCALE * PRICE_SCALE

#: Item classes and reasons as small integers, in vocabulary order (arrays hold the index).
CLASSES: tuple[ItemClass, ...] = tuple(ItemClass)
REASONS: tuple[LineReason, ...] = tuple(LineReason)
_A, _B, _C = (CLASSES.index(c) for c in (ItemClass.A, ItemClass.B, ItemClass.C))
_R = {r: np.int64(i) for i, r in enumerate(REASONS)}
#: The reason of a line of each class that passes every check, in CLASSES order.
_CLASS_REASONS = (LineReason.CLASS_A, LineReason.CLASS_B, LineReason.CLASS_C)

#: Sex codes (GB/T 2261.1): 0 any (an item without a restriction), 1 male, 2 female.
SEX_ANY, SEX_MALE, SEX_FEMALE = 0, 1, 2
#: No maximum quantity, no age bound.
NO_LIMIT = np.iinfo(np.int64).max


#: Bits of ``CatalogueTable.checks``: what a row's lines need beyond their class.
CHECK_RESTRICTED = 1  # sex, age, level or indication
CHECK_QUANTITY = 2  # a maximum per day or per stay
CHECK_PRICE = 4  # a price limit
#: Days are below this (2870 years of epoch days): keys pack (code id, day) as code id × 2^20 + day.
DAY_BITS = 20


@dataclass(frozen=True)
class CatalogueTable:
    """A region's catalogue compiled to arrays: one row per item version, sorted by (code id,
    valid from). ``codes[code_id]`` is the national code; a version applies on days
    ``valid_from <= day < valid_to`` (epoch days). The fields after ``needs_approval`` are
    derived from the others when the table is built."""

    codes: tuple[str, ...]  # code id -> national code, sorted
    code_id: I64  # per row
    valid_from: I64
    valid_to: I64
    item_class: I64  # index into CLASSES
    price_limit: I64  # price units; NO_LIMIT when none (限价)
    sex: I64  # SEX_ANY, SEX_MALE or SEX_FEMALE (限性别)
    min_age: I64  # years, inclusive (0 when none)
    max_age: I64  # years, inclusive (NO_LIMIT when none)
    min_level: I64  # the lowest institution level that may bill it (0 when none)
    max_per_day: I64  # quantity units (NO_LIMIT when none)
    max_per_stay: I64  # quantity units (NO_LIMIT when none)
    needs_approval: B  # 限适应症: in scope only when the hospital approves (hosp_appr_flag)
    #: per row: the reason of a line that passes every check (class A, B or C), as REASONS index
    class_reason: I64 = field(init=False, repr=False)
    #: per row: CHECK_* bits of what its lines need checked (0 for most rows)
    checks: npt.NDArray[np.int8] = field(init=False, repr=False)
    #: per row: a restriction by sex or age (its lines need the person's; the others are
    #: classified alike whatever ``Lines.sex`` and ``Lines.age`` say)
    by_person: B = field(init=False, repr=False)
    #: every code has one version: a code id is its row
    one_version: bool = field(init=False, repr=False)
    _codes: npt.NDArray[np.str_] = field(init=False, repr=False)
    _keys: I64 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        derived = {
            "class_reason": np.array([_R[r] for r in _CLASS_REASONS], dtype=np.int64)[
                self.item_class
            ],
            "checks": (
                np.where(
                    (self.sex != SEX_ANY)
                    | (self.min_age > 0)
                    | (self.max_age != NO_LIMIT)
                    | (self.min_level > 0)
                    | self.needs_approval,
                    CHECK_RESTRICTED,
                    0,
                )
                | np.where(
                    (self.max_per_day != NO_LIMIT) | (self.max_per_stay != NO_LIMIT),
                    CHECK_QUANTITY,
                    0,
                )
                | np.where(self.price_limit != NO_LIMIT, CHECK_PRICE, 0)
            ).astype(np.int8),
            "by_person": (self.sex != SEX_ANY) | (self.min_age > 0) | (self.max_age != NO_LIMIT),
            "one_version": bool(
                len(self.code_id) == len(self.codes)
                and (self.code_id == np.arange(len(self.codes))).all()
            ),
            "_codes": np.asarray(self.codes, dtype=np.str_),
            "_keys": (self.code_id << DAY_BITS) + self.valid_from,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def code_ids(self, codes: npt.ArrayLike) -> I64:
        """The code id of each code, −1 for a code the catalogue does not list."""
        known = self._codes
        wanted = np.asarray(codes)
        if not len(known):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.searchsorted(known, wanted).clip(0, len(known) - 1)
        return np.where(known[at] == wanted, at, -1).astype(np.int64)

    def rows(self, code_id: I64, day: I64) -> I64:
        """The catalogue row of each (code id, day), −1 when the code is unknown or has no
        version valid on that day."""
        if not len(self.code_id):
            return np.full(len(code_id), -1, dtype=np.int64)
        if self.one_version:
            at = np.maximum(code_id, 0)
        else:
            at = np.searchsorted(self._keys, (code_id << DAY_BITS) + day, side="right") - 1
            at = np.maximum(at, 0)
        found = (code_id >= 0) & (self.code_id[at] == code_id)
        found &= (self.valid_from[at] <= day) & (day < self.valid_to[at])
        return np.where(found, at, -1)


@dataclass(frozen=True)
class Lines:
    """Fee detail lines (费用明细), grouped by visit and in upload order within a visit."""

    visit: I64  # visit number, non-decreasing
    row: I64  # catalogue row (CatalogueTable.rows), every one ≥ 0
    day: I64  # epoch day the fee was incurred (fee_ocur_time)
    quantity: I64  # quantity units, > 0
    unit_price: I64  # price units, ≥ 0
    sex: I64  # the patient's sex code
    age: I64  # the patient's age in years on ``day``
    level: I64  # the institution's level (1, 2, 3)
    approved: B  # the hospital approved a restricted item for this patient (hosp_appr_flag)


@dataclass(frozen=True)
class LineClasses:
    """Each line's classification (fen), and the index into REASONS of its reason."""

    amount: I64
    fully_self_paid: I64
    over_limit: I64
    in_scope: I64
    category_b: I64
    reason: I64


def line_too_large(quantity: I64, unit_price: I64) -> B:
    """Lines whose quantity × unit price is above ``MAX_LINE_YUAN`` (checked without forming
    the product, which could pass int64): an edge refuses them before classifying."""
    return unit_price > MAX_LINE_UNITS // np.maximum(quantity, 1)


def line_amounts(quantity: I64, unit_price: I64) -> I64:
    """amount = quantity × unit price, to the fen half up (金额)."""
    return round_div(quantity * unit_price, _TO_FEN)


def over_quantity(lines: Lines, limit_day: I64, limit_stay: I64) -> tuple[I64, I64]:
    """The quantity of each line above its item's maximum per day and per stay of its visit
    (超限量), counting the visit's earlier lines of the same item first (by day, then upload
    order). ``limit_*`` are the lines' limits (NO_LIMIT: none); only lines with a limit are
    sorted."""
    n = len(lines.row)
    over_day = np.zeros(n, dtype=np.int64)
    over_stay = np.zeros(n, dtype=np.int64)
    which = np.flatnonzero((limit_day != NO_LIMIT) | (limit_stay != NO_LIMIT))
    if not len(which):
        return over_day, over_stay
    visit, row, day = lines.visit[which], lines.row[which], lines.day[which]
    if len(which) < (1 << 22) and int(row.max()) < (1 << 20) and int(day.max()) < (1 << 20):
        # one int64 key (visit rank, row, day): a stable argsort keeps upload order
        rank = visit - visit[0] if bool((visit[1:] >= visit[:-1]).all()) else None
        if rank is not None and int(rank[-1]) < (1 << 21):
            key = (rank << 42) | (row << 20) | day
            order = np.argsort(key, kind="stable")
        else:
            order = np.lexsort((day, row, visit))
    else:
        order = np.lexsort((day, row, visit))
    v, r, d = visit[order], row[order], day[order]
    q = lines.quantity[which][order]
    new_item = np.empty(len(order), dtype=np.bool_)
    new_item[0] = True
    np.not_equal(v[1:], v[:-1], out=new_item[1:])
    new_item[1:] |= r[1:] != r[:-1]
    new_day = new_item.copy()
    new_day[1:] |= d[1:] != d[:-1]
    running = np.cumsum(q)
    for new, limit, out in ((new_day, limit_day, over_day), (new_item, limit_stay, over_stay)):
        cap = limit[which][order]
        starts = np.flatnonzero(new)
        base = np.repeat(running[starts] - q[starts], np.diff(np.append(starts, len(q))))
        upto = running - base  # the group's quantity up to and including this line
        over = np.where(cap == NO_LIMIT, 0, np.clip(upto - np.minimum(cap, upto), 0, q))
        out[which[order]] = over
    return over_day, over_stay


def classify_lines(table: CatalogueTable, lines: Lines) -> LineClasses:
    """Classify fee detail lines (费用明细分类): see the module docstring for the amounts. A line
    outside a restriction (sex, age, institution level, an unapproved indication) and a class-C
    line are fully self-paid; quantity above a daily or per-stay maximum is self-paid at the
    line's price; the rest is over the price limit, or in scope (category B for class B).

    Columnar: every line takes a few passes (its amount, its class); the checks of restricted,
    quantity-limited and price-limited items run on those lines only."""
    r = lines.row
    n = len(r)
    amount = line_amounts(lines.quantity, lines.unit_price)
    reason = table.class_reason.take(r)
    fully_self_paid = np.zeros(n, dtype=np.int64)
    over_limit = np.zeros(n, dtype=np.int64)
    checks = table.checks.take(r)
    flagged = np.flatnonzero(checks)
    if len(flagged):
        _check_lines(
            table, lines, flagged, checks[flagged], amount, reason, fully_self_paid, over_limit
        )
    whole_c = np.flatnonzero(reason == _R[LineReason.CLASS_C])
    fully_self_paid[whole_c] = amount[whole_c]
    over_limit[whole_c] = 0
    in_scope = amount - fully_self_paid - over_limit
    category_b = np.where(table.item_class.take(r) == _B, in_scope, 0)
    return LineClasses(amount, fully_self_paid, over_limit, in_scope, category_b, reason)


def _check_lines(
    table: CatalogueTable,
    lines: Lines,
    at: I64,
    checks: npt.NDArray[np.int8],
    amount: I64,
    reason: I64,
    fully_self_paid: I64,
    over_limit: I64,
) -> None:
    """The restriction, quantity and price checks of the lines ``at`` (whose items have
    some), written into ``reason``, ``fully_self_paid`` and ``over_limit`` in place."""
    r = lines.row[at]
    price = lines.unit_price[at]
    quantity = lines.quantity[at]
    restricted = (checks & CHECK_RESTRICTED) != 0
    by = {
        LineReason.SEX: restricted & (table.sex[r] != SEX_ANY) & (table.sex[r] != lines.sex[at]),
        LineReason.AGE: restricted
        & ((lines.age[at] < table.min_age[r]) | (lines.age[at] > table.max_age[r])),
        LineReason.LEVEL: restricted & (lines.level[at] < table.min_level[r]),
        LineReason.INDICATION: restricted & table.needs_approval[r] & ~lines.approved[at],
    }
    whole = by[LineReason.SEX] | by[LineReason.AGE] | by[LineReason.LEVEL]
    whole |= by[LineReason.INDICATION] | (table.item_class[r] == _C)
    sub = Lines(
        lines.visit[at],
        r,
        lines.day[at],
        quantity,
        price,
        lines.sex[at],
        lines.age[at],
        lines.level[at],
        lines.approved[at],
    )
    counted = ((checks & CHECK_QUANTITY) != 0) & ~whole
    no_limit = np.full(len(at), NO_LIMIT, dtype=np.int64)
    over_day, over_stay = over_quantity(
        sub,
        np.where(counted, table.max_per_day[r], no_limit),
        np.where(counted, table.max_per_stay[r], no_limit),
    )
    excess = np.maximum(over_day, over_stay)
    self_paid = np.where(whole, amount[at], line_amounts(excess, price))
    limit = table.price_limit[r]
    priced_over = ((checks & CHECK_PRICE) != 0) & (price > limit) & ~whole
    gap = np.where(priced_over, price - np.where(priced_over, limit, 0), 0)
    # two roundings may pass the line's own by a fen: the over-limit part gives way
    over = np.minimum(line_amounts(quantity - excess, gap), amount[at] - self_paid)
    fully_self_paid[at] = self_paid
    over_limit[at] = over
    # the most significant reason wins: assign from the least significant up
    sub_reason = reason[at]
    for cause, hit in (
        (LineReason.PRICE_LIMIT, priced_over),
        (LineReason.STAY_QUANTITY, over_stay > 0),
        (LineReason.DAY_QUANTITY, over_day > 0),
        (LineReason.CLASS_C, table.item_class[r] == _C),
        (LineReason.INDICATION, by[LineReason.INDICATION]),
        (LineReason.LEVEL, by[LineReason.LEVEL]),
        (LineReason.AGE, by[LineReason.AGE]),
        (LineReason.SEX, by[LineReason.SEX]),
    ):
        sub_reason = np.where(hit, _R[cause], sub_reason)
    reason[at] = sub_reason


@dataclass(frozen=True)
class VisitSums:
    """A visit's claim amounts (fen), summed from its classified lines: what a claim without
    lines states itself (medfee_sumamt, fulamt_ownpay_amt, overlmt_selfpay, the category-B
    amount whose pre-payment share the kernel's policy scope takes)."""

    total: I64
    fully_self_paid: I64
    over_limit: I64
    category_b: I64


def visit_sums(visit: I64, classes: LineClasses, n_visits: int) -> VisitSums:
    """Sum the lines' classes per visit (visit numbers 0 .. n_visits − 1, non-decreasing; a
    visit without lines sums to 0)."""
    bounds = np.searchsorted(visit, np.arange(n_visits + 1, dtype=np.int64))

    def per_visit(x: I64) -> I64:
        running = np.zeros(len(x) + 1, dtype=np.int64)
        np.cumsum(x, out=running[1:])
        return running[bounds[1:]] - running[bounds[:-1]]

    return VisitSums(
        total=per_visit(classes.amount),
        fully_self_paid=per_visit(classes.fully_self_paid),
        over_limit=per_visit(classes.over_limit),
        category_b=per_visit(classes.category_b),
    )
