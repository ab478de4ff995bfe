"""Fee detail lines (费用明细) for a chunk's claims, drawn from the shipped catalogue, and the
claims' amounts derived from them (one columnar pass, no Python loop per line).

The catalogue's items valid on every day a line of the year can fall on are grouped by role
(``line_mix``: bed, nursing, ward round, consultation, service, anaesthesia, drug, consumable;
from the item's kind, fee type and daily maximum), class and whether they carry a sex, age or
level restriction; items tied to an ICD-9-CM-3 procedure are billed with visits that have it.
Nothing here names a catalogue code. Per claim, with budget C (the claim's drawn cost × COST_SCALE):

- an admission bills a bed, a nursing and a ward-round item on each day of its stay, a visit one
  examination fee; the items tied to the visit's procedure (PROC_OTHER_P, PROC_CONSUMABLE_P) and
  anaesthesia hours with an operation;
- the drugs' budget is C × a Beta draw around DRUG_SHARE[med type, level]; what is left after
  drugs and the items above goes to services and consumables (CONSUMABLE_SHARE);
- each role's budget is split over Poisson(LINES_A + LINES_B × days) lines by Exp(1) weights;
  a line draws a class (CLASS_P) and a typical quantity 1 + Poisson(QUANTITY_EXTRA), and takes
  the item of its role and class whose typical price is nearest (log scale, with noise) to
  budget / quantity; then quantity = max(1, round(budget / price)), within the item's maxima;
- the price is the item's typical price × lognormal(0, PRICE_SIGMA) to the fen, held to the
  price limit, except a share OVER_LIMIT_P of the limited lines billed above it; a share
  RESTRICTED_P of lines is drawn among restricted items too, and a share 1 − APPROVED_P of the
  lines of items restricted to indications is not approved by the hospital.

The lines are classified with ``kernel.classify.classify_lines``; a claim's total,
fully_self_paid, over_limit and category_b are the sums of its lines' (``visit_sums``), so claims
and lines agree to the fen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.kernel.catalogue import compile_catalogue
from yibao.kernel.classify import (
    NO_LIMIT,
    PRICE_SCALE,
    QTY_SCALE,
    SEX_ANY,
    CatalogueTable,
    LineClasses,
    Lines,
    VisitSums,
    classify_lines,
    visit_sums,
)
from yibao.policy.catalogue import CatalogueItem
from yibao.policy.vocab import ItemKind
from yibao.synth.claim_rates import PHARMACY_T
from yibao.synth.dates import EPOCH, I64
from yibao.synth.line_mix import (
    ANAESTHESIA,
    ANAESTHESIA_EXTRA_HOURS,
    APPROVED_P,
    BED,
    CLASS_P,
    CLASSED_ROLES,
    CONSULT,
    CONSULT_YUAN,
    CONSUMABLE,
    CONSUMABLE_SHARE,
    COST_SCALE,
    DAILY_ROLES,
    DAILY_YUAN,
    DEVICE_YUAN,
    DRUG,
    DRUG_SHARE,
    DRUG_SHARE_A,
    FAR_ABOVE,
    LINES_A,
    LINES_B,
    LINES_MIN,
    NURSING,
    OVER_LIMIT_P,
    OVER_LIMIT_RANGE,
    PRICE_SIGMA,
    PROC_CONSUMABLE_P,
    PROC_OTHER_P,
    QUANTITY_EXTRA,
    REPEAT_DEVICE_P,
    RESTRICTED_P,
    ROLES,
    SERVICE,
    TARGET_SIGMA,
    WARD,
)

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
#: price units per fen
_FEN = PRICE_SCALE // 100


class CatalogueUnfit(ValueError):
    """The catalogue cannot bill a synthetic year (a role without any item valid all year)."""


#: groups: (role, class 0..2 or 3 for any class, clean flag)
_ANY = 3
_N_GROUPS = len(ROLES) * 4 * 2


_CLASS_CDF = np.cumsum(CLASS_P, axis=2)


def _group(role: I64 | int, item_class: I64 | int, clean: I64 | int) -> I64:
    return np.asarray((np.asarray(role) * 4 + item_class) * 2 + clean, dtype=np.int64)


@dataclass(frozen=True)
class ItemPool:
    """The catalogue items a year's lines are drawn from, grouped for picking by price."""

    table: CatalogueTable
    code: tuple[str, ...]  # per item: its national code
    row: I64  # per item: its catalogue row (one version valid all through the span)
    price: I64  # typical price, price units
    limit: I64  # price limit, NO_LIMIT when none
    min_level: I64
    needs_approval: B
    cap: I64  # the most units one line may bill (daily and per-stay maximum), 0 none
    order: I64  # item indexes sorted by (group, log price)
    key: F64  # group × 100 + log price (yuan) + 50, sorted
    start: I64  # per group: first position in ``order`` (after fallbacks)
    end: I64  # per group: one past the last
    nearest: I64  # (groups, grid): pick()'s lookup table
    procedures: tuple[str, ...]  # ICD-9-CM-3 codes with items, sorted
    proc_start: I64  # per procedure: its items in ``proc_items``
    proc_items: I64
    proc_p: F64  # per entry of proc_items: the probability it is billed


