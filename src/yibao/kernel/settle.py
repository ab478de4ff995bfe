"""The settlement kernel (一站式结算): every layer of a batch of claims in one vectorised pass.

Claims are sorted by (person, date); person k's claims form segment k. Every layer's payment is
the growth of a cumulative function of the person's year-to-date base, so the batch needs only
grouped cumulative sums, grouped running maxima and piecewise-linear schedules. A single claim is
the same call with a batch of one and the person's stored year-to-date state.

Layers, in order: basic pooling fund (hifp) → critical illness (hifmi, residents) or large-amount
insurance (hifob, employees) → medical assistance (maf, by tier) → personal account (acct) →
family mutual aid (acct_mulaid) → cash. Rule names follow rules.md section 6.

Amounts are int64 fen. Within the bounds of ``yibao.policy.money`` (each amount at most
``MAX_FEN``, each year-to-date accumulator at most ``MAX_YEAR_FEN``, share ratios at most 1) no
product or running sum here passes 2^63: the reasoning is in that module's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from yibao.kernel.segments import I64, Segments, round_div, segments
from yibao.kernel.tables import (
    ADMISSION,
    EXCESS,
    MED_TYPES,
    SCALE,
    SCHEMES,
    Tables,
)

B = npt.NDArray[np.bool_]

RESIDENT = SCHEMES.index("resident")
INPATIENT_LIKE = (MED_TYPES.index("inpatient"), MED_TYPES.index("maternity"))

# reason flags (see REASONS)
WAITING = 1
BASIC_DEDUCTIBLE = 2
BASIC_CAP = 4
CI_DEDUCTIBLE = 8
CI_CAP = 16
LA_CAP = 32
NOT_AID_RECIPIENT = 64
MA_CAP = 128
REASONS = {
    WAITING: "waiting period: insured but not yet entitled, all self-paid",
    BASIC_DEDUCTIBLE: "basic fund: within the deductible",
    BASIC_CAP: "basic fund: annual cap reached",
    CI_DEDUCTIBLE: "critical illness: year-to-date base below its deductible",
    CI_CAP: "critical illness: annual cap reached",
    LA_CAP: "large-amount insurance: annual cap reached",
    NOT_AID_RECIPIENT: "medical assistance: not an aid recipient",
    MA_CAP: "medical assistance: annual limit reached",
}


@dataclass
class Claims:
    """Claim columns, sorted by (person, date); ``person`` is the segment key."""

    person: I64
    date: I64  # days since 1970-01-01
    med_type: I64  # index into MED_TYPES
    level: I64  # 0..2 for levels 1..3
    cross_region: I64  # index into CROSS_REGION
    total: I64
    fully_self_paid: I64
    over_limit: I64
    category_b: I64

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class Persons:
    """One row per segment, in segment order."""

    scheme: I64  # index into SCHEMES
    aid_class: I64  # index into AID_CLASSES (0: none)
    account_balance: I64
    use_account: B
    mutual_aid_balance: I64
    incentive_raise: I64
    entitled_from: I64  # days since epoch; claims before it are self-paid


def state_keys(tables: Tables) -> list[str]:
    """Names of the year-to-date accumulators: ``<layer>.raw`` is the uncapped running total of
    a capped layer's payments, ``<layer>.paid`` what it paid, ``<schedule>.base`` a running base."""
    layers = [f"cap:{g}" for g in tables.cap_groups] + ["ci", "la", "acct", "mulaid"]
    layers += [f"ma:{t}" for t in range(tables.n_tiers)]
    keys = ["admissions", FREE_ADMISSIONS, "ci.base"] + [f"ded:{m}.base" for m in MED_TYPES]
    keys += [f"ma:{t}.base" for t in range(tables.n_tiers)]
    return keys + [f"{layer}.{k}" for layer in layers for k in ("raw", "paid")]


#: State key: the admission ranks below ``admissions`` (the highest rank held) that no
#: settlement in force holds, one bit a rank (bit 0 = the first admission), left by reversals.
FREE_ADMISSIONS = "admissions.free"
#: Ranks beyond this are not tracked as free (the repeat-admission factors end long before).
_MAX_TRACKED_RANK = 62


