"""Critical illness insurance (大病保险, rules.md §6 "Critical illness", residents): on what the
person still owes within policy scope after the basic fund, accumulated over the year, above an
annual deductible, in bands, up to a cap raised by the person's incentives (rules.md §5).
Vulnerable aid classes: a lower deductible, extra points, possibly no cap."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.layers.common import banded_schedule, round_div, within_cap
from yibao.kernel.reasons import CI_CAP, CI_DEDUCTIBLE
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots
from yibao.kernel.tables import SCALE, KernelTables


@compiled
def critical_illness(
    kt: KernelTables,
    state: I64,
    slots: Slots,
    p: int,
    v: int,
    aid_class: int,
    incentive_raise: int,
    category_b_prepay: int,
    in_scope: int,
    basic_deductible: int,
    basic_paid: int,
) -> tuple[int, int, int]:
    """Critical illness of an entitled resident's claim: ``critical_illness.*``, the cap raised
    by ``incentive_raise`` (fen). Returns (hifmi_pay, ci_base: what the claim adds to the year's
    base, the reasons it paid less)."""
    vulnerable = 1 if kt.ci_vulnerable[v, aid_class] else 0
    # the base: policy scope less the basic fund, with or without the basic deductible and
    # the category-B pre-payment (critical_illness.base, include_category_b_prepay)
    owed = in_scope - basic_paid
    if kt.ci_residual_excl_ded[v] == 1:
        owed -= basic_deductible
    if kt.ci_include_b[v] == 1:
        owed += category_b_prepay
    base = max(owed, 0)
    ytd = state[slots.ci_base, p] + base
    state[slots.ci_base, p] = ytd
    deductible = kt.ci_deductible[v, vulnerable]
    edges = kt.ci_edges[v, vulnerable]
    ratios = kt.ci_ratios[v, vulnerable]
    basis = kt.ci_basis[v]
    grown = banded_schedule(edges, ratios, basis, deductible, ytd) - banded_schedule(
        edges, ratios, basis, deductible, ytd - base
    )
    raw = round_div(grown, SCALE)
    cap = kt.ci_cap[v, vulnerable] + incentive_raise
    paid, _ = within_cap(state, slots.ci, p, raw, cap)
    reasons = CI_DEDUCTIBLE if base > 0 and ytd <= deductible else 0
    if paid < raw:
        reasons |= CI_CAP
    return paid, base, reasons
