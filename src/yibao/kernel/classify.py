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

from dataclasses import dataclass

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

#: Item classes and reasons as small integers, in vocabulary order (arrays hold the index).
CLASSES: tuple[ItemClass, ...] = tuple(ItemClass)
REASONS: tuple[LineReason, ...] = tuple(LineReason)
_A, _B, _C = (CLASSES.index(c) for c in (ItemClass.A, ItemClass.B, ItemClass.C))
_R = {r: np.int64(i) for i, r in enumerate(REASONS)}

#: Sex codes (GB/T 2261.1): 0 any (an item without a restriction), 1 male, 2 female.
SEX_ANY, SEX_MALE, SEX_FEMALE = 0, 1, 2
#: No maximum quantity, no age bound.
NO_LIMIT = np.iinfo(np.int64).max


@dataclass(frozen=True)
class CatalogueTable:
    """A region's catalogue compiled to arrays: one row per item version, sorted by (code id,
    valid from). ``codes[code_id]`` is the national code; a version applies on days
    ``valid_from <= day < valid_to`` (epoch days)."""

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

    def code_ids(self, codes: npt.ArrayLike) -> I64:
        """The code id of each code, −1 for a code the catalogue does not list."""
        known = np.asarray(self.codes)
        wanted = np.asarray(codes)
        if not len(known):
            return np.full(len(wanted), -1, dtype=np.int64)
        at = np.searchsorted(known, wanted).clip(0, len(known) - 1)
        return np.where(known[at] == wanted, at, -1).astype(np.int64)

    def rows(self, code_id: I64, day: I64) -> I64:
        """The catalogue row of each (code id, day), −1 when the code is unknown or has no
        version valid on that day."""
        keys = self.code_id * (1 << 20) + self.valid_from
        at = np.searchsorted(keys, code_id * (1 << 20) + day, side="right") - 1
        found = (code_id >= 0) & (at >= 0)
        at = np.where(found, at, 0)
        found &= (self.code_id[at] == code_id) & (day < self.valid_to[at])
        return np.where(found, at, -1).astype(np.int64)


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


def line_amounts(quantity: I64, unit_price: I64) -> I64:
    """amount = quantity × unit price, to the fen half up (金额)."""
    return round_div(quantity * unit_price, _TO_FEN)


def over_quantity(lines: Lines, limit: I64, *, per_day: bool) -> I64:
    """The quantity of each line above the item's maximum per day (or per stay) of its visit,
    counting the visit's earlier lines of the same item first (超限量)."""
    n = len(lines.row)
    if not n or bool((limit == NO_LIMIT).all()):
        return np.zeros(n, dtype=np.int64)
    day = lines.day if per_day else np.zeros(n, dtype=np.int64)
    order = np.lexsort((np.arange(n), day, lines.row, lines.visit))
    q = lines.quantity[order]
    group = np.empty(n, dtype=np.bool_)
    group[0] = True
    keys = (lines.visit[order], lines.row[order], day[order])
    group[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys])
    running = np.cumsum(q)
    starts = np.flatnonzero(group)
    base = np.repeat(running[starts] - q[starts], np.diff(np.append(starts, n)))
    upto = running - base  # the group's quantity up to and including this line
    cap = limit[order]
    over_sorted = np.clip(upto - cap, 0, q)
    over = np.empty(n, dtype=np.int64)
    over[order] = np.where(cap == NO_LIMIT, 0, over_sorted)
    return over


def classify_lines(table: CatalogueTable, lines: Lines) -> LineClasses:
    """Classify fee detail lines (费用明细分类): see the module docstring for the amounts. A line
    outside a restriction (sex, age, institution level, an unapproved indication) and a class-C
    line are fully self-paid; quantity above a daily or per-stay maximum is self-paid at the
    line's price; the rest is over the price limit, or in scope (category B for class B)."""
    r = lines.row
    item_class = table.item_class[r]
    amount = line_amounts(lines.quantity, lines.unit_price)
    restricted_sex = (table.sex[r] != SEX_ANY) & (table.sex[r] != lines.sex)
    restricted_age = (lines.age < table.min_age[r]) | (lines.age > table.max_age[r])
    restricted_level = lines.level < table.min_level[r]
    restricted_indication = table.needs_approval[r] & ~lines.approved
    whole = (
        restricted_sex
        | restricted_age
        | restricted_level
        | restricted_indication
        | (item_class == _C)
    )
    over_day = over_quantity(lines, table.max_per_day[r], per_day=True)
    over_stay = over_quantity(lines, table.max_per_stay[r], per_day=False)
    excess = np.maximum(over_day, over_stay)
    quantity_self_paid = np.where(whole, 0, line_amounts(excess, lines.unit_price))
    fully_self_paid = np.where(whole, amount, quantity_self_paid)
    limit = table.price_limit[r]
    priced_over = (limit != NO_LIMIT) & (lines.unit_price > limit) & ~whole
    gap = np.where(priced_over, lines.unit_price - np.where(priced_over, limit, 0), 0)
    # two roundings may pass the line's own by a fen: the over-limit part gives way
    over_limit = np.minimum(line_amounts(lines.quantity - excess, gap), amount - fully_self_paid)
    in_scope = amount - fully_self_paid - over_limit
    category_b = np.where(item_class == _B, in_scope, 0)
    reason = np.select(
        [
            restricted_sex,
            restricted_age,
            restricted_level,
            restricted_indication,
            item_class == _C,
            over_day > 0,
            over_stay > 0,
            priced_over,
            item_class == _B,
        ],
        [_R[x] for x in REASONS[:-1]],
        default=_R[LineReason.CLASS_A],
    )
    return LineClasses(amount, fully_self_paid, over_limit, in_scope, category_b, reason)


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