def _role(item: CatalogueItem) -> int:
    per_day = item.max_per_day
    daily = per_day is not None and per_day <= QTY_SCALE
    if item.kind == ItemKind.DRUG:
        return DRUG
    if item.kind == ItemKind.CONSUMABLE:
        return CONSUMABLE
    fee = item.fee_type
    if fee == "01" and daily:
        return BED
    if fee == "07" and daily:
        return NURSING
    if fee == "02" and daily:
        return WARD
    if fee in ("02", "12", "13"):
        return CONSULT
    if fee == "06":
        return ANAESTHESIA
    return SERVICE


def build_pool(items: Sequence[CatalogueItem], first_day: int, last_day: int) -> ItemPool:
    """The pool of the catalogue's items valid on every day from ``first_day`` to ``last_day``
    (epoch days) that have a typical price."""
    table = compile_catalogue(items)
    codes = np.asarray(table.codes)
    ids = np.arange(len(codes), dtype=np.int64)
    first = table.rows(ids, np.full(len(ids), first_day, dtype=np.int64))
    last = table.rows(ids, np.full(len(ids), last_day, dtype=np.int64))
    # the table's rows are the items sorted as compile_catalogue sorts them
    by_row = sorted(items, key=lambda i: (i.code, i.valid_from or dt.date.min))
    priced = np.array([bool(i.typical_price) for i in by_row], dtype=np.bool_)
    keep = (first >= 0) & (first == last)
    keep[keep] = priced[first[keep]]
    ids, rows = ids[keep], first[keep]
    code = tuple(str(c) for c in codes[ids])
    catalogue = [by_row[r] for r in rows]
    role = np.array([_role(i) for i in catalogue], dtype=np.int64)
    tied = np.array([bool(i.procedure) for i in catalogue], dtype=np.bool_)
    price = np.array([i.typical_price or 0 for i in catalogue], dtype=np.int64)
    item_class = table.item_class[rows]
    clean = (
        (table.sex[rows] == SEX_ANY)
        & (table.min_age[rows] == 0)
        & (table.max_age[rows] == NO_LIMIT)
        & (table.min_level[rows] <= 1)
        & ~tied
    )
    for r, name in enumerate(ROLES):
        if not (clean & (role == r)).any() and r != ANAESTHESIA:
            raise CatalogueUnfit(
                f"the catalogue has no unrestricted {name} item with a typical price valid on "
                f"every day from {EPOCH + dt.timedelta(first_day)} to "
                f"{EPOCH + dt.timedelta(last_day)}"
            )
    free = ~tied | (role == ANAESTHESIA)
    log_price = np.log(np.maximum(price, 1) / PRICE_SCALE)
    # an item is in its (class, any) × (any-item, clean) groups; tied items only with procedures
    item_idx, groups = [], []
    for cls in (item_class, np.full(len(code), _ANY)):
        for flag, member in ((0, free), (1, clean | ((role == ANAESTHESIA) & free))):
            sel = np.flatnonzero(member)
            item_idx.append(sel)
            groups.append(_group(role[sel], cls[sel], flag))
    items_all = np.concatenate(item_idx)
    groups_all = np.concatenate(groups)
    keys = groups_all * 100.0 + log_price[items_all] + 50.0
    sort = np.argsort(keys, kind="stable")
    order, key, groups_all = items_all[sort], keys[sort], groups_all[sort]
    all_groups = np.arange(_N_GROUPS)
    start = np.searchsorted(groups_all, all_groups, side="left")
    end = np.searchsorted(groups_all, all_groups, side="right")
    # an empty (role, class) group falls back to the role's any-class group
    for g in range(_N_GROUPS):
        if start[g] == end[g]:
            r, rest = divmod(g, 8)
            alt = int(_group(r, _ANY, rest % 2))
            start[g], end[g] = start[alt], end[alt]
    # items tied to a procedure, in code order within it (services first)
    procs = sorted({i.procedure for i in catalogue if i.procedure})
    entries = sorted(
        (i.procedure, i.kind != ItemKind.SERVICE, i.code, k)
        for k, i in enumerate(catalogue)
        if i.procedure
    )
    proc_items = np.array([e[3] for e in entries], dtype=np.int64)
    proc_of = np.array([procs.index(e[0]) for e in entries], dtype=np.int64)
    proc_start = np.searchsorted(proc_of, np.arange(len(procs) + 1))
    service = np.array([not e[1] for e in entries], dtype=np.bool_)
    first_service = np.zeros(len(entries), dtype=np.bool_)
    first_service[proc_start[:-1][proc_start[:-1] < len(entries)]] = True
    proc_p = np.where(
        service, np.where(first_service & service, 1.0, PROC_OTHER_P), PROC_CONSUMABLE_P
    )
    per_day, per_stay = table.max_per_day[rows], table.max_per_stay[rows]
    cap = np.minimum(per_day, per_stay) // QTY_SCALE
    pool = ItemPool(
        table=table,
        code=code,
        row=rows.astype(np.int64),
        price=price,
        limit=table.price_limit[rows],
        min_level=table.min_level[rows],
        needs_approval=table.needs_approval[rows],
        cap=np.where(np.minimum(per_day, per_stay) == NO_LIMIT, 0, np.maximum(cap, 1)),
        order=order.astype(np.int64),
        key=np.asarray(key, dtype=np.float64),
        start=start.astype(np.int64),
        end=end.astype(np.int64),
        procedures=tuple(procs),
        proc_start=proc_start.astype(np.int64),
        proc_items=proc_items,
        proc_p=proc_p.astype(np.float64),
        nearest=np.zeros((0, 0), dtype=np.int64),
    )
    return replace(pool, nearest=_nearest_grid(pool))


