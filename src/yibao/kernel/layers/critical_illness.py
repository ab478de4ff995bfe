"""Critical illness insurance (大病保险, rules.md §6 "Critical illness", residents): on what the
person still owes within policy scope after the basic fund, accumulated over the year, above an
annual deductible, in bands, up to a cap raised by the person's incentives (rules.md §5).
Vulnerable aid classes: a lower deductible, extra points, possibly no cap."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from yibao.kernel.layers.basic import BasicPooling
from yibao.kernel.layers.common import Context, banded_schedule
from yibao.kernel.layers.scope import PolicyScope
from yibao.kernel.reasons import CI_CAP, CI_DEDUCTIBLE
from yibao.kernel.segments import I64, B, round_div
from yibao.kernel.tables import SCALE


class CriticalIllness(NamedTuple):
    paid: I64  # hifmi_pay
    base: I64  # ci_base: what the claim adds to the year's base


def critical_illness(
    ctx: Context,
    resident: B,
    aid_class: I64,
    incentive_raise: I64,
    scope: PolicyScope,
    basic: BasicPooling,
) -> CriticalIllness:
    """Critical illness of the claims ``resident`` (entitled residents); ``aid_class`` per
    claim, ``incentive_raise`` (the cap raise, fen) per person: ``critical_illness.*``."""
    n = len(resident)
    if not resident.any():
        return CriticalIllness(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    tables, version, segs, state = ctx.tables, ctx.version, ctx.segs, ctx.state
    vulnerable = tables.ci_vulnerable[version, aid_class].astype(np.int64)
    # the base: policy scope less the basic fund, with or without the basic deductible and
    # the category-B pre-payment (critical_illness.base, include_category_b_prepay)
    owed = scope.in_scope - basic.paid
    owed -= np.where(tables.ci_residual_excl_ded[version] == 1, basic.deductible, 0)
    owed += np.where(tables.ci_include_b[version] == 1, scope.category_b_prepay, 0)
    base = np.where(resident, np.maximum(owed, 0), 0)
    base_before = state.get("ci.base", ctx.n_persons)
    ytd = segs.cumsum(base, base_before)
    state.values["ci.base"] = segs.last(ytd, base_before)
    deductible = tables.ci_deductible[version, vulnerable]
    edges = tables.ci_edges[version, vulnerable]
    ratios = tables.ci_ratios[version, vulnerable]
    basis = tables.ci_basis[version]
    grown = banded_schedule(edges, ratios, basis, deductible, ytd) - banded_schedule(
        edges, ratios, basis, deductible, ytd - base
    )
    raw = round_div(grown, SCALE)
    cap = tables.ci_cap[version, vulnerable] + segs.spread(incentive_raise)
    paid, _ = ctx.capped(raw, resident, cap, "ci")
    ctx.flag(resident & (base > 0) & (ytd <= deductible), CI_DEDUCTIBLE)
    ctx.flag(paid < raw, CI_CAP)
    return CriticalIllness(paid, base)
