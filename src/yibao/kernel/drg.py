"""The DRG grouper (疾病诊断相关分组), columnar: MDC by the principal diagnosis, ADRG by the
principal procedure (surgical and procedural ADRGs first, in the table's order) or else the
principal diagnosis, DRG by the severity of the secondary diagnoses (MCC, CC, none) and age.

The table is ``policy.group_tables`` rows (``compile_drg_table``). A case's (diagnosis,
procedure) pair and each secondary diagnosis are matched once per distinct value (Arrow
dictionary encoding); the DRG choice is a few vectorised passes over the cases.

Matching a code against an item of the table: ``I21`` matches every code that starts with it
(``I21``, ``I21.0``); a range ``I20-I25`` matches codes whose first characters (as many as the
range's bounds have) lie between the bounds, inclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from yibao.policy.group_tables import GroupTableRow

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

NONE, CC, MCC = 0, 1, 2
_SPLIT = {"": NONE, "cc": CC, "mcc": MCC}
#: The code of a case no ADRG takes (歧义组 / 未入组).
UNGROUPED = "0000"


def matches(code: str, items: Sequence[str]) -> bool:
    """Whether ``code`` matches one of ``items`` (prefixes or ``A-B`` ranges)."""
    code = code.upper()
    for item in items:
        if "-" in item:
            lo, hi = item.split("-", 1)
            if lo <= code[: len(lo)] <= hi[: len(lo)]:
                return True
        elif code.startswith(item):
            return True
    return False


@dataclass(frozen=True, slots=True)
class DrgTable:
    """A compiled grouping table: the DRG codes (with weights × 10^4 and average costs, fen, 0
    where the table has none), the ADRGs per MDC, the DRG candidates per ADRG."""

    mdcs: tuple[tuple[str, tuple[str, ...]], ...]
    adrgs: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # (code, mdc, by, codes)
    drgs: tuple[str, ...]
    weight: I64
    avg_cost: I64
    candidates: I64  # (n_adrgs, width): DRG index or -1, in the table's order
    split: I8  # (n_adrgs, width): NONE, CC or MCC
    age_min: I64  # (n_adrgs, width)
    age_max: I64
    cc: tuple[str, ...]
    mcc: tuple[str, ...]


def compile_drg_table(rows: Sequence[GroupTableRow]) -> DrgTable:
    """A grouping table's rows compiled for ``group_cases``."""
    mdcs = tuple((r.code, r.codes) for r in rows if r.level == "mdc")
    adrgs = tuple((r.code, r.parent, r.by, r.codes) for r in rows if r.level == "adrg")
    drg_rows = [r for r in rows if r.level == "drg"]
    adrg_index = {a[0]: i for i, a in enumerate(adrgs)}
    per_adrg: list[list[tuple[int, GroupTableRow]]] = [[] for _ in adrgs]
    for i, r in enumerate(drg_rows):
        per_adrg[adrg_index[r.parent]].append((i, r))
    width = max((len(p) for p in per_adrg), default=0) or 1
    shape = (len(adrgs), width)
    candidates = np.full(shape, -1, np.int64)
    split = np.zeros(shape, np.int8)
    age_min = np.zeros(shape, np.int64)
    age_max = np.full(shape, 1000, np.int64)
    for a, found in enumerate(per_adrg):
        for j, (i, r) in enumerate(found):
            candidates[a, j] = i
            split[a, j] = _SPLIT[r.split]
            age_min[a, j] = r.age_min if r.age_min is not None else -1
            age_max[a, j] = r.age_max if r.age_max is not None else 1000
    return DrgTable(
        mdcs=mdcs,
        adrgs=adrgs,
        drgs=tuple(r.code for r in drg_rows),
        weight=np.array([r.score or 0 for r in drg_rows], np.int64),
        avg_cost=np.array([r.avg_cost or 0 for r in drg_rows], np.int64),
        candidates=candidates,
        split=split,
        age_min=age_min,
        age_max=age_max,
        cc=tuple(c for r in rows if r.level == "cc" for c in r.codes),
        mcc=tuple(c for r in rows if r.level == "mcc" for c in r.codes),
    )


