"""Supplementary commercial insurance (惠民保, rules.md §6 "Supplementary commercial insurance"):
a product the person bought for the year pays after medical assistance and before the personal
account, on what it covers of the claim — the in-scope remainder (policy scope less every fund
layer) and/or the claim's self-paid items on the product's list — above its annual deductible,
at its ratio, up to its annual cap; the person pays only what is left (account, mutual aid,
cash). A person without a product (cap 0) is paid nothing."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.layers.common import deductible_growth, round_div, within_cap
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots
from yibao.kernel.tables import COVERS_IN_SCOPE, COVERS_LISTED, SCALE


@compiled
def commercial_insurance(
    state: I64,
    slots: Slots,
    p: int,
    covers: int,
    deductible: int,
    ratio: int,
    cap: int,
    remainder: int,
    listed: int,
    share: int,
) -> int:
    """What the person's product pays of an entitled claim (commercial_pay): on ``remainder``
    (policy scope less the funds) and ``listed`` (the claim's self-paid items on its list), as
    ``covers`` says, at most the person's ``share``; its annual deductible in ``com.base``, its
    cap in ``com.raw``/``com.paid``."""
    if cap <= 0 or ratio <= 0:
        return 0
    base = 0
    if covers & COVERS_IN_SCOPE:
        base += max(remainder, 0)
    if covers & COVERS_LISTED:
        base += max(listed, 0)
    base = min(base, max(share, 0))
    grown, _ = deductible_growth(state, slots.commercial, p, base, deductible)
    raw = round_div(ratio * grown, SCALE)
    paid, _ = within_cap(state, slots.commercial + 1, p, raw, cap)
    return paid
