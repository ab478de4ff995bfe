"""DIP groups (病种) from history and cases into groups, columnar (Arrow hashing, NumPy sums).

- A case's key is ``principal diagnosis:principal procedure`` (``-`` without a procedure).
- A key with at least ``min_cases`` cases over the history is a core group (核心病种); the other
  cases fall into the comprehensive group (综合病种) of their diagnosis's ICD-10 chapter, code
  ``chapter:<roman numeral>``.
- A group's average cost is the average of its yearly average costs weighted by
  ``history_weights`` (oldest first; the weights of the years in which the group has cases,
  renormalised). Its score = its average cost ÷ the average cost of all cases (the same weighted
  average over every case) × ``scale``, four places half up (the DIP technical specification's
  病种分值 = 该病种平均费用 ÷ 全部病例平均费用 × 1000).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from yibao.rules.provider_payment import POINTS_SCALE, GroupBuilding

I64 = npt.NDArray[np.int64]

#: A case without a principal procedure (保守治疗): the procedure part of its key.
NO_PROCEDURE = "-"
CORE, COMPREHENSIVE = "core", "comprehensive"

#: ICD-10 chapters by the first code of each (letter + two digits), in order.
CHAPTERS: tuple[tuple[str, str], ...] = (
    ("A00", "I"), ("C00", "II"), ("D50", "III"), ("E00", "IV"), ("F00", "V"), ("G00", "VI"),
    ("H00", "VII"), ("H60", "VIII"), ("I00", "IX"), ("J00", "X"), ("K00", "XI"), ("L00", "XII"),
    ("M00", "XIII"), ("N00", "XIV"), ("O00", "XV"), ("P00", "XVI"), ("Q00", "XVII"),
    ("R00", "XVIII"), ("S00", "XIX"), ("U00", "XXII"), ("V01", "XX"), ("Z00", "XXI"),
)  # fmt: skip
_STARTS = np.array([(ord(c[0]) - 65) * 100 + int(c[1:3]) for c, _ in CHAPTERS], np.int64)


def chapter_of(code: str) -> str | None:
    """The ICD-10 chapter (roman numeral) of a diagnosis code, None when it is not one."""
    if len(code) < 3 or not ("A" <= code[0] <= "Z") or not code[1:3].isdigit():
        return None
    n = (ord(code[0]) - 65) * 100 + int(code[1:3])
    return CHAPTERS[int(np.searchsorted(_STARTS, n, side="right")) - 1][1]


def comprehensive_code(chapter: str) -> str:
    """The code of a chapter's comprehensive group (综合病种)."""
    return f"chapter:{chapter}"


def case_keys(diagnosis: pa.Array, procedure: pa.Array) -> pa.Array:
    """Each case's ``diagnosis:procedure`` (``-`` for a missing or empty procedure)."""
    proc = pc.if_else(
        pc.equal(pc.utf8_length(pc.fill_null(procedure, "")), 0), NO_PROCEDURE, procedure
    )
    return pc.binary_join_element_wise(
        pc.fill_null(diagnosis, ""), pc.fill_null(proc, NO_PROCEDURE), ":"
    )