def adrg_of(table: DrgTable, diagnosis: str, procedure: str) -> tuple[int, int]:
    """(MDC index, ADRG index) of a principal diagnosis and procedure; -1 where none."""
    mdc = next((i for i, (_, codes) in enumerate(table.mdcs) if matches(diagnosis, codes)), -1)
    if mdc < 0:
        return -1, -1
    code = table.mdcs[mdc][0]
    in_mdc = [(i, a) for i, a in enumerate(table.adrgs) if a[1] == code]
    if procedure:
        for i, (_, _, by, codes) in in_mdc:
            if by == "procedure" and matches(procedure, codes):
                return mdc, i
    for i, (_, _, by, codes) in in_mdc:
        if by == "diagnosis" and matches(diagnosis, codes):
            return mdc, i
    return mdc, -1


def _severity_of(table: DrgTable, code: str) -> int:
    if matches(code, table.mcc):
        return MCC
    return CC if matches(code, table.cc) else NONE


def _encode(values: pa.Array) -> tuple[I64, list[str]]:
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), list(
        encoded.dictionary.to_pylist()
    )


def severity(table: DrgTable, diagnoses: pa.Array) -> I8:
    """Each case's complication level from its secondary diagnoses (every diagnosis of the
    list after the first, the principal): ``MCC`` when one is an MCC, else ``CC`` when one is
    a CC, else ``NONE``."""
    if isinstance(diagnoses, pa.ChunkedArray):
        diagnoses = diagnoses.combine_chunks()
    n = len(diagnoses)
    flat = pc.list_flatten(diagnoses)
    parents = pc.list_parent_indices(diagnoses).to_numpy(zero_copy_only=False).astype(np.int64)
    out = np.zeros(n, np.int8)
    if len(flat) == 0:
        return out
    idx, names = _encode(pc.fill_null(flat, ""))
    per_code = np.array([_severity_of(table, c) for c in names], np.int8)
    level = per_code[idx]
    first = np.ones(len(parents), np.bool_)
    first[1:] = parents[1:] != parents[:-1]  # the first element of each case's list
    level = np.where(first, 0, level).astype(np.int8)
    np.maximum.at(out, parents, level)
    return out


@dataclass(frozen=True, slots=True)
class DrgAssignment:
    """Each case's DRG index (-1: ungrouped), ADRG and MDC indices, complication level."""

    drg: I64
    adrg: I64
    mdc: I64
    severity: I8


def group_cases(
    table: DrgTable,
    diagnosis: pa.Array,
    procedure: pa.Array,
    diagnoses: pa.Array | None = None,
    age: I64 | None = None,
) -> DrgAssignment:
    """Group cases: ``diagnosis``/``procedure`` the principal ones, ``diagnoses`` each case's
    list (principal first; None: no secondary diagnoses), ``age`` in whole years (-1 unknown:
    rows with an age range do not take the case)."""
    key = pc.binary_join_element_wise(pc.fill_null(diagnosis, ""), pc.fill_null(procedure, ""), "|")
    idx, names = _encode(key)
    pairs = np.array([adrg_of(table, *name.split("|", 1)) for name in names], np.int64)
    pairs = pairs.reshape(-1, 2)
    n = len(idx)
    mdc = pairs[idx, 0] if n else np.zeros(0, np.int64)
    adrg = pairs[idx, 1] if n else np.zeros(0, np.int64)
    sev = severity(table, diagnoses) if diagnoses is not None else np.zeros(n, np.int8)
    ages = np.full(n, -1, np.int64) if age is None else np.asarray(age, np.int64)
    drg = np.full(n, -1, np.int64)
    grouped = adrg >= 0
    a = np.where(grouped, adrg, 0)
    for r in range(table.candidates.shape[1]):
        cand = table.candidates[a, r] if len(table.adrgs) else np.full(n, -1, np.int64)
        if not len(table.adrgs):
            break
        ok = (
            grouped
            & (drg < 0)
            & (cand >= 0)
            & (sev >= table.split[a, r])
            & (ages >= table.age_min[a, r])
            & (ages <= table.age_max[a, r])
        )
        drg = np.where(ok, cand, drg)
    return DrgAssignment(drg=drg, adrg=adrg, mdc=mdc, severity=sev)
