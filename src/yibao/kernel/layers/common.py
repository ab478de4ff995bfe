"""What every settlement layer shares, compiled (``kernel.jit``): the one rounding, annual caps
(封顶线), annual deductibles (起付线) and banded schedules (分段比例).

Each works on one claim and the person's year-to-date state: ``state`` is the kernel's state
matrix ``[slot, person]`` (``kernel.state.Slots``), ``p`` the person's column. A capped layer keeps
``<layer>.raw`` (its uncapped running total) and ``<layer>.paid`` (what it paid) in two slots
side by side; an annual deductible keeps its year-to-date base in one.
"""

from __future__ import annotations

import numpy as np

from yibao.kernel.jit import compiled
from yibao.kernel.segments import I64
from yibao.kernel.tables import EXCESS

#: The largest int64.
_MAX = np.int64(9_223_372_036_854_775_807)


@compiled
def round_div(x: int, d: int) -> int:
    """x / d rounded half up (x ≥ 0): the one rounding of a layer."""
    return (x + d // 2) // d


@compiled
def within_cap(state: I64, slot: int, p: int, raw: int, cap: int) -> tuple[int, int]:
    """A capped layer's payment of ``raw`` (年度封顶): the claim's own raw at most, up to the cap
    in force on its date less what the layer has paid this year (a raised cap pays nothing of
    what the old cap cut from an earlier claim). Returns the payment and what the layer had paid
    before the claim; adds ``raw`` to the layer's ``.raw`` slot and the payment to ``.paid``."""
    before = state[slot + 1, p]
    pay = min(raw, max(cap - before, 0))
    state[slot, p] += raw
    state[slot + 1, p] = before + pay
    return pay, before


@compiled
def deductible_growth(state: I64, slot: int, p: int, base: int, deductible: int) -> tuple[int, int]:
    """An annual deductible (年度起付线) on the year-to-date base in ``slot``: the part of the
    claim's ``base`` above it, and the part the claim bore (in the deductible)."""
    ytd = state[slot, p] + base
    state[slot, p] = ytd
    grown = max(ytd - deductible, 0) - max(ytd - base - deductible, 0)
    return grown, base - grown


@compiled
def band_sum(edges: I64, ratios: I64, lo: int, hi: int) -> int:
    """Σ_k ratio_k × |[lo, hi] ∩ band k| (scaled by SCALE); band k spans (edge_{k-1}, edge_k]."""
    total = 0
    bottom = 0
    for k in range(len(edges)):
        top = edges[k]
        width = min(hi, top) - max(lo, bottom)
        if width > 0:
            total += ratios[k] * width
        bottom = top
    return total


@compiled
def banded_schedule(edges: I64, ratios: I64, basis: int, deductible: int, amount: int) -> int:
    """The cumulative payment of a banded schedule above a deductible (scaled): bands measured
    on the amount itself (AMOUNT) or on the excess above the deductible (EXCESS)."""
    if basis == EXCESS:
        return band_sum(edges, ratios, 0, max(amount - deductible, 0))
    return band_sum(edges, ratios, min(deductible, amount), amount)


@compiled
def mul_div_half_up(x: int, y: int, z: int) -> int:
    """x × y / z rounded half up, exact for 0 ≤ x, 0 ≤ y ≤ z, 0 < z < 2^62 (the product may pass
    int64: it is divided by long division, never formed)."""
    a, b = x // z, x % z  # x × y = a·y·z + b·y, with a·y ≤ x and b < z
    if b == 0 or y <= _MAX // b:
        q, rem = divmod(b * y, z)
    else:
        q, rem = 0, 0
        for bit in range(62, -1, -1):  # b × y bit by bit, keeping rem < z
            q, rem = 2 * q, 2 * rem
            if rem >= z:
                q, rem = q + 1, rem - z
            if (y >> bit) & 1:
                rem += b
                if rem >= z:
                    q, rem = q + 1, rem - z
    q += a * y
    return q + 1 if 2 * rem >= z else q
