"""Large-amount medical insurance (大额医疗费用补助, rules.md §6 "Large-amount insurance",
employees): a ratio of the policy-scope cost beyond the point where the basic fund reached its
annual cap (the cap converted back into cost), up to its own annual cap."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from yibao.kernel.layers.basic import BasicPooling
from yibao.kernel.layers.common import Context
from yibao.kernel.reasons import LA_CAP
from yibao.kernel.segments import I64, B, round_div
from yibao.kernel.tables import SCALE


class LargeAmount(NamedTuple):
    paid: I64  # hifob_pay
    base: I64  # la_base: the cost beyond the basic cap's cost point


def large_amount(ctx: Context, employee: B, base: I64, basic: BasicPooling) -> LargeAmount:
    """Large-amount insurance of the claims ``employee`` (entitled employees and retirees in the
    cap group it tops up): ``large_amount.ratio``, ``large_amount.cap``."""
    n = len(employee)
    if not employee.any():
        return LargeAmount(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    capped = employee & (basic.paid < basic.raw)
    whole = basic.paid_before >= basic.cap  # the cap was reached before the claim
    beyond = np.where(capped & whole, base, 0)
    straddles = np.flatnonzero(capped & ~whole)
    if len(straddles):
        beyond[straddles] = unpaid_share(
            basic.eligible[straddles], basic.raw[straddles], basic.paid[straddles]
        )
    raw = round_div(beyond * ctx.tables.la_ratio[ctx.version], SCALE)
    paid, _ = ctx.capped(raw, employee, ctx.tables.la_cap[ctx.version], "la")
    ctx.flag(paid < raw, LA_CAP)
    return LargeAmount(paid, beyond)


def unpaid_share(eligible: I64, raw: I64, paid: I64) -> I64:
    """The cost beyond the basic cap's cost point in the claim that reaches the cap: eligible
    cost × (raw − paid) / raw, rounded half up once. Exact (Python integers: the product may
    pass int64), so it never falls when the claim's cost rises (raw and eligible both rise)."""
    return np.array(
        [
            (2 * e * (r - p) + r) // (2 * r)
            for e, r, p in zip(eligible.tolist(), raw.tolist(), paid.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
