"""Medical assistance (医疗救助, rules.md §6 "Medical assistance"): by recipient class, tiers in
order (a second, "tilted" tier for large remaining costs), each with its own deductible, ratio
and annual limit, on what is still owed within policy scope after every insurance layer."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.layers.common import deductible_growth, round_div, within_cap
from yibao.kernel.reasons import MA_CAP
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots
from yibao.kernel.tables import SCALE, KernelTables


@compiled
def medical_assistance(
    kt: KernelTables,
    state: I64,
    slots: Slots,
    p: int,
    v: int,
    aid_class: int,
    owed: int,
    tiers: I64,
) -> tuple[int, int]:
    """Medical assistance of an entitled aid recipient's claim (``aid_class`` > 0) on ``owed``
    (policy scope less the insurance funds): ``medical_assistance.classes.<class>.tiers``.
    Fills ``tiers`` with each tier's base and payment (``[2t]``, ``[2t + 1]``); returns maf_pay
    (all tiers) and the reasons it paid less."""
    paid = 0
    reasons = 0
    for t in range(len(tiers) // 2):
        ratio = kt.ma_ratio[v, aid_class, t]
        if ratio <= 0:
            tiers[2 * t] = 0
            tiers[2 * t + 1] = 0
            continue
        remaining = owed - paid
        deductible = kt.ma_deductible[v, aid_class, t]
        grown, _ = deductible_growth(state, slots.ma_base + t, p, remaining, deductible)
        raw = round_div(ratio * grown, SCALE)
        pay, _ = within_cap(state, slots.ma + 2 * t, p, raw, kt.ma_cap[v, aid_class, t])
        if pay < raw:
            reasons = MA_CAP
        tiers[2 * t] = remaining
        tiers[2 * t + 1] = pay
        paid += pay
    return paid, reasons