def _encode(values: pa.Array) -> tuple[I64, list[str]]:
    encoded = (
        pc.dictionary_encode(values).combine_chunks()
        if isinstance(values, pa.ChunkedArray)
        else pc.dictionary_encode(values)
    )
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return indices, encoded.dictionary.to_pylist()


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One built group: code, kind, score (× 10^4), weighted average cost (fen), cases."""

    code: str
    kind: str
    score: int
    avg_cost: int
    cases: int


def weighted_average(
    sums: Sequence[int], counts: Sequence[int], weights: Sequence[int]
) -> Fraction | None:
    """Σ w_y × (sum_y ÷ count_y) ÷ Σ w_y over the years with cases (exact), None without any."""
    num = Fraction(0)
    den = 0
    for s, c, w in zip(sums, counts, weights, strict=True):
        if c > 0 and w > 0:
            num += w * Fraction(s, c)
            den += w
    return num / den if den else None


def _round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)


def year_positions(year: I64, years: Sequence[int], weights: Sequence[int] | None = None) -> I64:
    """Each case's position in ``years`` (oldest first), -1 for another year or a year of
    weight 0 (older than the history's weights reach)."""
    year = np.asarray(year, np.int64)
    out = np.full(year.shape, -1, np.int64)
    for i, y in enumerate(years):
        if weights is None or weights[i] > 0:
            out[year == y] = i
    return out


def history_weights(building: GroupBuilding, n_years: int) -> list[int]:
    """The weights of ``n_years`` years, oldest first: the last ``n_years`` of
    ``history_weights`` (0 for years older than the list)."""
    weights = list(building.history_weights[-n_years:])
    return [0] * (n_years - len(weights)) + weights


def cell_sums(group: I64, year_pos: I64, cost: I64, n_groups: int, n_years: int) -> tuple[I64, I64]:
    """(cases, cost sums) by (group, year) for cases with ``group ≥ 0`` and ``year_pos ≥ 0``:
    two (n_groups, n_years) int64 arrays."""
    keep = (group >= 0) & (year_pos >= 0)
    cell = group[keep] * n_years + year_pos[keep]
    size = n_groups * n_years
    counts = np.bincount(cell, minlength=size).astype(np.int64)
    sums = np.zeros(size, np.int64)
    np.add.at(sums, cell, np.asarray(cost, np.int64)[keep])
    return counts.reshape(n_groups, n_years), sums.reshape(n_groups, n_years)


def group_scores(
    counts: I64, sums: I64, all_counts: I64, all_sums: I64, weights: Sequence[int], scale: int
) -> list[tuple[int, int, int] | None]:
    """Per group (a row of ``counts``/``sums``): (score × 10^4, weighted average cost fen,
    cases), or None for a group without cases in a weighted year. Score = the group's weighted
    average cost ÷ the weighted average cost of all cases (``all_*``, per year) × ``scale``."""
    overall = weighted_average([int(v) for v in all_sums], [int(v) for v in all_counts], weights)
    out: list[tuple[int, int, int] | None] = []
    for c, s in zip(counts, sums, strict=True):
        avg = weighted_average([int(v) for v in s], [int(v) for v in c], weights)
        if avg is None or not overall:
            out.append(None)
            continue
        score = _round_half_up(avg / overall * scale * POINTS_SCALE)
        out.append((score, _round_half_up(avg), int(c.sum())))
    return out


def build_groups(
    year: I64,
    diagnosis: pa.Array,
    procedure: pa.Array,
    cost: I64,
    years: Sequence[int],
    building: GroupBuilding,
) -> list[GroupRow]:
    """The groups of a history: core groups by key, comprehensive groups by chapter (cases of a
    diagnosis that is not ICD-10 are left out). ``years`` oldest first pair with the last
    ``len(years)`` of ``history_weights``; cases of other years are ignored."""
    weights = history_weights(building, len(years))
    n_years = len(years)
    year_pos = year_positions(year, years, weights)
    keys, names = _encode(case_keys(diagnosis, procedure))
    diag_idx, diag_names = _encode(pc.fill_null(diagnosis, ""))
    chapters = [chapter_of(d) for d in diag_names]
    chapter_names = sorted({c for c in chapters if c is not None}, key=_chapter_order)
    chapter_of_diag = np.array(
        [chapter_names.index(c) if c is not None else -1 for c in chapters], np.int64
    )
    case_chapter = chapter_of_diag[diag_idx] if len(diag_idx) else diag_idx
    valid = case_chapter >= 0
    counts, sums = cell_sums(np.where(valid, keys, -1), year_pos, cost, len(names), n_years)
    core = counts.sum(axis=1) >= building.min_cases
    rest = valid & ~core[keys]
    ccounts, csums = cell_sums(
        np.where(rest, case_chapter, -1), year_pos, cost, len(chapter_names), n_years
    )
    all_counts = counts.sum(axis=0)
    all_sums = sums.sum(axis=0)
    out: list[GroupRow] = []
    core_idx = np.flatnonzero(core)
    scored = group_scores(
        counts[core_idx], sums[core_idx], all_counts, all_sums, weights, building.scale
    )
    for k, found in zip(core_idx, scored, strict=True):
        if found is not None:
            out.append(GroupRow(names[int(k)], CORE, *found))
    cscored = group_scores(ccounts, csums, all_counts, all_sums, weights, building.scale)
    for chapter, found in zip(chapter_names, cscored, strict=True):
        if found is not None:
            out.append(GroupRow(comprehensive_code(chapter), COMPREHENSIVE, *found))
    return out


def _chapter_order(chapter: str) -> int:
    return [c for _, c in CHAPTERS].index(chapter)


def assign_groups(diagnosis: pa.Array, procedure: pa.Array, codes: Sequence[str]) -> I64:
    """Each case's index into ``codes`` (a group table's codes): its core group when the table
    has its key, else its chapter's comprehensive group, else -1 (not groupable). Each distinct
    (diagnosis, procedure) pair is looked up once."""
    diag_idx, diag_names = _encode(pc.fill_null(diagnosis, ""))
    proc_idx, proc_names = _encode(pc.fill_null(procedure, ""))
    n_proc = max(len(proc_names), 1)
    pair = diag_idx * n_proc + proc_idx
    size = len(diag_names) * n_proc
    if size <= 1 << 24:
        present = np.flatnonzero(np.bincount(pair, minlength=size))
    else:
        present = np.unique(pair)
    lookup = {code: i for i, code in enumerate(codes)}
    found = np.full(len(present), -1, np.int64)
    for j, p in enumerate(present.tolist()):
        d, pr = diag_names[p // n_proc], proc_names[p % n_proc] or NO_PROCEDURE
        hit = lookup.get(f"{d}:{pr}")
        if hit is None and (chapter := chapter_of(d)) is not None:
            hit = lookup.get(comprehensive_code(chapter))
        found[j] = -1 if hit is None else hit
    return found[np.searchsorted(present, pair)] if len(pair) else np.zeros(0, np.int64)