def released_rank(held: int, free: int, rank: int) -> tuple[int, int]:
    """``(admissions, free)`` once the admission of ``rank`` no longer holds it (a reversal):
    the highest rank goes down past every free rank below it; a lower rank becomes free, and the
    next admission takes it (``_admission_ranks``)."""
    if rank <= 0 or rank > held:
        return held, free
    if rank < held:
        if rank <= _MAX_TRACKED_RANK:
            free |= 1 << (rank - 1)
        return held, free
    held -= 1
    while held > 0 and free >> (held - 1) & 1:
        free &= ~(1 << (held - 1))
        held -= 1
    return held, free


def _admission_ranks(segs: Segments, admission: B, held0: I64, free0: I64) -> tuple[I64, I64, I64]:
    """Each admission's rank (its repeat-admission deductible factor and ``admission_no``) and
    each person's new ``(admissions, free)``: the lowest rank no settlement in force holds — a
    rank left free by a reversal first, then the next above the highest held."""
    rank = segs.cumsum(admission.astype(np.int64), held0)
    held = segs.last(rank, held0).copy()  # not a view of ``rank`` (one-person batches)
    free = free0.copy()
    for p in np.flatnonzero(free0):  # only persons with a reversed earlier admission
        f, h = int(free0[p]), int(held0[p])
        for i in range(segs.starts[p], segs.ends[p] + 1):
            if admission[i]:
                if f:
                    rank[i] = (f & -f).bit_length()
                    f &= f - 1
                else:
                    h += 1
                    rank[i] = h
        free[p], held[p] = f, h
    return rank, held, free


def reversed_state(
    state: Mapping[str, int], delta: Mapping[str, int], admission_no: int = 0
) -> dict[str, int]:
    """The year-to-date state once a settlement is reversed (冲正): ``delta`` (what the settlement
    added to each accumulator) taken out, and every layer's uncapped running total
    (``<layer>.raw``) set to what the layer paid (``<layer>.paid``).

    Every accumulator is then what the settlements still in force contributed: the admission
    ranks they hold (the reversed admission's rank, ``admission_no``, is released: the next
    admission takes it and bears its repeat-admission deductible, so the year's deductibles are
    those of the admissions in force), the deductible and critical-illness bases, and each
    layer's paid total (later settlements stay as they were paid). ``raw = paid`` makes the
    next claim's room under a cap exactly ``cap − paid``: an in-force claim's uncapped share
    that a cap, reached because of the reversed claim, kept it from being paid is dropped, not
    carried into the next claim. Without a reversal ``raw`` exceeds ``paid`` only once the cap
    is reached, where both give the same (in a year of one parameter version; where a cap
    changes within the year, a reversal also drops the excess over the old cap that a raised
    cap would pay with the next claim)."""
    out = {k: v - delta.get(k, 0) for k, v in state.items()}
    out.update({k: -v for k, v in delta.items() if k not in state})
    out["admissions"], out[FREE_ADMISSIONS] = released_rank(
        state.get("admissions", 0), state.get(FREE_ADMISSIONS, 0), admission_no
    )
    for layer in {k.rsplit(".", 1)[0] for k in out if k.endswith((".raw", ".paid"))}:
        out[f"{layer}.raw"] = out.get(f"{layer}.paid", 0)
    return {k: v for k, v in out.items() if v}


@dataclass
class State:
    """Each person's year-to-date accumulators (fen, counts), one row per person."""

    values: dict[str, I64] = field(default_factory=dict)

    @classmethod
    def zeros(cls, tables: Tables, n: int) -> State:
        return cls({k: np.zeros(n, dtype=np.int64) for k in state_keys(tables)})

    def get(self, key: str, n: int) -> I64:
        if key not in self.values:
            self.values[key] = np.zeros(n, dtype=np.int64)
        return self.values[key]

    def row(self, i: int) -> dict[str, int]:
        return {k: int(v[i]) for k, v in self.values.items()}

    @classmethod
    def from_rows(cls, tables: Tables, rows: list[dict[str, int]]) -> State:
        return cls(
            {k: np.array([r.get(k, 0) for r in rows], dtype=np.int64) for k in state_keys(tables)}
        )


