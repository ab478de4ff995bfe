"""A claim's diagnoses (ICD-10, principal first), procedures (ICD-9-CM-3) and an admission's
discharge status (离院方式), as list and string columns, drawn without a loop per claim.

The principal diagnosis and procedure come from ``synth.claims``; this adds, for inpatient
stays, the person's registered chronic condition (CONDITION_CODED_P) and comorbidities whose
probability rises with age (COMORBIDITIES), the outcome of delivery for maternity stays, a
diagnostic procedure for some principal diagnoses (DIAGNOSTIC), and the discharge status of
every admission (deaths by age and severity, transfers, leaving against advice). Figures and
their sources: ``synth.catalog`` and docs/synthetic-data.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.synth.catalog import (
    AGAINST_ADVICE_P,
    COMORBIDITIES,
    CONDITION_CODED_P,
    DEATH_P,
    DELIVERY_OUTCOME,
    DIAGNOSTIC,
    OTHER_EXIT_P,
    TO_PRIMARY_P,
    TRANSFER_P,
)
from yibao.synth.dates import I64

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
_COMORBID_P = np.array([w for _, w in COMORBIDITIES]).T  # (bands, codes)


def code_lists(names: tuple[str, ...], n: int, row: I64, rank: I64, code: I64) -> pa.Array:
    """list<string> per row 0..n−1 from (row, rank, code index) entries, ordered by rank."""
    order = np.lexsort((rank, row))
    row, code = row[order], code[order]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(row, minlength=n), out=offsets[1:])
    values = pa.array(names, type=pa.string()).take(pa.array(code.astype(np.int64)))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def diagnoses(
    rng: np.random.Generator,
    names: tuple[str, ...],
    principal: I64,
    inpatient: B,
    maternity: B,
    band: I64,
    condition_code: I64,
) -> pa.Array:
    """Each claim's diagnoses (indexes into ``names``; principal −1: none), principal first."""
    n = len(principal)
    idx = np.arange(n, dtype=np.int64)
    rows, ranks, codes = [idx[principal >= 0]], [np.zeros(int((principal >= 0).sum()))], []
    codes.append(principal[principal >= 0])
    coded = inpatient & (condition_code >= 0) & (condition_code != principal)
    coded &= rng.random(n) < CONDITION_CODED_P
    rows.append(idx[coded])
    ranks.append(np.ones(int(coded.sum())))
    codes.append(condition_code[coded])
    index = {c: i for i, c in enumerate(names)}
    for k, (code, _) in enumerate(COMORBIDITIES):
        c = index[code]
        has = inpatient & (rng.random(n) < _COMORBID_P[band, k])
        has &= (principal != c) & (condition_code != c)
        rows.append(idx[has])
        ranks.append(np.full(int(has.sum()), 2 + k))
        codes.append(np.full(int(has.sum()), c))
    rows.append(idx[maternity])
    ranks.append(np.full(int(maternity.sum()), 1))
    codes.append(np.full(int(maternity.sum()), index[DELIVERY_OUTCOME]))
    return code_lists(
        names,
        n,
        np.concatenate(rows).astype(np.int64),
        np.concatenate(ranks).astype(np.int64),
        np.concatenate(codes).astype(np.int64),
    )


def procedures(
    rng: np.random.Generator,
    names: tuple[str, ...],
    diagnosis_names: tuple[str, ...],
    principal: I64,
    diagnosis: I64,
    admitted: B,
) -> tuple[pa.Array, I64]:
    """Each claim's procedures: the principal one, then a diagnostic one for some diagnoses;
    and the first of each list (the principal procedure: a diagnostic one when it is alone)."""
    n = len(principal)
    idx = np.arange(n, dtype=np.int64)
    index = {c: i for i, c in enumerate(names)}
    proc_of = np.full(len(diagnosis_names) + 1, -1, dtype=np.int64)
    p_of = np.zeros(len(diagnosis_names) + 1)
    for k, d in enumerate(diagnosis_names):
        if d in DIAGNOSTIC:
            proc_of[k], p_of[k] = index[DIAGNOSTIC[d][0]], DIAGNOSTIC[d][1]
    extra = proc_of[diagnosis]
    has = admitted & (extra >= 0) & (extra != principal) & (rng.random(n) < p_of[diagnosis])
    main = principal >= 0
    lists = code_lists(
        names,
        n,
        np.concatenate([idx[main], idx[has]]),
        np.concatenate([np.zeros(int(main.sum()), np.int64), np.ones(int(has.sum()), np.int64)]),
        np.concatenate([principal[main], extra[has]]),
    )
    return lists, np.where(main, principal, np.where(has, extra, -1)).astype(np.int64)


def discharge_status(
    rng: np.random.Generator, admitted: B, maternity: B, band: I64, severity: F64
) -> I64:
    """Index into DISCHARGE_CODES per claim (−1 for a visit that is not an admission)."""
    n = len(admitted)
    u = rng.random(n)
    death = np.where(maternity, 0.0, np.asarray(DEATH_P)[band] * severity)
    primary = TO_PRIMARY_P * np.where(band >= 7, 3.0, 1.0)
    cdf = np.cumsum(
        np.stack(
            [death, np.full(n, TRANSFER_P), primary, np.full(n, AGAINST_ADVICE_P),
             np.full(n, OTHER_EXIT_P)],
            axis=1,
        ),
        axis=1,
    )  # fmt: skip
    # order of the draws: died (5), transferred (2), to primary care (3), against advice (4),
    # other (9); else on medical advice (1)
    status = np.select(
        [u < cdf[:, 0], u < cdf[:, 1], u < cdf[:, 2], u < cdf[:, 3], u < cdf[:, 4]],
        [4, 1, 2, 3, 5],
        default=0,
    )
    return np.where(admitted, status, -1).astype(np.int64)
