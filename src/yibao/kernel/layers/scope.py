"""Policy scope (rules.md §6, first rules; §4 for the waiting period): which claims the funds
cover at all (待遇等待期), and the amount within policy scope (政策范围内费用) after the
category-B pre-payment (乙类先行自付) and the cross-region pre-payment (异地就医先行自付)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yibao.kernel.columns import Claims, Persons
from yibao.kernel.layers.common import Context
from yibao.kernel.segments import I64, B, Segments, round_div
from yibao.kernel.tables import SCALE


def entitled_claims(segs: Segments, claims: Claims, persons: Persons) -> B:
    """Claims on or after the person's entitlement date; before it (the waiting period, or no
    benefits at all) everything is self-paid."""
    entitled: B = claims.date >= segs.spread(persons.entitled_from)
    return entitled


@dataclass
class PolicyScope:
    """Each claim's amounts within policy scope (fen)."""

    category_b_prepay: I64  # preselfpay_amt: 乙类先行自付
    in_scope: I64  # inscp_scp_amt: 政策范围内费用
    cross_region_prepay: I64  # cross_prepay: 异地就医先行自付
    basic_base: I64  # what the basic fund works on: in scope less cross-region, 0 if waiting


def policy_scope(ctx: Context, claims: Claims) -> PolicyScope:
    """Policy scope = total − fully self-paid − over the price limit − category-B pre-payment
    (``catalog.category_b_prepay_ratio`` of the category-B items); patients treated away from
    home pay ``benefits.cross_region.prepay_ratio`` of it first, by cross-region kind."""
    tables, version = ctx.tables, ctx.version
    category_b_prepay = round_div(claims.category_b * tables.prepay_b[version], SCALE)
    in_scope = claims.total - claims.fully_self_paid - claims.over_limit - category_b_prepay
    if claims.cross_region.any():
        ratio = tables.cross_prepay[version, claims.cross_region]
        cross_region_prepay = round_div(in_scope * ratio, SCALE)
    else:
        cross_region_prepay = np.zeros(len(claims), dtype=np.int64)
    basic_base = np.where(ctx.entitled, in_scope - cross_region_prepay, 0)
    return PolicyScope(category_b_prepay, in_scope, cross_region_prepay, basic_base)