def _nearest(pool: ItemPool, group: I64, target_yuan: F64) -> I64:
    """The item of each group whose typical price is nearest (log scale) the target."""
    g = np.asarray(group, dtype=np.int64)
    lo, hi = pool.start[g], pool.end[g] - 1
    # the group's range may be a fallback group's: search with that group's key base
    base = np.floor(pool.key[lo] / 100.0) * 100.0
    want = base + np.log(np.maximum(target_yuan, 1e-4)) + 50.0
    at = np.searchsorted(pool.key, want).clip(lo, hi)
    below = np.maximum(at - 1, lo)
    nearer = np.abs(pool.key[below] - want) < np.abs(pool.key[at] - want)
    return np.asarray(pool.order[np.where(nearer, below, at)], dtype=np.int64)


#: pick() looks the nearest item up on a grid of log prices from 0.01 to 100,000 yuan
_GRID = 2048
_LOG_LO, _LOG_HI = np.log(0.01), np.log(100_000.0)
_STEP = (_LOG_HI - _LOG_LO) / _GRID


def _nearest_grid(pool: ItemPool) -> I64:
    """(groups, _GRID): the nearest item of each group at each grid point (its middle)."""
    mid = np.exp(_LOG_LO + (np.arange(_GRID) + 0.5) * _STEP)
    groups = np.repeat(np.arange(_N_GROUPS), _GRID)
    return _nearest(pool, groups, np.tile(mid, _N_GROUPS)).reshape(_N_GROUPS, _GRID)


