"""The settlement kernel (一站式结算): every layer of a batch of claims in one compiled pass.

Claims are sorted by (person, date); person k's claims are the k-th run of equal ``person``
keys. The pass (``kernel.single_pass``, compiled with Numba: ``kernel.jit``) settles each
person's claims in date order, each claim through the layers of rules.md §6 in turn (one module
each in ``kernel.layers``), carrying the person's year-to-date state: a single claim is the same
call with a batch of one and the person's stored state. Batch settlement, simulation, the
service and the calculator all settle through ``settle_claims``.

Layers, in order: policy scope → basic pooling fund (hifp) → critical illness (hifmi,
residents) or large-amount insurance (hifob, employees) → medical assistance (maf, by tier) →
personal account (acct) → family mutual aid (acct_mulaid) → cash.

Importing this module does not import Numba: the compiled pass is loaded (from the on-disk
cache, or compiled once) on the first settlement.
"""

from __future__ import annotations

from collections.abc import Callable

from yibao.kernel.columns import Claims, Persons, Result
from yibao.kernel.memory import keep_freed_memory
from yibao.kernel.reasons import (
    BASIC_CAP,
    BASIC_DEDUCTIBLE,
    CI_CAP,
    CI_DEDUCTIBLE,
    LA_CAP,
    MA_CAP,
    NOT_AID_RECIPIENT,
    REASONS,
    WAITING,
)
from yibao.kernel.state import (
    FREE_ADMISSIONS,
    State,
    released_rank,
    reversed_state,
    state_keys,
)
from yibao.kernel.tables import Tables

# the process keeps freed memory for the next batch instead of re-faulting it (kernel.memory)
keep_freed_memory()


#: ``single_pass.settle`` once imported (importing it imports Numba: not before a settlement).
_settle: Callable[[Tables, Claims, Persons, State | None, bool], Result] | None = None


def settle_claims(
    tables: Tables,
    claims: Claims,
    persons: Persons,
    state: State | None = None,
    explain: bool = True,
) -> Result:
    """Settle a batch of claims of many persons (rules.md §6), carrying year-to-date state.

    ``explain`` adds the ``reasons`` flags (why a layer paid nothing); batch work may skip them.
    """
    global _settle
    if _settle is None:
        from yibao.kernel.single_pass import settle  # imports Numba (kernel.jit)

        _settle = settle
    return _settle(tables, claims, persons, state, explain)


def warm(tables: Tables) -> None:
    """Load (or compile) the compiled pass now, so the first settlement does not wait for it:
    one claim settled with ``tables`` (the one-claim entry), then two persons' (the batch's)."""
    import numpy as np

    for n in (1, 2):
        zeros, key = np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64)
        day = np.full(n, tables.version_dates[0], dtype=np.int64)
        claims = Claims(key, day, *[zeros] * 9)
        persons = Persons(zeros, zeros, zeros, np.zeros(n, dtype=np.bool_), *[zeros] * 7)
        settle_claims(tables, claims, persons)


__all__ = [
    "BASIC_CAP",
    "BASIC_DEDUCTIBLE",
    "CI_CAP",
    "CI_DEDUCTIBLE",
    "FREE_ADMISSIONS",
    "LA_CAP",
    "MA_CAP",
    "NOT_AID_RECIPIENT",
    "REASONS",
    "WAITING",
    "Claims",
    "Persons",
    "Result",
    "State",
    "released_rank",
    "reversed_state",
    "settle_claims",
    "state_keys",
    "warm",
]
