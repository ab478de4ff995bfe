"""Planted irregularities (``yibao synth --irregular RATE``): a share of a chunk's claims is
made irregular, one supervision rule's case each in turn, and the cases are recorded as ground
truth (``truth/part-*.parquet``: rule, claim_id, psn_no) so that the rules' recall and false
positives can be measured (docs/supervision.md, docs/synthetic-data.md).

After planting, the chunk's lines are classified again and each claim's sums taken from them,
so claims and lines still agree to the fen.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao.kernel.classify import (
    NO_LIMIT,
    SEX_ANY,
    CatalogueTable,
    Lines,
    classify_lines,
    visit_sums,
)
from yibao.kernel.segments import I64
from yibao.kernel.tables import epoch_days
from yibao.policy.catalogue import QTY_SCALE
from yibao.policy.supervision import RuleCatalogue
from yibao.policy.vocab import MedType, SupervisionRule

#: The rules planted, in turn.
PLANTED: tuple[SupervisionRule, ...] = tuple(SupervisionRule)
#: 离院方式 5: died
DIED = "5"


def _np(table: pa.Table, name: str) -> np.ndarray:
    col = table[name]
    if pa.types.is_date(col.type):
        days = pc.fill_null(pc.cast(col, pa.int32()), -1)
        return np.asarray(days.to_numpy(zero_copy_only=False), np.int64)
    if pa.types.is_string(col.type):
        return np.array(col.to_pylist(), dtype=object)
    return np.array(col.to_numpy(zero_copy_only=False))


class _Chunk:
    """A chunk's claims and lines as mutable columns."""

    def __init__(self, persons: pa.Table, claims: pa.Table, lines: pa.Table) -> None:
        self.claims_schema, self.lines_schema = claims.schema, lines.schema
        self.c = {n: _np(claims, n) for n in claims.column_names}
        self.ln = {n: _np(lines, n) for n in lines.column_names}
        psn = _np(persons, "psn_no")
        self.person = np.searchsorted(psn, self.c["psn_no"])
        self.male = (_np(persons, "sex") == "M")[self.person]
        self.birth_year = np.array(pc.year(persons["birth_date"]).to_numpy(), np.int64)[self.person]
        self.line_claim = np.searchsorted(self.c["claim_id"], self.ln["claim_id"])

        #: appended lines (source line, claim index, day shift) and claims (source, shift, id)
        self.more_lines: list[tuple[I64, int, int]] = []
        self.more_claims: list[tuple[int, int, int]] = []
        self.dead: set[int] = set()
        self.copied: set[int] = set()

    def lines_of(self, claim: int) -> I64:
        lo, hi = np.searchsorted(self.line_claim, [claim, claim + 1])
        return np.arange(lo, hi)

    def add_line(self, at: int) -> None:
        """A copy of line ``at`` after its claim's lines."""
        self.more_lines.append((np.array([at]), int(self.line_claim[at]), 0))

    def copy_claim(self, claim: int, shift: int, new_id: int) -> int:
        """A copy of claim ``claim`` and its lines, ``shift`` days later; its index."""
        new = len(self.c["claim_id"]) + len(self.more_claims)
        self.more_claims.append((claim, shift, new_id))
        self.more_lines.append((self.lines_of(claim), new, shift))
        self.copied.add(int(self.person[claim]))
        return new

    def claim_int(self, name: str, claim: int) -> int:
        """An integer column of a claim, the planted copies included."""
        n = len(self.c["claim_id"])
        if claim < n:
            return int(self.c[name][claim])
        src, shift, new_id = self.more_claims[claim - n]
        if name == "claim_id":
            return new_id
        value = int(self.c[name][src])
        return value + shift if name in ("date", "admit_date") and value >= 0 else value

    def _materialise(self) -> None:
        n_base = len(self.c["claim_id"])
        if self.more_claims:
            src = np.array([m[0] for m in self.more_claims])
            shift = np.array([m[1] for m in self.more_claims])
            for name, col in self.c.items():
                extra = col[src].copy()
                if name == "claim_id":
                    extra = np.array([m[2] for m in self.more_claims], dtype=col.dtype)
                elif name in ("date", "admit_date"):
                    extra = np.where(extra >= 0, extra + shift, extra)
                self.c[name] = np.concatenate([col, extra])
            for name in ("person", "male", "birth_year"):
                base = getattr(self, name)
                setattr(self, name, np.concatenate([base, base[src]]))
        if self.more_lines:
            at = np.concatenate([m[0] for m in self.more_lines])
            claim = np.concatenate([np.full(len(m[0]), m[1]) for m in self.more_lines])
            shift = np.concatenate([np.full(len(m[0]), m[2]) for m in self.more_lines])
            for name, col in self.ln.items():
                extra = col[at].copy()
                if name == "fee_date":
                    extra = extra + shift
                elif name == "claim_id":
                    extra = self.c["claim_id"][claim]
                elif name == "feedetl_sn":  # a repeated line takes a number after the claim's
                    extra = np.where(claim < n_base, 30_000, extra)
                self.ln[name] = np.concatenate([col, extra.astype(col.dtype)])
            self.line_claim = np.concatenate([self.line_claim, claim])
        self.more_claims, self.more_lines = [], []

    def tables(self, table: CatalogueTable, year: int) -> tuple[pa.Table, pa.Table]:
        """Lines in claim order, classified again; the claims' sums from them."""
        self._materialise()
        order = np.lexsort((np.arange(len(self.line_claim)), self.line_claim))
        ln = {n: v[order] for n, v in self.ln.items()}
        claim = self.line_claim[order]
        day = ln["fee_date"]
        rows = table.rows(table.code_ids(ln["code"].astype(str)), day)
        classes = classify_lines(
            table,
            Lines(
                visit=claim,
                row=rows,
                day=day,
                quantity=ln["quantity"],
                unit_price=ln["unit_price"],
                sex=np.where(self.male, 1, 2)[claim],
                age=(year - self.birth_year)[claim],
                level=self.c["level"].astype(np.int64)[claim],
                approved=ln["approved"],
            ),
        )
        ln["amount"] = classes.amount
        sums = visit_sums(claim, classes, len(self.c["claim_id"]))
        c = dict(self.c)
        c["total"], c["fully_self_paid"] = sums.total, sums.fully_self_paid
        c["over_limit"], c["category_b"] = sums.over_limit, sums.category_b
        return _table(c, self.claims_schema), _table(ln, self.lines_schema)


