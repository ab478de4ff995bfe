"""Medical assistance (医疗救助, rules.md §6 "Medical assistance"): by recipient class, tiers in
order (a second, "tilted" tier for large remaining costs), each with its own deductible, ratio
and annual limit, on what is still owed within policy scope after every insurance layer."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from yibao.kernel.layers.common import Context
from yibao.kernel.reasons import MA_CAP, NOT_AID_RECIPIENT
from yibao.kernel.segments import I64, round_div
from yibao.kernel.tables import SCALE


class MedicalAssistance(NamedTuple):
    paid: I64  # maf_pay: all tiers
    tiers: dict[str, I64]  # ma_base:<t> and maf_pay:<t> of each tier t


def medical_assistance(ctx: Context, aid_class: I64, owed: I64) -> MedicalAssistance:
    """Medical assistance of aid recipients (``aid_class`` > 0 per claim) on ``owed`` (policy
    scope less the insurance funds): ``medical_assistance.classes.<class>.tiers``."""
    tables, version = ctx.tables, ctx.version
    paid = np.zeros(len(owed), dtype=np.int64)
    tiers: dict[str, I64] = {}
    aided = ctx.entitled & (aid_class > 0)
    ctx.flag(ctx.entitled & ~aided & (owed > 0), NOT_AID_RECIPIENT)
    if not aided.any():
        return MedicalAssistance(paid, tiers)
    for t in range(tables.n_tiers):
        ratio = tables.ma_ratio[version, aid_class, t]
        member = aided & (ratio > 0)
        remaining = owed - paid
        deductible = tables.ma_deductible[version, aid_class, t]
        grown, _ = ctx.deductible(remaining, member, deductible, f"ma:{t}.base")
        raw = round_div(ratio * grown, SCALE)
        pay, _ = ctx.capped(raw, member, tables.ma_cap[version, aid_class, t], f"ma:{t}")
        ctx.flag(pay < raw, MA_CAP)
        tiers[f"ma_base:{t}"] = np.where(member, remaining, 0)
        tiers[f"maf_pay:{t}"] = pay
        paid += pay
    return MedicalAssistance(paid, tiers)
