"""What every settlement layer shares: the call's ``Context``, annual caps (封顶线), annual
deductibles (起付线) and banded schedules (分段比例), all over grouped cumulative sums.

Each capped layer's payment is the growth of ``paid = running max of min(Σ raw, cap)`` over the
person's year (``clamp_to_cap``), each annual deductible the growth of
``max(0, year-to-date base − deductible)`` (``deductible_growth``): grouped scans only
(``kernel.segments``), so a batch of millions of claims is a few dozen array passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from yibao.kernel.segments import I64, B, Segments
from yibao.kernel.state import State
from yibao.kernel.tables import EXCESS, Tables

#: Below this share of member claims a layer is computed on its members only.
SPARSE = 0.25


@dataclass
class Context:
    """What every layer of one kernel call reads: the claims' person segments, each claim's
    parameter version and entitlement, the persons' year-to-date state (updated as the layers
    run) and the reasons."""

    tables: Tables
    segs: Segments
    version: I64  # each claim's parameter version (index along the tables' first axis)
    entitled: B  # past the waiting period on the claim's date
    state: State
    explain: bool
    reasons: I64  # reason flags per claim (kernel.reasons), filled only when explaining

    @property
    def n_persons(self) -> int:
        return self.segs.n_segments

    @property
    def steady(self) -> bool:
        """One parameter version in the year: annual caps cannot change within it."""
        return len(self.tables.version_dates) == 1

    def spread(self, per_person: I64) -> I64:
        return self.segs.spread(per_person)

    def flag(self, where: B, reason: int) -> None:
        """Record ``reason`` on the claims ``where`` (when the batch explains)."""
        if self.explain:
            self.reasons |= np.where(where, reason, 0)

    def capped(self, raw: I64, member: B | None, cap: I64, key: str) -> tuple[I64, I64]:
        """``clamp_to_cap`` for a layer whose cap follows the parameter versions."""
        return clamp_to_cap(
            self.segs, raw, member, cap, self.state, key, self.n_persons, self.steady, self.version
        )

    def deductible(self, base: I64, member: B, deductible: I64, key: str) -> tuple[I64, I64]:
        """``deductible_growth`` over the batch's state."""
        return deductible_growth(
            self.segs, base, member, deductible, self.state, key, self.n_persons
        )


def band_sum(edges: I64, ratios: I64, lo: I64, hi: I64) -> I64:
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


def banded_schedule(edges: I64, ratios: I64, basis: I64, deductible: I64, amount: I64) -> I64:
    """The cumulative payment of a banded schedule above a deductible (scaled): bands measured
    on the amount itself (AMOUNT) or on the excess above the deductible (EXCESS)."""
    on_amount = band_sum(edges, ratios, np.minimum(deductible, amount), amount)
    if edges.shape[1] == 1 or not (basis == EXCESS).any():
        return on_amount  # with one band both bases give the same
    excess = np.maximum(amount - deductible, 0)
    on_excess = band_sum(edges, ratios, np.zeros_like(excess), excess)
    return np.where(basis == EXCESS, on_excess, on_amount)


def members_only(segs: Segments, member: B | None) -> tuple[Segments, I64 | None, I64 | None]:
    """The segments a layer runs on: all claims, or (when few are members) the members only,
    with the members' claim indexes and their persons."""
    if member is None:
        return segs, None, None
    idx = np.flatnonzero(member)
    if len(idx) > SPARSE * len(member):
        return segs, None, None
    sub, people = segs.subset(idx)
    return sub, idx, people


def scatter(values: I64, idx: I64 | None, n: int) -> I64:
    """Member values back to all ``n`` claims (0 elsewhere)."""
    if idx is None:
        return values
    out = np.zeros(n, dtype=np.int64)
    out[idx] = values
    return out


def store(state: State, key: str, init: I64, people: I64 | None, last: I64) -> None:
    """Keep each person's last running value as the new state ``key``."""
    if people is None:
        state.values[key] = last
    else:
        new = init.copy()
        new[people] = last
        state.values[key] = new


