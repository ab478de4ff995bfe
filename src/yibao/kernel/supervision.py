"""Supervision rules (智能监控) over columns: each rule a named function of NumPy arrays of visits
or fee detail lines, returning what fires (back-office.md §4, rules.md §9, docs/supervision.md).

Days are epoch days. Lines reuse the classification (``kernel.classify``): the quantity over a
maximum, a sex or age restriction and an item above the institution's level are the line's
``LineReason``; the rules here add what the classification does not see (duplicates, a person's
visits over time, a stay against its limit, cover and death).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yibao.kernel.classify import NO_LIMIT, REASONS
from yibao.kernel.segments import I64, B
from yibao.policy.supervision import LINE_RULE_REASONS
from yibao.policy.vocab import LineReason, SupervisionRule

_REASON = {r: i for i, r in enumerate(REASONS)}
#: Sorting keys pack (person rank, day) as rank × 2^DAY_BITS + day.
_DAY_BITS = 20


def _reason_in(reason: I64, *which: LineReason) -> B:
    hit = np.zeros(len(reason), dtype=np.bool_)
    for r in which:
        hit |= reason == _REASON[r]
    return hit


def over_quantity_lines(reason: I64) -> B:
    """超限量: lines whose quantity passed the item's daily or per-stay maximum."""
    return _reason_in(reason, *LINE_RULE_REASONS[SupervisionRule.OVER_QUANTITY])


def sex_age_lines(reason: I64) -> B:
    """限性别/限年龄: lines of an item restricted to the other sex or to other ages."""
    return _reason_in(reason, *LINE_RULE_REASONS[SupervisionRule.SEX_AGE])


def above_level_lines(reason: I64) -> B:
    """超医疗机构级别: lines of an item the institution's level may not bill."""
    return _reason_in(reason, *LINE_RULE_REASONS[SupervisionRule.ABOVE_LEVEL])


def _ranks(values: I64) -> I64:
    """Small keys to pack: ``values`` themselves when they are already small indexes (a
    person's row), else their dense ranks (0 ..)."""
    if not len(values) or (int(values.min()) >= 0 and int(values.max()) < (1 << 23)):
        return values.astype(np.int64, copy=False)
    _, rank = np.unique(values, return_inverse=True)
    return rank.astype(np.int64).reshape(-1)


def duplicate_lines(person: I64, code: I64, day: I64, quantity: I64, unit_price: I64) -> I64:
    """重复收费: for each line, the earlier line it repeats (the same person, item, day, quantity
    and unit price), −1 when it repeats none. The first of a group is not a duplicate."""
    n = len(code)
    first = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return first
    key = (_ranks(person) << 40) | (code.astype(np.int64) << _DAY_BITS) | (day & 0xFFFFF)
    # one sort of the packed key finds the few lines sharing (person, item, day); only those
    # are sorted again with quantity and price
    order = np.argsort(key)
    k = key[order]
    repeat = np.zeros(n, dtype=np.bool_)
    repeat[1:] = k[1:] == k[:-1]
    repeat[:-1] |= repeat[1:]
    cand = order[repeat]
    if not len(cand):
        return first
    order = cand[np.lexsort((cand, unit_price[cand], quantity[cand], key[cand]))]
    k, q, p = key[order], quantity[order], unit_price[order]
    same = (k[1:] == k[:-1]) & (q[1:] == q[:-1]) & (p[1:] == p[:-1])
    m = len(order)
    start = np.ones(m, dtype=np.bool_)
    start[1:] = ~same
    group_first = order[np.maximum.accumulate(np.where(start, np.arange(m), 0))]
    dup = np.flatnonzero(~start)
    first[order[dup]] = group_first[dup]
    return first


def split_admissions(
    person: I64, admit: I64, discharge: I64, diagnosis: I64, inpatient: B, window_days: int
) -> I64:
    """分解住院: for each admission, the person's previous admission for the same principal
    diagnosis when it began within ``window_days`` of that one's discharge (−1 when none).
    ``diagnosis`` is a code id per visit (−1 when none: never matches)."""
    n = len(person)
    earlier = np.full(n, -1, dtype=np.int64)
    at = np.flatnonzero(inpatient)
    if len(at) < 2:
        return earlier
    # the person's admissions for one diagnosis in order: each follows the one before it
    order = at[np.lexsort((discharge[at], admit[at], diagnosis[at], person[at]))]
    prev, nxt = order[:-1], order[1:]
    gap = admit[nxt] - discharge[prev]
    hit = (person[nxt] == person[prev]) & (diagnosis[nxt] == diagnosis[prev])
    hit &= (diagnosis[nxt] >= 0) & (gap >= 0) & (gap <= window_days)
    earlier[nxt[hit]] = prev[hit]
    return earlier


def long_stays(admit: I64, discharge: I64, inpatient: B, limit_days: I64) -> B:
    """超长住院: admissions whose stay (discharge − admission, in days) is above their
    diagnosis group's limit."""
    return inpatient & ((discharge - admit) > limit_days)


def dead_or_uninsured(day: I64, died_on: I64, covered_from: I64, covered_to: I64) -> B:
    """死亡/未参保结算: visits settled after the person's death (``died_on``, NO_LIMIT when
    alive) or outside their cover ``covered_from <= day < covered_to``."""
    return (day > died_on) | (day < covered_from) | (day >= covered_to)