@dataclass
class Result:
    """Output columns (fen) in claim order, and the persons' new state."""

    columns: dict[str, I64]
    state: State


def _band_sum(edges: I64, ratios: I64, lo: I64, hi: I64) -> I64:
    """Σ_k ratio_k × |[lo, hi] ∩ band k| (scaled by SCALE); band k spans (edge_{k-1}, edge_k]."""
    if edges.shape[1] == 1:  # one band: no edges to cut at
        one: I64 = ratios[:, 0] * np.maximum(hi - lo, 0)
        return one
    total = np.zeros(len(lo), dtype=np.int64)
    bottom = np.zeros(len(lo), dtype=np.int64)
    for k in range(edges.shape[1]):
        top = edges[:, k]
        width = np.minimum(hi, top) - np.maximum(lo, bottom)
        total += ratios[:, k] * np.maximum(width, 0)
        bottom = top
    return total


def _schedule(edges: I64, ratios: I64, basis: I64, deductible: I64, amount: I64) -> I64:
    """The cumulative payment function of a banded schedule above a deductible (scaled)."""
    on_amount = _band_sum(edges, ratios, np.minimum(deductible, amount), amount)
    if edges.shape[1] == 1 or not (basis == EXCESS).any():
        return on_amount  # with one band both bases give the same
    excess = np.maximum(amount - deductible, 0)
    on_excess = _band_sum(edges, ratios, np.zeros_like(excess), excess)
    return np.where(basis == EXCESS, on_excess, on_amount)


#: Below this share of member claims a layer is computed on its members only.
SPARSE = 0.25


def _members(segs: Segments, member: B | None) -> tuple[Segments, I64 | None, I64 | None]:
    """The segments a layer runs on: all claims, or (when few are members) the members only."""
    if member is None:
        return segs, None, None
    idx = np.flatnonzero(member)
    if len(idx) > SPARSE * len(member):
        return segs, None, None
    sub, people = segs.subset(idx)
    return sub, idx, people


def _scatter(values: I64, idx: I64 | None, n: int) -> I64:
    if idx is None:
        return values
    out = np.zeros(n, dtype=np.int64)
    out[idx] = values
    return out


def _store(state: State, key: str, init: I64, people: I64 | None, last: I64) -> None:
    if people is None:
        state.values[key] = last
    else:
        new = init.copy()
        new[people] = last
        state.values[key] = new


def _clamp(
    segs: Segments,
    raw: I64,
    member: B | None,
    cap: I64,
    state: State,
    key: str,
    n_persons: int,
    steady: bool = False,
    version: I64 | None = None,
) -> tuple[I64, I64]:
    """Cap a layer for the year: each claim pays its raw until the year's payments reach the
    cap in force on its date (``version``: the claims' parameter versions).

    ``member`` selects the claims of the layer (None: all). ``steady`` says the cap does not
    change within a person's year (one parameter version): paid = min(Σ raw, cap), never less
    than paid before. Returns each claim's payment and what the layer had paid before it."""
    s0, p0 = state.get(f"{key}.raw", n_persons), state.get(f"{key}.paid", n_persons)
    sub, idx, people = _members(segs, member)
    ver = np.zeros(len(raw), dtype=np.int64) if version is None else version
    if idx is not None:
        raw, cap, ver = raw[idx], cap[idx], ver[idx]
        member = None
    i0 = s0 if people is None else s0[people]
    j0 = p0 if people is None else p0[people]
    own = raw if member is None else np.where(member, raw, 0)
    running = sub.cumsum(own, i0)
    n = len(segs.seg)
    if steady:
        # one cap per person's year: the layer has paid max(min(Σ raw, cap), paid before the
        # batch) after each claim, and the same before it with the claim's raw taken out
        floor = sub.spread(j0)
        after = np.maximum(np.minimum(running, cap), floor)
        before = np.maximum(np.minimum(running - own, cap), floor)
        pay = after - before if member is None else np.where(member, after - before, 0)
        paid_in_batch = np.add.reduceat(pay, sub.starts) if len(pay) else 0
        _store(state, f"{key}.paid", p0, people, j0 + paid_in_batch)
    else:
        # versions in date order; within one the cap is fixed and the year's payments grow by
        # each claim's raw up to max(cap, paid before). A raised cap pays nothing of an earlier
        # claim's raw it had cut: no claim is paid more than its own raw.
        paid_before = j0
        pay = np.zeros(len(raw), dtype=np.int64)
        before = np.zeros_like(pay)
        for u in np.unique(ver):
            here = ver == u if member is None else (ver == u) & member
            floor = sub.spread(paid_before)
            grown = sub.cumsum(np.where(here, own, 0), paid_before)
            reached = np.where(here, np.minimum(grown, np.maximum(floor, cap)), floor)
            paid = sub.cummax(reached, paid_before)
            prior = sub.previous(paid, paid_before)
            pay = np.where(here, paid - prior, pay)
            before = np.where(here, prior, before)
            paid_before = sub.last(paid, paid_before)
        _store(state, f"{key}.paid", p0, people, paid_before)
    _store(state, f"{key}.raw", s0, people, sub.last(running, i0))
    return _scatter(pay, idx, n), _scatter(before, idx, n)


