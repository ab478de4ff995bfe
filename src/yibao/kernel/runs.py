"""Persons' runs of claims, found in one compiled pass each (``kernel.arrow.person_rows``).

Claims sorted by person key come as runs of equal keys, one run a person. NumPy finds them in
half a dozen passes (comparisons, a mask, a cumulative sum, a binary search of each key among
the persons), ~14 ns a claim when reading a part; these loops take each array once. Importing
this module imports Numba (``kernel.jit``).
"""

from __future__ import annotations

from yibao.kernel.jit import compiled
from yibao.kernel.segments import I64


@compiled
def number_runs(person: I64, run: I64, keys: I64) -> int:
    """Each claim's run number (0, 1, …) into ``run``, each run's key into ``keys``; returns the
    number of runs (``keys``' first items)."""
    runs = 0
    for i in range(len(person)):
        if i == 0 or person[i] != person[i - 1]:
            keys[runs] = person[i]
            runs += 1
        run[i] = runs - 1
    return runs


@compiled
def match_sorted(keys: I64, psn: I64, rows: I64) -> int:
    """Each key's first row in ``psn`` into ``rows``, both ascending (a merge); returns how many
    keys were found before the first one that has no row (``len(keys)``: all)."""
    j = 0
    for k in range(len(keys)):
        while j < len(psn) and psn[j] < keys[k]:
            j += 1
        if j == len(psn) or psn[j] != keys[k]:
            return k
        rows[k] = j
    return len(keys)
