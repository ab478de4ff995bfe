"""Outpatient chronic and special diseases (门诊慢特病, rules.md §6 "Chronic and special
diseases"): a chronic claim is paid by the basic fund only for a disease of the region's list
(``chronic_diseases``) that the person is certified for on the claim's date; the disease's class
decides the ratio (the chronic benefit's, or the inpatient one by level: paid like inpatient
care), its flag whether the chronic benefit's annual deductible applies, and its annual limit
caps what the fund pays for it in the year, before the cap of the benefit's cap group.

The claim's ``disease`` column: the index of its certified disease on the disease axis
(``Tables.chronic_codes``), ``NOT_CERTIFIED`` (no certified disease named: the fund pays
nothing, with the reason) or ``UNCHECKED`` (no certification was looked up: a claim from a file
without the column, paid by the chronic benefit alone as ``basic.basic_pooling`` pays it)."""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.layers.basic import BasicPooling
from yibao.kernel.layers.common import deductible_growth, mul_div_half_up, round_div, within_cap
from yibao.kernel.reasons import CHRONIC_LIMIT, CHRONIC_NOT_CERTIFIED
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots
from yibao.kernel.tables import (
    CHRONIC_INPATIENT,
    CHRONIC_UNLISTED,
    DISEASE_NOT_CERTIFIED,
    DISEASE_UNCHECKED,
    MED_TYPES,
    SCALE,
    KernelTables,
)

#: The ``disease`` column: no certified disease (not paid) / certification not looked up.
NOT_CERTIFIED, UNCHECKED = DISEASE_NOT_CERTIFIED, DISEASE_UNCHECKED
CHRONIC = MED_TYPES.index("chronic")
INPATIENT = MED_TYPES.index("inpatient")


@compiled
def chronic_care(
    kt: KernelTables,
    state: I64,
    slots: Slots,
    p: int,
    v: int,
    scheme: int,
    level: int,
    disease: int,
    base: int,
) -> tuple[BasicPooling, int]:
    """The basic fund on ``base`` of an entitled chronic claim for ``disease`` (an index on the
    disease axis, or ``NOT_CERTIFIED``): ``chronic_diseases.<code>`` with
    ``benefits.<scheme>.chronic.basic`` (or ``.inpatient.basic``: its ratio by level, the first
    band). Returns the basic layer's part (``raw``: the payment within the disease's limit) and
    the reasons it paid less."""
    listed = 0 <= disease < kt.chronic_class.shape[1]
    cls = kt.chronic_class[v, disease] if listed else CHRONIC_UNLISTED
    if cls == CHRONIC_UNLISTED:
        group = kt.cap_group[v, scheme, CHRONIC]
        before = state[slots.cap + 2 * group + 1, p]
        cap = kt.annual_cap[v, scheme, CHRONIC]
        return BasicPooling(0, 0, 0, 0, before, cap, group, 0), CHRONIC_NOT_CERTIFIED
    paid_as = INPATIENT if cls == CHRONIC_INPATIENT else CHRONIC
    eligible, applied = base, 0
    if kt.chronic_ded[v, disease] == 1:
        eligible, applied = deductible_growth(
            state,
            slots.ded_base + kt.ded_group[v, scheme, CHRONIC],
            p,
            base,
            kt.deductible[v, scheme, CHRONIC, level],
        )
    raw = round_div(kt.band_ratios[v, scheme, paid_as, level, 0] * eligible, SCALE)
    limited, _ = within_cap(state, slots.chronic + 2 * disease, p, raw, kt.chronic_cap[v, disease])
    reasons = 0
    if limited < raw:
        reasons = CHRONIC_LIMIT
        eligible = mul_div_half_up(eligible, limited, raw)  # the cost the limit leaves paid
    group = kt.cap_group[v, scheme, paid_as]
    cap = kt.annual_cap[v, scheme, paid_as]
    paid, before = within_cap(state, slots.cap + 2 * group, p, limited, cap)
    return BasicPooling(applied, eligible, limited, paid, before, cap, group, 0), reasons