def clamp_to_cap(
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
    """Cap a layer for the year (年度封顶): each claim pays its raw until the year's payments
    reach the cap in force on its date (``version``: the claims' parameter versions).

    ``member`` selects the claims of the layer (None: all). ``steady`` says the cap does not
    change within a person's year (one parameter version): paid = min(Σ raw, cap), never less
    than paid before. Returns each claim's payment and what the layer had paid before it."""
    raw_before_batch = state.get(f"{key}.raw", n_persons)
    paid_before_batch = state.get(f"{key}.paid", n_persons)
    sub, idx, people = members_only(segs, member)
    ver = np.zeros(len(raw), dtype=np.int64) if version is None else version
    if idx is not None:
        raw, cap, ver = raw[idx], cap[idx], ver[idx]
        member = None
    raw0 = raw_before_batch if people is None else raw_before_batch[people]
    paid0 = paid_before_batch if people is None else paid_before_batch[people]
    own = raw if member is None else np.where(member, raw, 0)
    running = sub.cumsum(own, raw0)
    n = len(segs.seg)
    if steady:
        # one cap per person's year: the layer has paid max(min(Σ raw, cap), paid before the
        # batch) after each claim, and the same before it with the claim's raw taken out
        floor = sub.spread(paid0)
        after = np.maximum(np.minimum(running, cap), floor)
        before = np.maximum(np.minimum(running - own, cap), floor)
        pay = after - before if member is None else np.where(member, after - before, 0)
        paid_in_batch = np.add.reduceat(pay, sub.starts) if len(pay) else 0
        store(state, f"{key}.paid", paid_before_batch, people, paid0 + paid_in_batch)
    else:
        # versions in date order; within one the cap is fixed and the year's payments grow by
        # each claim's raw up to max(cap, paid before). A raised cap pays nothing of an earlier
        # claim's raw it had cut: no claim is paid more than its own raw.
        paid_so_far = paid0
        pay = np.zeros(len(raw), dtype=np.int64)
        before = np.zeros_like(pay)
        for u in np.unique(ver):
            here = ver == u if member is None else (ver == u) & member
            floor = sub.spread(paid_so_far)
            grown = sub.cumsum(np.where(here, own, 0), paid_so_far)
            reached = np.where(here, np.minimum(grown, np.maximum(floor, cap)), floor)
            paid = sub.cummax(reached, paid_so_far)
            prior = sub.previous(paid, paid_so_far)
            pay = np.where(here, paid - prior, pay)
            before = np.where(here, prior, before)
            paid_so_far = sub.last(paid, paid_so_far)
        store(state, f"{key}.paid", paid_before_batch, people, paid_so_far)
    store(state, f"{key}.raw", raw_before_batch, people, sub.last(running, raw0))
    return scatter(pay, idx, n), scatter(before, idx, n)


def deductible_growth(
    segs: Segments, base: I64, member: B, deductible: I64, state: State, key: str, n: int
) -> tuple[I64, I64]:
    """An annual deductible (年度起付线) on a year-to-date base (the state ``key``): each claim's
    growth of the excess over the deductible, and the deductible the claim bore."""
    base_before = state.get(key, n)
    sub, idx, people = members_only(segs, member)
    mask: B | None = member
    if idx is not None:
        base, deductible, mask = base[idx], deductible[idx], None
    init = base_before if people is None else base_before[people]
    ytd = sub.cumsum(base if mask is None else np.where(mask, base, 0), init)
    store(state, key, base_before, people, sub.last(ytd, init))
    grown = np.maximum(ytd - deductible, 0) - np.maximum(ytd - base - deductible, 0)
    if mask is not None:
        grown = np.where(mask, grown, 0)
    applied = base - grown if mask is None else np.where(mask, base - grown, 0)
    return scatter(grown, idx, len(segs.seg)), scatter(applied, idx, len(segs.seg))
