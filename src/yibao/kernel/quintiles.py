"""Households' income quintiles (收入五等份分组), as the National Bureau of Statistics groups
them: households ranked by income per member and cut into five groups of (nearly) equal size,
lowest first. One rule for the simulation's burden report (local and on Spark) and the
synthetic area's calibration against the published group means.

A household's rank is by (income per member in fen, household id): ties broken by id, so the
groups do not depend on the order households are read in.
"""

from __future__ import annotations

import numpy as np

from yibao.kernel.segments import I64

QUINTILES = 5


def per_member(income: I64, members: I64) -> I64:
    """Each household's income per member, fen: its income (none or negative as 0)
    integer-divided by its members."""
    return np.where(income >= 0, income, 0) // np.maximum(members, 1)


def cut_ranks(households: int) -> list[int]:
    """The ranks (0-based, by income per member then household id) of the first household of
    quintiles 2..5: ⌈q·n/5⌉, those below n. A household of rank r is in quintile ⌊5r/n⌋ + 1."""
    return [r for q in range(1, QUINTILES) if (r := -(-q * households // QUINTILES)) < households]


def quintile_cuts(key: I64, per_capita: I64) -> list[tuple[int, int]]:
    """The (income per member, household id) of the households at ``cut_ranks``: the quintile
    of a household is 1 + the number of cuts at or below its own pair."""
    order = np.lexsort((key, per_capita))
    return [(int(per_capita[order[r]]), int(key[order[r]])) for r in cut_ranks(len(key))]


def quintile_of(key: I64, per_capita: I64, cuts: list[tuple[int, int]]) -> I64:
    """Each household's quintile, 0..4: how many cuts its (income per member, id) reaches."""
    q = np.zeros(len(key), dtype=np.int64)
    for pc, k in cuts:
        q += (per_capita > pc) | ((per_capita == pc) & (key >= k))
    return q


def quintiles_of(key: I64, income: I64, members: I64) -> I64:
    """Each household's quintile, 0..4, among these households."""
    pc = per_member(income, members)
    return quintile_of(key, pc, quintile_cuts(key, pc))
