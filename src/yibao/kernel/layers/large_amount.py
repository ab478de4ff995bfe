"""Large-amount medical insurance (大额医疗费用补助, rules.md §6 "Large-amount insurance",
employees): a ratio of the policy-scope cost beyond the point where the basic fund reached its
annual cap (the cap converted back into cost), up to its own annual cap."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.layers.basic import BasicPooling
from yibao.kernel.layers.common import mul_div_half_up, round_div, within_cap
from yibao.kernel.reasons import LA_CAP
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots
from yibao.kernel.tables import SCALE, KernelTables


@compiled
def large_amount(
    kt: KernelTables, state: I64, slots: Slots, p: int, v: int, base: int, basic: BasicPooling
) -> tuple[int, int, int]:
    """Large-amount insurance of an entitled employee's or retiree's claim in the cap group it
    tops up: ``large_amount.ratio``, ``large_amount.cap``. Returns (hifob_pay, la_base: the cost
    beyond the basic cap's cost point, the reasons it paid less)."""
    beyond = 0
    if basic.paid < basic.raw:
        if basic.paid_before >= basic.cap:  # the cap was reached before the claim
            beyond = base
        else:
            beyond = unpaid_share(basic.eligible, basic.raw, basic.paid)
    raw = round_div(beyond * kt.la_ratio[v], SCALE)
    paid, _ = within_cap(state, slots.la, p, raw, kt.la_cap[v])
    return paid, beyond, LA_CAP if paid < raw else 0


@compiled
def unpaid_share(eligible: int, raw: int, paid: int) -> int:
    """The cost beyond the basic cap's cost point in the claim that reaches the cap: eligible
    cost × (raw − paid) / raw, rounded half up once. Exact (the product may pass int64), so it
    never falls when the claim's cost rises (raw and eligible both rise)."""
    return mul_div_half_up(eligible, raw - paid, raw)
