"""Basic pooling fund (基本统筹, rules.md §6 "Basic layer" and "Outpatient pooling"): the
deductible (起付线) per admission by institution level with repeat-admission factors, or per
year; the ratio by level (支付比例), in bands on the amount or on the excess; the annual cap
(年度最高支付限额) shared by a cap group. Retirees' extra points are compiled into the ratios."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yibao.kernel.columns import Claims
from yibao.kernel.layers.common import Context, banded_schedule
from yibao.kernel.reasons import BASIC_CAP, BASIC_DEDUCTIBLE
from yibao.kernel.segments import I64, B, Segments, round_div
from yibao.kernel.state import FREE_ADMISSIONS
from yibao.kernel.tables import ADMISSION, LEVELS, MED_TYPES, SCALE, SCHEMES


@dataclass
class BasicPooling:
    """The basic fund's part of each claim (fen)."""

    deductible: I64  # act_pay_dedc: the deductible the claim bore
    eligible: I64  # the cost above the deductible, that the ratios apply to
    raw: I64  # basic_raw: the fund's share before the annual cap
    paid: I64  # hifp_pay
    paid_before: I64  # what the claim's cap group had paid in the year before it
    cap: I64  # the annual cap of the claim's cap group
    cap_group: I64  # index into tables.cap_groups
    admission: B  # a claim with a deductible per admission
    admission_no: I64  # its rank among the year's admissions (1st, 2nd, ...)


def basic_pooling(ctx: Context, claims: Claims, scheme: I64, base: I64) -> BasicPooling:
    """The basic fund on ``base`` (policy scope less the cross-region pre-payment), for claims
    of the benefit schemes ``scheme``: ``benefits.<scheme>.<med_type>.basic``."""
    tables = ctx.tables
    # flat indexes into the [version, scheme, med_type(, level)] tables
    scheme_med = (ctx.version * len(SCHEMES) + scheme) * len(MED_TYPES) + claims.med_type
    scheme_med_level = scheme_med * len(LEVELS) + claims.level
    style = tables.style.reshape(-1).take(scheme_med)
    deductible = tables.deductible.reshape(-1).take(scheme_med_level)
    edges = tables.band_edges.reshape(-1, tables.n_bands)[scheme_med_level]
    ratios = tables.band_ratios.reshape(-1, tables.n_bands)[scheme_med_level]

    admission = (style == ADMISSION) & ctx.entitled
    admission_no = admission_numbers(ctx, admission)
    n_factors = tables.repeat.shape[-1]  # admission k's factor; the last for all later ones
    factor = tables.repeat.reshape(-1).take(
        scheme_med * n_factors + np.clip(admission_no - 1, 0, n_factors - 1)
    )
    admission_deductible = np.minimum(round_div(deductible * factor, SCALE), base)
    basis = tables.band_basis.reshape(-1).take(scheme_med)
    admission_raw = round_div(
        banded_schedule(edges, ratios, basis, admission_deductible, base), SCALE
    )
    applied = np.where(admission, admission_deductible, 0)
    raw = np.where(admission, admission_raw, 0)
    eligible = np.where(admission, base - admission_deductible, 0)

    annual = (style != ADMISSION) & ctx.entitled
    if annual.any():
        ded_group = tables.ded_group.reshape(-1).take(scheme_med)
        annual_deductibles(ctx, annual, ded_group, deductible, ratios, base, applied, eligible, raw)

    cap_group = tables.cap_group.reshape(-1).take(scheme_med)
    cap = tables.annual_cap.reshape(-1).take(scheme_med)
    paid, paid_before = annual_caps(ctx, raw, cap_group, cap)
    ctx.flag(ctx.entitled & (base > 0) & (eligible == 0), BASIC_DEDUCTIBLE)
    ctx.flag(paid < raw, BASIC_CAP)
    return BasicPooling(
        deductible=applied,
        eligible=eligible,
        raw=raw,
        paid=paid,
        paid_before=paid_before,
        cap=cap,
        cap_group=cap_group,
        admission=admission,
        admission_no=admission_no,
    )


def admission_numbers(ctx: Context, admission: B) -> I64:
    """Each admission's rank in the person's year (its repeat-admission factor and
    ``admission_no``), carried in the state ``admissions`` (and ``admissions.free``)."""
    state, segs, n = ctx.state, ctx.segs, ctx.n_persons
    held = state.get("admissions", n)
    free = state.get(FREE_ADMISSIONS, n)
    if free.any():
        rank, state.values["admissions"], state.values[FREE_ADMISSIONS] = _ranks_with_free(
            segs, admission, held, free
        )
        return rank
    # no reversed earlier admission: ranks follow on from the highest held
    rank = segs.cumsum(admission.astype(np.int64), held)
    state.values["admissions"] = segs.last(rank, held)
    return rank


def _ranks_with_free(segs: Segments, admission: B, held0: I64, free0: I64) -> tuple[I64, I64, I64]:
    """Each admission's rank and each person's new ``(admissions, free)``: the lowest rank no
    settlement in force holds — a rank left free by a reversal first, then the next above the
    highest held."""
    rank = segs.cumsum(admission.astype(np.int64), held0)
    held = segs.last(rank, held0).copy()  # not a view of ``rank`` (one-person batches)
    free = free0.copy()
    for p in np.flatnonzero(free0):  # only persons with a reversed earlier admission
        f, h = int(free0[p]), int(held0[p])
        for i in range(segs.starts[p], segs.ends[p] + 1):
            if admission[i]:
                if f:
                    rank[i] = (f & -f).bit_length()
                    f &= f - 1
                else:
                    h += 1
                    rank[i] = h
        free[p], held[p] = f, h
    return rank, held, free


def annual_deductibles(
    ctx: Context,
    annual: B,
    ded_group: I64,
    deductible: I64,
    ratios: I64,
    base: I64,
    applied: I64,
    eligible: I64,
    raw: I64,
) -> None:
    """Annual deductibles (outpatient, chronic care), one year-to-date base per med type whose
    deductible is shared (``ded_group``); one band. Adds to ``applied``, ``eligible``, ``raw``."""
    present = np.zeros(len(MED_TYPES), dtype=np.bool_)
    present[ded_group[annual]] = True
    for m in np.flatnonzero(present):
        member = annual & (ded_group == m)
        grown, bore = ctx.deductible(base, member, deductible, f"ded:{MED_TYPES[m]}.base")
        applied += bore
        eligible += grown
        raw += np.where(member, round_div(ratios[:, 0] * grown, SCALE), 0)


def annual_caps(ctx: Context, raw: I64, cap_group: I64, cap: I64) -> tuple[I64, I64]:
    """The annual cap of each cap group (封顶线共用, ``cap_group``): what the fund pays of
    ``raw``, and what the claim's group had paid before it."""
    paid = np.zeros(len(raw), dtype=np.int64)
    paid_before = np.zeros(len(raw), dtype=np.int64)
    for g, name in enumerate(ctx.tables.cap_groups):
        member = ctx.entitled & (cap_group == g)
        if member.any():
            pay, before = ctx.capped(raw, member, cap, f"cap:{name}")
            paid += pay
            paid_before = np.where(member, before, paid_before)
    return paid, paid_before