def frequent_visits(person: I64, day: I64, window_days: int, max_visits: int) -> B:
    """就诊频次异常: visits at which the person's visits in the trailing ``window_days`` days
    (this one included) number more than ``max_visits``."""
    n = len(person)
    if n <= max_visits:
        return np.zeros(n, dtype=np.bool_)
    key = (_ranks(person) << _DAY_BITS) | (day & 0xFFFFF)
    order = np.argsort(key, kind="stable")
    k = key[order]
    since = np.searchsorted(k, k - (window_days - 1), side="left")
    count = np.arange(n) - since + 1
    over = np.zeros(n, dtype=np.bool_)
    over[order] = count > max_visits
    return over


@dataclass(frozen=True)
class Hits:
    """What the rules found, one row per piece of evidence: the rule (index into
    ``SupervisionRule``), the visit the finding is about, a line (−1 for a visit's finding)
    and another visit it relates to (−1 when none: the earlier admission of a split one, the
    line's twin's visit)."""

    rule: I64
    visit: I64
    line: I64
    other: I64

    def __len__(self) -> int:
        return len(self.rule)


RULES: tuple[SupervisionRule, ...] = tuple(SupervisionRule)


def hits(
    rule: SupervisionRule, visit: I64, line: I64 | None = None, other: I64 | None = None
) -> Hits:
    """Evidence rows of one rule."""
    n = len(visit)
    none = np.full(n, -1, dtype=np.int64)
    return Hits(
        np.full(n, RULES.index(rule), dtype=np.int64),
        visit.astype(np.int64),
        none if line is None else line.astype(np.int64),
        none if other is None else other.astype(np.int64),
    )


def concat(parts: list[Hits]) -> Hits:
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return Hits(e, e, e, e)
    return Hits(*(np.concatenate([getattr(h, f) for h in parts]) for f in Hits.__annotations__))


@dataclass(frozen=True)
class VisitColumns:
    """Visits (claims) for the rules: one row per visit."""

    person: I64
    day: I64  # settlement day (an admission's discharge day)
    admit: I64  # admission day (= day for a visit that is not an admission)
    inpatient: B
    diagnosis: I64  # principal diagnosis id (−1 none)
    stay_limit: I64  # days (NO_LIMIT for none)
    died_on: I64  # the person's death day (NO_LIMIT alive)
    covered_from: I64
    covered_to: I64  # NO_LIMIT open


@dataclass(frozen=True)
class LineColumns:
    """Fee detail lines for the rules: their visit (a row of VisitColumns), item, day,
    quantity, unit price and classification reason (index into REASONS)."""

    visit: I64
    code: I64  # code id
    day: I64
    quantity: I64
    unit_price: I64
    reason: I64


@dataclass(frozen=True)
class Thresholds:
    readmission_days: int
    window_days: int
    max_visits: int


def run_rules(
    visits: VisitColumns,
    lines: LineColumns,
    thresholds: Thresholds,
    active: frozenset[SupervisionRule] = frozenset(SupervisionRule),
) -> Hits:
    """Every active rule over the visits and their lines: the evidence rows of what fires."""
    found: list[Hits] = []
    on = active.__contains__
    if on(SupervisionRule.DUPLICATE_ITEM):
        twin = duplicate_lines(
            visits.person[lines.visit], lines.code, lines.day, lines.quantity, lines.unit_price
        )
        at = np.flatnonzero(twin >= 0)
        found.append(
            hits(SupervisionRule.DUPLICATE_ITEM, lines.visit[at], at, lines.visit[twin[at]])
        )
    for rule, fn in (
        (SupervisionRule.OVER_QUANTITY, over_quantity_lines),
        (SupervisionRule.SEX_AGE, sex_age_lines),
        (SupervisionRule.ABOVE_LEVEL, above_level_lines),
    ):
        if on(rule):
            at = np.flatnonzero(fn(lines.reason))
            found.append(hits(rule, lines.visit[at], at))
    if on(SupervisionRule.SPLIT_ADMISSION):
        earlier = split_admissions(
            visits.person,
            visits.admit,
            visits.day,
            visits.diagnosis,
            visits.inpatient,
            thresholds.readmission_days,
        )
        at = np.flatnonzero(earlier >= 0)
        found.append(hits(SupervisionRule.SPLIT_ADMISSION, at, other=earlier[at]))
    if on(SupervisionRule.LONG_STAY):
        long = long_stays(visits.admit, visits.day, visits.inpatient, visits.stay_limit)
        found.append(hits(SupervisionRule.LONG_STAY, np.flatnonzero(long)))
    if on(SupervisionRule.DEAD_OR_UNINSURED):
        outside = dead_or_uninsured(
            visits.day, visits.died_on, visits.covered_from, visits.covered_to
        )
        found.append(hits(SupervisionRule.DEAD_OR_UNINSURED, np.flatnonzero(outside)))
    if on(SupervisionRule.VISIT_FREQUENCY):
        over = np.flatnonzero(
            frequent_visits(
                visits.person, visits.day, thresholds.window_days, thresholds.max_visits
            )
        )
        found.append(hits(SupervisionRule.VISIT_FREQUENCY, *_first_per_person(visits, over)))
    return concat(found)


def _first_per_person(visits: VisitColumns, at: I64) -> tuple[I64, I64, I64]:
    """One finding per person: each visit ``at`` anchored at the person's first of them."""
    at = at[np.lexsort((visits.day[at], visits.person[at]))]
    p = visits.person[at]
    start = np.ones(len(at), dtype=np.bool_)
    start[1:] = p[1:] != p[:-1]
    anchor = at[np.maximum.accumulate(np.where(start, np.arange(len(at)), 0))]
    return anchor, np.full(len(at), -1, dtype=np.int64), at


__all__ = ["NO_LIMIT", "RULES", "Hits", "LineColumns", "Thresholds", "VisitColumns", "run_rules"]