def pick(pool: ItemPool, group: I64, target_yuan: F64) -> I64:
    """The item of each line's group whose typical price is nearest (log scale, to within a
    grid step of 0.8%) the target."""
    at = ((np.log(np.maximum(target_yuan, 1e-9)) - _LOG_LO) / _STEP).astype(np.int64)
    return np.asarray(pool.nearest[group, np.clip(at, 0, _GRID - 1)], dtype=np.int64)


@dataclass(frozen=True)
class Visits:
    """What the lines of a chunk's claims depend on, one row per claim (sorted as the claims)."""

    med_type: I64
    level: I64
    cost: F64  # the drawn cost (yuan): the lines' budget
    day: I64  # epoch day of settlement (an admission's discharge)
    los: I64  # days of stay (0 for a visit)
    procedure: I64  # index into ItemPool.procedures of the visit's procedure, -1 none
    operated: B  # the visit has a procedure (with or without items in the catalogue)
    sex: I64  # 1 male, 2 female
    age: I64


@dataclass(frozen=True)
class FeeLines:
    """A chunk's lines (grouped by claim, in upload order) and their classification."""

    claim: I64  # index of the claim
    item: I64  # index into the pool
    day: I64
    quantity: I64
    unit_price: I64
    approved: B
    classes: LineClasses


@dataclass
class _Parts:
    claim: list[I64]
    item: list[I64]  # -1: to pick
    group: list[I64]
    target: list[F64]  # yuan per unit, for picking
    budget: list[F64]  # yuan for the line (quantity = budget / price), NaN: fixed units
    units: list[I64]  # fixed units (when budget is NaN)
    day: list[I64]

    def add(
        self,
        claim: I64,
        day: I64,
        *,
        item: I64 | None = None,
        group: I64 | None = None,
        target: F64 | None = None,
        budget: F64 | None = None,
        units: I64 | None = None,
    ) -> None:
        n = len(claim)
        self.claim.append(claim)
        self.day.append(day)
        self.item.append(np.full(n, -1, np.int64) if item is None else item)
        self.group.append(np.zeros(n, np.int64) if group is None else group)
        self.target.append(np.ones(n) if target is None else target)
        self.budget.append(np.full(n, np.nan) if budget is None else budget)
        self.units.append(np.ones(n, np.int64) if units is None else units)


#: claims per slice: lines are drawn, classified and turned into Arrow a slice of claims at a
#: time, which bounds the memory of the intermediate arrays whatever the chunk size
SLICE = 25_000


def bill_claims(
    rng: np.random.Generator, pool: ItemPool, v: Visits, claim_id: I64
) -> tuple[VisitSums, pa.Table]:
    """Every claim's lines (a slice of claims at a time), and each claim's amounts summed from
    its classified lines (``kernel.classify.visit_sums``)."""
    n = len(v.med_type)
    sums: list[VisitSums] = []
    tables: list[pa.Table] = []
    for start in range(0, max(n, 1), SLICE):
        stop = min(start + SLICE, n)
        part = Visits(**{k: x[start:stop] for k, x in vars(v).items()})
        fee = make_lines(rng, pool, part)
        sums.append(visit_sums(fee.claim, fee.classes, stop - start))
        tables.append(lines_table(fee, pool, claim_id[start:stop]))
    total = VisitSums(*(np.concatenate([getattr(s, f) for s in sums]) for f in _SUM_FIELDS))
    return total, pa.concat_tables(tables)


_SUM_FIELDS = ("total", "fully_self_paid", "over_limit", "category_b")


