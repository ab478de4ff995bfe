"""Age, sex and the age bands the other modules use.

Age structure: the Seventh National Population Census (2020), NBS Communiqué No. 5: 0–14 17.95%,
15–59 63.35%, 60+ 18.70% (65+ 13.50%). Within those broad groups the 5-year groups follow the
census tabulation (counts in 10,000s below, rounded), rescaled so the broad shares are exactly
the communiqué's; within a 5-year group every single year is equally likely; 100+ is age 100.
Sex: 51.24% men (census sex ratio 105.07), the same at every age (a simplification: the oldest
ages are in fact mostly women). The structure is used as it is for any year generated.

"Age" here is the age on 31 December of the year generated: age 0 is a baby born during the year.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from yibao.synth.dates import I64

F64 = npt.NDArray[np.float64]
MAX_AGE = 100
MALE_SHARE = 0.5124
BROAD_SHARES = {(0, 14): 0.1795, (15, 59): 0.6335, (60, MAX_AGE): 0.1870}
#: Census 2020, persons by 5-year age group (10,000s): 0–4, 5–9, ..., 95–99, 100+.
CENSUS_5Y = (
    7788, 9024, 8526, 7268, 7494, 9185, 12415, 9901, 9330, 11422, 12116, 10140,
    7338, 7401, 4959, 3121, 2039, 1037, 335, 72, 12,
)  # fmt: skip


def age_distribution() -> F64:
    """Probability of each age 0..100."""
    p = np.zeros(MAX_AGE + 1)
    for g, count in enumerate(CENSUS_5Y):
        lo = 5 * g
        hi = min(lo + 4, MAX_AGE)
        p[lo : hi + 1] = count / (hi - lo + 1)
    for (lo, hi), share in BROAD_SHARES.items():
        p[lo : hi + 1] *= share / p[lo : hi + 1].sum()
    return np.asarray(p / p.sum(), dtype=np.float64)


AGE_P = age_distribution()
AGE_CDF = np.cumsum(AGE_P)

#: Age bands for rates that rise with age: 0–4, 5–14, 15–24, 25–34, ..., 75–84, 85+.
BAND_EDGES = (0, 5, 15, 25, 35, 45, 55, 65, 75, 85)
BAND_OF_AGE = np.searchsorted(np.array(BAND_EDGES), np.arange(MAX_AGE + 1), side="right") - 1
N_BANDS = len(BAND_EDGES)


def draw_ages(rng: np.random.Generator, n: int) -> I64:
    age = np.searchsorted(AGE_CDF, rng.random(n) * AGE_CDF[-1], side="right")
    return np.asarray(np.minimum(age, MAX_AGE), dtype=np.int64)


def by_age(table: dict[tuple[int, int], float]) -> F64:
    """A per-age (0..100) array from {(lo, hi): value}; ages not covered get 0."""
    out = np.zeros(MAX_AGE + 1)
    for (lo, hi), value in table.items():
        out[lo : min(hi, MAX_AGE) + 1] = value
    return out