def _deductible_schedule(
    segs: Segments, base: I64, member: B, deductible: I64, state: State, key: str, n: int
) -> tuple[I64, I64]:
    """Annual deductible on a year-to-date base: (excess growth, deductible applied in claim)."""
    b0 = state.get(key, n)
    sub, idx, people = _members(segs, member)
    mask: B | None = member
    if idx is not None:
        base, deductible, mask = base[idx], deductible[idx], None
    i0 = b0 if people is None else b0[people]
    ytd = sub.cumsum(base if mask is None else np.where(mask, base, 0), i0)
    _store(state, key, b0, people, sub.last(ytd, i0))
    grown = np.maximum(ytd - deductible, 0) - np.maximum(ytd - base - deductible, 0)
    if mask is not None:
        grown = np.where(mask, grown, 0)
    applied = base - grown if mask is None else np.where(mask, base - grown, 0)
    return _scatter(grown, idx, len(segs.seg)), _scatter(applied, idx, len(segs.seg))


def _unpaid_share(eligible: I64, raw: I64, paid: I64) -> I64:
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


def settle(
    tables: Tables,
    claims: Claims,
    persons: Persons,
    state: State | None = None,
    explain: bool = True,
) -> Result:
    """Settle a batch of claims of many persons (rules.md §6), carrying year-to-date state.

    ``explain`` adds the ``reasons`` flags (why a layer paid nothing); batch work may skip them.
    """
    n = len(claims)
    segs = segments(claims.person)
    npers = segs.n_segments
    state = State(dict(state.values)) if state is not None else State()
    v = tables.version_of(claims.date)
    steady = len(tables.version_dates) == 1  # annual caps cannot change within the year
    scheme = segs.spread(persons.scheme)
    aid = segs.spread(persons.aid_class)
    med, lvl = claims.med_type, claims.level
    entitled = claims.date >= segs.spread(persons.entitled_from)
    reasons = np.where(entitled, 0, WAITING) if explain else np.zeros(n, dtype=np.int64)

    # policy scope amount (政策范围内费用) and category-B pre-payment (乙类先行自付)
    preselfpay = round_div(claims.category_b * tables.prepay_b[v], SCALE)
    inscp = claims.total - claims.fully_self_paid - claims.over_limit - preselfpay
    if claims.cross_region.any():
        cross_prepay = round_div(inscp * tables.cross_prepay[v, claims.cross_region], SCALE)
    else:
        cross_prepay = np.zeros(n, dtype=np.int64)
    base = np.where(entitled, inscp - cross_prepay, 0)

    # basic layer (基本统筹): deductible per admission or per year, then banded ratios
    vsm = (v * len(SCHEMES) + scheme) * len(MED_TYPES) + med  # flat (version, scheme, med)
    vsml = vsm * 3 + lvl
    style = tables.style.reshape(-1).take(vsm)
    deductible = tables.deductible.reshape(-1).take(vsml)
    edges = tables.band_edges.reshape(-1, tables.n_bands)[vsml]
    ratios = tables.band_ratios.reshape(-1, tables.n_bands)[vsml]
    admission = (style == ADMISSION) & entitled
    a0 = state.get("admissions", npers)
    free0 = state.get(FREE_ADMISSIONS, npers)
    if free0.any():
        nth, state.values["admissions"], state.values[FREE_ADMISSIONS] = _admission_ranks(
            segs, admission, a0, free0
        )
    else:  # no reversed earlier admission: ranks follow on from the highest held
        nth = segs.cumsum(admission.astype(np.int64), a0)
        state.values["admissions"] = segs.last(nth, a0)
    factor = tables.repeat.reshape(-1).take(vsm * 3 + np.clip(nth - 1, 0, 2))
    adm_ded = np.minimum(round_div(deductible * factor, SCALE), base)
    adm_raw = round_div(
        _schedule(edges, ratios, tables.band_basis.reshape(-1).take(vsm), adm_ded, base), SCALE
    )
    act_ded = np.where(admission, adm_ded, 0)
    raw = np.where(admission, adm_raw, 0)
    eligible = np.where(admission, base - adm_ded, 0)
    annual = (style != ADMISSION) & entitled
    if annual.any():
        ded_group = tables.ded_group.reshape(-1).take(vsm)
        present = np.zeros(len(MED_TYPES), dtype=np.bool_)
        present[ded_group[annual]] = True
        for m in np.flatnonzero(present):
            member = annual & (ded_group == m)
            grown, applied = _deductible_schedule(
                segs, base, member, deductible, state, f"ded:{MED_TYPES[m]}.base", npers
            )
            act_ded += applied
            eligible += grown
            raw += np.where(member, round_div(ratios[:, 0] * grown, SCALE), 0)
    cap_group = tables.cap_group.reshape(-1).take(vsm)
    cap = tables.annual_cap.reshape(-1).take(vsm)
    hifp = np.zeros(n, dtype=np.int64)
    basic_before = np.zeros(n, dtype=np.int64)
    for g, name in enumerate(tables.cap_groups):
        member = entitled & (cap_group == g)
        if member.any():
            pay, before = _clamp(segs, raw, member, cap, state, f"cap:{name}", npers, steady, v)
            hifp += pay
            basic_before = np.where(member, before, basic_before)
    if explain:
        reasons |= np.where(entitled & (base > 0) & (eligible == 0), BASIC_DEDUCTIBLE, 0)
    if explain:
        reasons |= np.where(hifp < raw, BASIC_CAP, 0)

    # critical illness (大病保险), residents: on what is still owed within policy scope
    hifmi = np.zeros(n, dtype=np.int64)
    ci_base = np.zeros(n, dtype=np.int64)
    resident = entitled & (scheme == RESIDENT)
    if resident.any():
        vul = tables.ci_vulnerable[v, aid].astype(np.int64)
        owed = inscp - hifp - np.where(tables.ci_residual_excl_ded[v] == 1, act_ded, 0)
        owed += np.where(tables.ci_include_b[v] == 1, preselfpay, 0)
        ci_base = np.where(resident, np.maximum(owed, 0), 0)
        b0 = state.get("ci.base", npers)
        ytd = segs.cumsum(ci_base, b0)
        state.values["ci.base"] = segs.last(ytd, b0)
        ci_ded = tables.ci_deductible[v, vul]
        ci_edges, ci_ratios, ci_basis = (
            tables.ci_edges[v, vul],
            tables.ci_ratios[v, vul],
            (tables.ci_basis[v]),
        )
        grown = _schedule(ci_edges, ci_ratios, ci_basis, ci_ded, ytd) - _schedule(
            ci_edges, ci_ratios, ci_basis, ci_ded, ytd - ci_base
        )
        ci_raw = round_div(grown, SCALE)
        ci_cap = tables.ci_cap[v, vul] + segs.spread(persons.incentive_raise)
        hifmi, _ = _clamp(segs, ci_raw, resident, ci_cap, state, "ci", npers, steady, v)
        if explain:
            reasons |= np.where(resident & (ci_base > 0) & (ytd <= ci_ded), CI_DEDUCTIBLE, 0)
        if explain:
            reasons |= np.where(hifmi < ci_raw, CI_CAP, 0)

    # large-amount insurance (大额医疗费用补助), employees: beyond the basic cap's cost point
    hifob = np.zeros(n, dtype=np.int64)
    beyond = np.zeros(n, dtype=np.int64)
    employee = entitled & (scheme != RESIDENT) & (cap_group == tables.la_group)
    if employee.any():
        capped = employee & (hifp < raw)
        whole = basic_before >= cap
        beyond = np.where(capped & whole, base, 0)
        straddles = np.flatnonzero(capped & ~whole)
        if len(straddles):
            beyond[straddles] = _unpaid_share(eligible[straddles], raw[straddles], hifp[straddles])
        la_raw = round_div(beyond * tables.la_ratio[v], SCALE)
        la_cap = tables.la_cap[v]
        hifob, _ = _clamp(segs, la_raw, employee, la_cap, state, "la", npers, steady, v)
        if explain:
            reasons |= np.where(hifob < la_raw, LA_CAP, 0)

    # medical assistance (医疗救助): tiers in order on what is still owed within policy scope
    maf = np.zeros(n, dtype=np.int64)
    tiers: dict[str, I64] = {}
    owed = np.maximum(inscp - hifp - hifmi - hifob, 0)
    aided = entitled & (aid > 0)
    if explain:
        reasons |= np.where(entitled & ~aided & (owed > 0), NOT_AID_RECIPIENT, 0)
    if aided.any():
        for t in range(tables.n_tiers):
            ratio = tables.ma_ratio[v, aid, t]
            member = aided & (ratio > 0)
            remaining = owed - maf
            grown, _ = _deductible_schedule(
                segs,
                remaining,
                member,
                tables.ma_deductible[v, aid, t],
                state,
                f"ma:{t}.base",
                npers,
            )
            tier_raw = round_div(ratio * grown, SCALE)
            tier_cap = tables.ma_cap[v, aid, t]
            pay, _ = _clamp(segs, tier_raw, member, tier_cap, state, f"ma:{t}", npers, steady, v)
            if explain:
                reasons |= np.where(pay < tier_raw, MA_CAP, 0)
            tiers[f"ma_base:{t}"] = np.where(member, remaining, 0)
            tiers[f"maf_pay:{t}"] = pay
            maf += pay

    # personal account (个人账户), family mutual aid (家庭共济), cash
    fund = hifp + hifmi + hifob + maf
    share = claims.total - fund
    balance = segs.spread(np.where(persons.use_account, persons.account_balance, 0))
    acct, _ = _clamp(segs, share, None, balance, state, "acct", npers, True)
    linked = segs.spread(persons.mutual_aid_balance)
    mulaid, _ = _clamp(segs, share - acct, linked > 0, linked, state, "mulaid", npers, True)
    columns = {
        "preselfpay_amt": preselfpay,
        "inscp_scp_amt": inscp,
        "cross_prepay": cross_prepay,
        "act_pay_dedc": act_ded,
        "basic_raw": raw,
        "hifp_pay": hifp,
        "ci_base": ci_base,
        "hifmi_pay": hifmi,
        "la_base": beyond,
        "hifob_pay": hifob,
        "maf_pay": maf,
        **tiers,
        "fund_pay_sumamt": fund,
        "psn_part_amt": share,
        "acct_pay": acct,
        "acct_mulaid_pay": mulaid,
        "psn_cash_pay": share - acct - mulaid,
        "reasons": reasons,
        "admission_no": np.where(admission, nth, 0),
        "version": v,
    }
    return Result(columns=columns, state=state)