def _table(cols: dict[str, np.ndarray], schema: pa.Schema) -> pa.Table:
    arrays = []
    for f in schema:
        v = cols[f.name]
        if pa.types.is_date(f.type):
            arr = pa.array(v.astype(np.int32), pa.int32())
            arr = pc.cast(pc.if_else(pc.less(arr, 0), None, arr), f.type)
        elif pa.types.is_list(f.type) or pa.types.is_string(f.type):
            arr = pa.array(list(v), f.type)
        else:
            arr = pa.array(v, f.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)


def plant(
    rng: np.random.Generator,
    persons: pa.Table,
    claims: pa.Table,
    lines: pa.Table,
    table: CatalogueTable,
    rules: RuleCatalogue,
    year: int,
    chunk: int,
    rate: float,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Plant irregularities in ``rate`` of the chunk's claims (each rule in turn); the claims,
    lines and the ground truth (rule, claim_id, psn_no)."""
    ch = _Chunk(persons, claims, lines)
    n = len(ch.c["claim_id"])
    wanted = round(rate * n)
    truth: list[tuple[str, int, int]] = []
    if not wanted or not n:
        return claims, lines, _truth(truth)
    first_day = epoch_days(dt.date(year, 1, 1))
    last_day = epoch_days(dt.date(year, 12, 31))
    next_id = (chunk << 32) + (1 << 31)  # above every generated row number
    used: set[int] = set()
    planters = {
        SupervisionRule.DUPLICATE_ITEM: _duplicate,
        SupervisionRule.OVER_QUANTITY: _over_quantity,
        SupervisionRule.SEX_AGE: _sex,
        SupervisionRule.ABOVE_LEVEL: _above_level,
        SupervisionRule.LONG_STAY: _long_stay,
        SupervisionRule.SPLIT_ADMISSION: _split,
        SupervisionRule.DEAD_OR_UNINSURED: _dead,
        SupervisionRule.VISIT_FREQUENCY: _frequent,
    }
    order = rng.permutation(n)
    at = 0
    for k in range(wanted):
        rule = PLANTED[k % len(PLANTED)]
        for _ in range(50):  # try a few claims for one that suits the rule
            if at >= n:
                break
            claim = int(order[at])
            at += 1
            if claim in used:
                continue
            ctx = _Ctx(ch, table, rules, rng, first_day, last_day, next_id)
            planted = planters[rule](ctx, claim)
            next_id = ctx.next_id
            if planted:
                used.update(planted)
                truth.extend(
                    (rule.value, ch.claim_int("claim_id", c), ch.claim_int("psn_no", c))
                    for c in planted
                )
                break
    claims_out, lines_out = ch.tables(table, year)
    return claims_out, lines_out, _truth(truth)


def _truth(rows: list[tuple[str, int, int]]) -> pa.Table:
    rule, claim_id, psn_no = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "rule": pa.array(list(rule), pa.string()),
            "claim_id": pa.array(list(claim_id), pa.int64()),
            "psn_no": pa.array(list(psn_no), pa.int64()),
        }
    )


class _Ctx:
    def __init__(
        self,
        ch: _Chunk,
        table: CatalogueTable,
        rules: RuleCatalogue,
        rng: np.random.Generator,
        first_day: int,
        last_day: int,
        next_id: int,
    ) -> None:
        self.ch, self.table, self.rules, self.rng = ch, table, rules, rng
        self.first_day, self.last_day, self.next_id = first_day, last_day, next_id

    def rows(self, at: I64) -> I64:
        ln = self.ch.ln
        return self.table.rows(self.table.code_ids(ln["code"][at].astype(str)), ln["fee_date"][at])

    def code(self, row: int) -> str:
        return self.table.codes[int(self.table.code_id[row])]

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _duplicate(x: _Ctx, claim: int) -> list[int]:
    """The same line again (an item without checks, so nothing else fires)."""
    at = x.ch.lines_of(claim)
    plain = at[x.table.checks[x.rows(at)] == 0] if len(at) else at
    if not len(plain):
        return []
    x.ch.add_line(int(plain[0]))
    return [claim]


def _over_quantity(x: _Ctx, claim: int) -> list[int]:
    """A line of an item with a daily maximum billed one unit above it."""
    at = x.ch.lines_of(claim)
    if not len(at):
        return []
    rows = x.rows(at)
    ok = (x.table.max_per_day[rows] != NO_LIMIT) & ((x.table.checks[rows] & 1) == 0)
    if not ok.any():
        return []
    line = int(at[np.flatnonzero(ok)[0]])
    row = int(rows[np.flatnonzero(ok)[0]])
    x.ch.ln["quantity"][line] = int(x.table.max_per_day[row]) + QTY_SCALE
    return [claim]


def _replace_code(x: _Ctx, claim: int, candidates: I64) -> list[int]:
    at = x.ch.lines_of(claim)
    if not len(at) or not len(candidates):
        return []
    line = int(at[0])
    day = int(x.ch.ln["fee_date"][line])
    valid = candidates[
        (x.table.valid_from[candidates] <= day) & (day < x.table.valid_to[candidates])
    ]
    if not len(valid):
        return []
    row = int(valid[x.rng.integers(len(valid))])
    x.ch.ln["code"][line] = x.code(row)
    x.ch.ln["quantity"][line] = QTY_SCALE
    return [claim]


def _plain_restriction(t: CatalogueTable) -> I64:
    """Rows without an age restriction, an indication or a quantity maximum."""
    return np.asarray(
        (t.min_age == 0)
        & (t.max_age == NO_LIMIT)
        & ~t.needs_approval
        & (t.max_per_day == NO_LIMIT)
        & (t.max_per_stay == NO_LIMIT),
        dtype=np.bool_,
    )


def _sex(x: _Ctx, claim: int) -> list[int]:
    """A line's item replaced by one restricted to the other sex."""
    t = x.table
    other = 2 if x.ch.male[claim] else 1
    rows = np.flatnonzero((t.sex == other) & _plain_restriction(t) & (t.min_level == 0))
    return _replace_code(x, claim, rows)


def _above_level(x: _Ctx, claim: int) -> list[int]:
    """A line's item replaced by one the claim's level may not bill."""
    t = x.table
    level = int(x.ch.c["level"][claim])
    rows = np.flatnonzero((t.sex == SEX_ANY) & _plain_restriction(t) & (t.min_level > level))
    return _replace_code(x, claim, rows)


def _admission(x: _Ctx, claim: int) -> bool:
    c = x.ch.c
    return bool(c["med_type"][claim] == MedType.INPATIENT and c["diagnosis"][claim] is not None)


def _long_stay(x: _Ctx, claim: int) -> list[int]:
    """An admission's stay made one day longer than its diagnosis group's limit."""
    c = x.ch.c
    if not _admission(x, claim):
        return []
    los = x.rules.stay_limit(c["diagnosis"][claim]) + 1
    if c["date"][claim] - los < x.first_day:
        return []
    c["admit_date"][claim] = c["date"][claim] - los
    c["los_days"][claim] = los
    return [claim]


def _split(x: _Ctx, claim: int) -> list[int]:
    """The admission again, readmitted 1 .. readmission_days days after its discharge."""
    c = x.ch.c
    if not _admission(x, claim) or int(x.ch.person[claim]) in x.ch.dead:
        return []
    los = int(c["date"][claim] - c["admit_date"][claim])
    gap = int(x.rng.integers(1, x.rules.readmission_days + 1))
    shift = los + gap
    if c["date"][claim] + shift > x.last_day:
        return []
    # a clean case: no other admission of the person from this one to the copy's discharge
    same = np.flatnonzero(x.ch.person[: len(c["claim_id"])] == x.ch.person[claim])
    others = same[(same != claim) & (c["med_type"][same] == MedType.INPATIENT)]
    if (
        (c["admit_date"][others] <= c["date"][claim] + shift)
        & (c["date"][others] >= c["admit_date"][claim])
    ).any():
        return []
    return [x.ch.copy_claim(claim, shift, x.new_id())]


def _dead(x: _Ctx, claim: int) -> list[int]:
    """A person's admission ends in death; their later claims are the cases."""
    c = x.ch.c
    if not _admission(x, claim):
        return []
    if int(x.ch.person[claim]) in x.ch.copied:
        return []
    same = np.flatnonzero(x.ch.person[: len(c["claim_id"])] == x.ch.person[claim])
    later = same[c["date"][same] > c["date"][claim]]
    if not len(later):
        return []
    c["discharge_status"][claim] = DIED
    x.ch.dead.add(int(x.ch.person[claim]))
    return [int(i) for i in later]


def _frequent(x: _Ctx, claim: int) -> list[int]:
    """An outpatient visit repeated on the following days until the window holds one visit
    more than the maximum."""
    c = x.ch.c
    copies = x.rules.frequency_max_visits
    if int(x.ch.person[claim]) in x.ch.dead or c["med_type"][claim] != MedType.OUTPATIENT:
        return []
    if c["date"][claim] + copies > x.last_day:
        return []
    if copies >= x.rules.frequency_window_days:
        return []
    added = [x.ch.copy_claim(claim, d, x.new_id()) for d in range(1, copies + 1)]
    return [claim, *added]
