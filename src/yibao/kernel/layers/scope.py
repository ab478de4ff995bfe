"""Policy scope (rules.md §6, first rules; §4 for the waiting period): which claims the funds
cover at all (待遇等待期), and the amount within policy scope (政策范围内费用) after the
category-B pre-payment (乙类先行自付) and the cross-region pre-payment (异地就医先行自付)."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.layers.common import round_div
from yibao.kernel.tables import SCALE, KernelTables


@compiled
def entitled_claim(date: int, entitled_from: int) -> bool:
    """A claim on or after the person's entitlement date; before it (the waiting period, or no
    benefits at all) everything is self-paid."""
    return date >= entitled_from


@compiled
def policy_scope(
    kt: KernelTables,
    v: int,
    total: int,
    fully_self_paid: int,
    over_limit: int,
    category_b: int,
    cross_region: int,
) -> tuple[int, int, int]:
    """Policy scope = total − fully self-paid − over the price limit − category-B pre-payment
    (``catalog.category_b_prepay_ratio`` of the category-B items); patients treated away from
    home pay ``benefits.cross_region.prepay_ratio`` of it first, by cross-region kind.

    Returns (preselfpay_amt 乙类先行自付, inscp_scp_amt 政策范围内费用,
    cross_prepay 异地就医先行自付) for parameter version ``v``."""
    category_b_prepay = round_div(category_b * kt.prepay_b[v], SCALE)
    in_scope = total - fully_self_paid - over_limit - category_b_prepay
    cross_region_prepay = 0
    if cross_region:
        cross_region_prepay = round_div(in_scope * kt.cross_prepay[v, cross_region], SCALE)
    return category_b_prepay, in_scope, cross_region_prepay