def make_lines(rng: np.random.Generator, pool: ItemPool, v: Visits) -> FeeLines:
    """Draw the claims' lines and classify them (see the module docstring)."""
    n = len(v.med_type)
    idx = np.arange(n, dtype=np.int64)
    cost = v.cost * COST_SCALE[v.med_type, v.level]
    admitted = v.los > 0
    days = np.where(admitted, v.los, 0)
    parts = _Parts([], [], [], [], [], [], [])
    fixed = np.zeros(n)

    # daily items: one item per role and stay, billed on each day of the stay
    stays = idx[admitted]
    for j, role in enumerate(DAILY_ROLES):
        target = DAILY_YUAN[v.level[stays], j] * rng.lognormal(0.0, 0.25, len(stays))
        chosen = pick(pool, _group(role, _ANY, 1), target)
        c = np.repeat(stays, days[stays])
        within = np.arange(len(c)) - np.repeat(np.cumsum(days[stays]) - days[stays], days[stays])
        parts.add(c, v.day[c] - v.los[c] + within, item=np.repeat(chosen, days[stays]))
        fixed[stays] += days[stays] * pool.price[chosen] / PRICE_SCALE
    # an outpatient examination fee
    visits = idx[~admitted & (v.med_type != PHARMACY_T)]
    target = CONSULT_YUAN[v.level[visits]] * rng.lognormal(0.0, 0.4, len(visits))
    chosen = pick(pool, _group(CONSULT, _ANY, 1), target)
    parts.add(visits, v.day[visits], item=chosen)
    fixed[visits] += pool.price[chosen] / PRICE_SCALE
    # the items tied to the visit's procedure (those the institution's level may bill)
    has = idx[v.procedure >= 0]
    p = v.procedure[has]
    count = pool.proc_start[p + 1] - pool.proc_start[p]
    c = np.repeat(has, count)
    entry = pool.proc_start[np.repeat(p, count)] + (
        np.arange(len(c)) - np.repeat(np.cumsum(count) - count, count)
    )
    item = pool.proc_items[entry]
    # a repeated treatment (chemotherapy, dialysis …) places a costly device only now and then
    device = ~v.operated[c] & (pool.price[item] >= DEVICE_YUAN * PRICE_SCALE)
    p_item = np.where(device, REPEAT_DEVICE_P, pool.proc_p[entry])
    keep = (rng.random(len(c)) < p_item) & (v.level[c] >= pool.min_level[item])
    c, item = c[keep], item[keep]
    small = pool.price[item] < 200 * PRICE_SCALE
    units = np.where(small, 1 + rng.poisson(1.0, len(c)), 1).astype(np.int64)
    parts.add(c, _stay_day(rng, v, c), item=item, units=units)
    np.add.at(fixed, c, units * pool.price[item] / PRICE_SCALE)
    # anaesthesia with an operation in hospital at level 2 or 3
    c = idx[v.operated & admitted & (v.level >= 2)]
    hours = 1 + rng.poisson(ANAESTHESIA_EXTRA_HOURS, len(c))
    chosen = pick(pool, _group(ANAESTHESIA, _ANY, 1), np.full(len(c), 400.0))
    parts.add(c, _stay_day(rng, v, c), item=chosen, units=hours.astype(np.int64))
    fixed[c] += hours * pool.price[chosen] / PRICE_SCALE

    # budgets: drugs a Beta share of the cost, the rest (after fixed items) services/consumables
    share = np.minimum(DRUG_SHARE[v.med_type, v.level], 0.99)
    drug_share = np.where(
        v.med_type == PHARMACY_T,
        1.0,
        rng.beta(DRUG_SHARE_A * share, DRUG_SHARE_A * (1 - share)),
    )
    drug_budget = cost * drug_share
    rest = np.maximum(cost - drug_budget - fixed, 0.0)
    cons_budget = rest * CONSUMABLE_SHARE[v.med_type]
    budgets = np.stack([rest - cons_budget, drug_budget, cons_budget], axis=1)
    mean = LINES_A[v.med_type] + LINES_B[v.med_type] * days[:, None]
    counts = np.maximum(rng.poisson(mean), LINES_MIN[v.med_type])
    counts = np.where(budgets > 0.5, np.maximum(counts, 1), 0).astype(np.int64)
    for j, role in enumerate(CLASSED_ROLES):
        c = np.repeat(idx, counts[:, j])
        m = len(c)
        w = rng.exponential(1.0, m)
        total_w = np.bincount(c, weights=w, minlength=n)
        budget = budgets[c, j] * w / np.where(total_w[c] > 0, total_w[c], 1.0)
        med = v.med_type[c]
        u = rng.random(m)
        cls = (u >= _CLASS_CDF[med, j, 0]).astype(np.int64) + (u >= _CLASS_CDF[med, j, 1])
        clean = (rng.random(m) >= RESTRICTED_P).astype(np.int64)
        q0 = 1 + rng.poisson(QUANTITY_EXTRA[role], m)
        target = budget / q0 * rng.lognormal(0.0, TARGET_SIGMA, m)
        parts.add(
            c, _stay_day(rng, v, c), group=_group(role, cls, clean), target=target, budget=budget
        )

    claim = np.concatenate(parts.claim)
    item = np.concatenate(parts.item)
    budget = np.concatenate(parts.budget)
    units = np.concatenate(parts.units)
    to_pick = np.flatnonzero(item < 0)
    group = np.concatenate(parts.group)[to_pick]
    target = np.concatenate(parts.target)[to_pick]
    chosen = pick(pool, group, target)
    # a class with nothing near the target price gives way to the role's other classes
    far = pool.price[chosen] > FAR_ABOVE * target * PRICE_SCALE
    any_class = ((group // 8) * 4 + _ANY) * 2 + group % 2
    chosen[far] = pick(pool, any_class[far], target[far])
    item[to_pick] = chosen
    day = np.concatenate(parts.day)
    m = len(claim)

    # price: the typical one with a spread, held to the limit except a share of lines
    price = pool.price[item] * rng.lognormal(0.0, PRICE_SIGMA, m)
    limit = pool.limit[item]
    limited = limit != NO_LIMIT
    over = limited & (rng.random(m) < OVER_LIMIT_P[v.med_type[claim]])
    above = np.where(limited, limit, 0) * (1.0 + rng.uniform(*OVER_LIMIT_RANGE, m))
    price = np.where(limited, np.where(over, above, np.minimum(price, limit)), price)
    unit_price = np.maximum(np.rint(price / _FEN), 1).astype(np.int64) * _FEN
    budgeted = ~np.isnan(budget)
    drawn = np.rint(np.where(budgeted, budget, 0.0) * PRICE_SCALE / unit_price)
    units = np.where(budgeted, np.maximum(drawn, 1), units).astype(np.int64)
    cap = pool.cap[item]
    units = np.where(cap > 0, np.minimum(units, cap), units)
    quantity = units * QTY_SCALE
    approved = ~pool.needs_approval[item] | (rng.random(m) < APPROVED_P)

    # upload order: by claim, then day
    first = int(day.min()) if m else 0
    order = np.argsort(claim * 2048 + (day - first), kind="stable")
    claim, item, day = claim[order], item[order], day[order]
    quantity, unit_price, approved = quantity[order], unit_price[order], approved[order]
    lines = Lines(
        visit=claim,
        row=pool.row[item],
        day=day,
        quantity=quantity,
        unit_price=unit_price,
        sex=v.sex[claim],
        age=v.age[claim],
        level=v.level[claim],
        approved=approved,
    )
    return FeeLines(
        claim=claim,
        item=item,
        day=day,
        quantity=quantity,
        unit_price=unit_price,
        approved=approved,
        classes=classify_lines(pool.table, lines),
    )


def _stay_day(rng: np.random.Generator, v: Visits, claim: I64) -> I64:
    """A day of the visit: the visit's day, or a day of the stay (admission .. discharge)."""
    los = v.los[claim]
    offset = np.floor(rng.random(len(claim)) * (los + 1)).astype(np.int64)
    return np.asarray(v.day[claim] - los + offset, dtype=np.int64)


def lines_table(lines: FeeLines, pool: ItemPool, claim_id: I64, feedetl_base: int = 1) -> pa.Table:
    """The lines as the Parquet part writes them."""
    claim = lines.claim
    n = len(claim)
    starts = np.searchsorted(claim, claim, side="left")
    sn = np.arange(n, dtype=np.int64) - starts + feedetl_base
    codes = pa.array(pool.code, type=pa.string()).take(pa.array(lines.item))
    return pa.table(
        {
            "claim_id": pa.array(claim_id[claim]),
            "feedetl_sn": pa.array(sn.astype(np.int32)),
            "code": codes,
            "fee_date": pa.array(lines.day.astype(np.int32), type=pa.date32()),
            "quantity": pa.array(lines.quantity),
            "unit_price": pa.array(lines.unit_price),
            "approved": pa.array(lines.approved),
            "amount": pa.array(lines.classes.amount),
        }
    )
