"""Basic pooling fund (基本统筹, rules.md §6 "Basic layer" and "Outpatient pooling"): the
deductible (起付线) per admission by institution level with repeat-admission factors, or per
year; the ratio by level (支付比例), in bands on the amount or on the excess; the annual cap
(年度最高支付限额) shared by a cap group. Retirees' extra points are compiled into the ratios."""

from __future__ import annotations

from typing import NamedTuple

from yibao.kernel.jit import compiled
from yibao.kernel.layers.common import (
    banded_schedule,
    deductible_growth,
    round_div,
    within_cap,
)
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots
from yibao.kernel.tables import ADMISSION, SCALE, KernelTables


class BasicPooling(NamedTuple):
    """The basic fund's part of one claim (fen)."""

    deductible: int  # act_pay_dedc: the deductible the claim bore
    eligible: int  # the cost above the deductible, that the ratios apply to
    raw: int  # basic_raw: the fund's share before the annual cap
    paid: int  # hifp_pay
    paid_before: int  # what the claim's cap group had paid in the year before it
    cap: int  # the annual cap of the claim's cap group
    cap_group: int  # index into tables.cap_groups
    admission_no: int  # the rank among the year's admissions (0: not an admission)


@compiled
def admission_number(state: I64, slots: Slots, p: int) -> int:
    """The admission's rank in the person's year (its repeat-admission factor and
    ``admission_no``), carried in the state ``admissions`` (and ``admissions.free``): the lowest
    rank no settlement in force holds — a rank left free by a reversal first, then the next
    above the highest held."""
    free = state[slots.free, p]
    if free:
        low = free & -free
        rank = 1
        while low > 1:
            low >>= 1
            rank += 1
        state[slots.free, p] = free & (free - 1)
        return rank
    state[slots.admissions, p] += 1
    return int(state[slots.admissions, p])


@compiled
def basic_pooling(
    kt: KernelTables,
    state: I64,
    slots: Slots,
    p: int,
    v: int,
    scheme: int,
    med_type: int,
    level: int,
    base: int,
) -> BasicPooling:
    """The basic fund on ``base`` (policy scope less the cross-region pre-payment) of an
    entitled claim of benefit scheme ``scheme``: ``benefits.<scheme>.<med_type>.basic``."""
    deductible = kt.deductible[v, scheme, med_type, level]
    edges = kt.band_edges[v, scheme, med_type, level]
    ratios = kt.band_ratios[v, scheme, med_type, level]
    admission_no = 0
    if kt.style[v, scheme, med_type] == ADMISSION:
        admission_no = admission_number(state, slots, p)
        n_factors = kt.repeat.shape[3]  # admission k's factor; the last for all later ones
        factor = kt.repeat[v, scheme, med_type, min(admission_no, n_factors) - 1]
        applied = min(round_div(deductible * factor, SCALE), base)
        basis = kt.band_basis[v, scheme, med_type]
        raw = round_div(banded_schedule(edges, ratios, basis, applied, base), SCALE)
        eligible = base - applied
    else:  # an annual deductible, shared by the med types paid alike (ded_group); one band
        group = kt.ded_group[v, scheme, med_type]
        eligible, applied = deductible_growth(state, slots.ded_base + group, p, base, deductible)
        raw = round_div(ratios[0] * eligible, SCALE)
    cap_group = kt.cap_group[v, scheme, med_type]
    cap = kt.annual_cap[v, scheme, med_type]
    paid, paid_before = within_cap(state, slots.cap + 2 * cap_group, p, raw, cap)
    return BasicPooling(applied, eligible, raw, paid, paid_before, cap, cap_group, admission_no)
