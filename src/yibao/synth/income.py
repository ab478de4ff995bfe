"""Household annual disposable income (可支配收入) from the published income quintiles.

The National Bureau of Statistics publishes, in each year's statistical communiqué on the
national economy and social development (国民经济和社会发展统计公报), the per-capita disposable
income of the five equal groups of households (全国居民五等份收入分组: all surveyed households
ranked by per-capita income and cut into five groups of equal size). ``NBS_QUINTILES`` holds
those figures; ``NBS_MEAN`` the national per-capita disposable income of the same communiqué.

How a chunk's households get an income (``household_income``):

1. **Rank.** Each household gets a score: the log of its members' earnings proxy per head
   (wages of employees and flexible workers as generated; 12 × the area's average monthly
   pension per retiree; ``RESIDENT_EARNINGS`` × the average wage, lognormal σ
   ``RESIDENT_SIGMA``, per resident aged 18–59; ``RESIDENT_OLD_EARNINGS`` × the average wage
   per resident aged 60+; nothing for children), plus Normal(0, ``SCORE_NOISE``). Households
   with a medical-assistance class (特困, 低保, 低保边缘, 监测, 因病致贫) rank below all others.
   Households are ranked by score within the chunk: rank r of H gives u = (r + U(0, 1)) / H.
2. **Per-capita income.** u is read through a quantile function whose five quintile means are
   the published ones, scaled by the area's per-capita disposable income over the national mean
   of the communiqué used (1 for the national defaults in the communiqué's year). The four lower
   quintiles are linear in u between boundaries b0 < b1 < … < b4 with (b[k] + b[k+1]) / 2 the
   quintile's mean and b0 = ``FLOOR_SHARE`` × the lowest quintile's mean; the top quintile is a
   Pareto tail from b4 whose mean is the top quintile's (shape α = m5 / (m5 − b4)). So the
   expected per-capita income of each fifth of households is the published figure.
3. **Household income** = per-capita income × the number of members, to the yuan, in fen; the
   same figure on every member (the persons column ``household_income``).

The figures of the latest communiqué before the area's year are used (year Y uses Y − 1's,
falling back to the latest in ``NBS_QUINTILES``), as ``economy.resident_disposable_income``
dated 1 January Y is Y − 1's figure. The urban and rural quintile tables of the statistical
yearbook are not used: the communiqué's national groups are the figures cited here.

The income draws come from their own random stream (``income_rng``), so adding or changing
them leaves every other generated column unchanged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from yibao.synth.coverage import EMPLOYEE, FLEXIBLE, RESIDENT, RETIREE
from yibao.synth.dates import I64

F64 = npt.NDArray[np.float64]

#: NBS statistical communiqués (yuan per person a year), per-capita disposable income of the
#: five equal household groups, lowest first. 2021: communiqué of 28 Feb 2022; 2022: of
#: 28 Feb 2023; 2023: of 29 Feb 2024 (国家统计局, 中华人民共和国2023年国民经济和社会发展统计公报).
NBS_QUINTILES: dict[int, tuple[int, int, int, int, int]] = {
    2021: (8333, 18445, 29053, 44949, 85836),
    2022: (8601, 19303, 30598, 47397, 90116),
    2023: (9215, 20442, 32195, 50220, 95055),
}
#: national per-capita disposable income of the same communiqués (yuan)
NBS_MEAN: dict[int, int] = {2021: 35128, 2022: 36883, 2023: 39218}
SOURCE = (
    "National Bureau of Statistics, statistical communiqué on the {year} national economic and "
    "social development (中华人民共和国{year}年国民经济和社会发展统计公报): per-capita disposable "
    "income by household quintile (全国居民五等份收入分组)"
)

#: lowest per-capita income in the lowest quintile, as a share of that quintile's mean (assumption)
FLOOR_SHARE = 0.25
#: earnings proxies for the ranking only (shares of the area's average wage; assumptions)
RESIDENT_EARNINGS, RESIDENT_SIGMA = 0.3, 0.8
RESIDENT_OLD_EARNINGS = 0.05
SCORE_NOISE = 0.35
#: aid households rank below every other household
AID_PENALTY = 100.0


def income_year(year: int) -> int:
    """The communiqué year whose quintiles price an area of ``year``."""
    known = sorted(NBS_QUINTILES)
    earlier = [y for y in known if y <= year - 1]
    return earlier[-1] if earlier else known[0]


def quintile_means(year: int, disposable_income_yuan: float) -> F64:
    """The five published quintile means for an area of ``year``, scaled to its income level."""
    y = income_year(year)
    scale = disposable_income_yuan / NBS_MEAN[y]
    return np.asarray(NBS_QUINTILES[y], dtype=np.float64) * scale


def boundaries(means: F64) -> tuple[F64, float]:
    """(b0 .. b4, Pareto shape α of the top quintile) of the quantile function."""
    b = np.empty(5)
    b[0] = FLOOR_SHARE * means[0]
    for k in range(4):
        b[k + 1] = 2 * means[k] - b[k]
    if np.any(np.diff(b) <= 0) or means[4] <= b[4]:
        raise ValueError(f"quintile means {means.tolist()} give no increasing quantile function")
    return b, float(means[4] / (means[4] - b[4]))


def per_capita(u: F64, means: F64) -> F64:
    """Per-capita income (yuan) at household ranks ``u`` in [0, 1)."""
    b, alpha = boundaries(means)
    q = np.minimum((u * 5).astype(np.int64), 4)
    t = u * 5 - q
    lower = b[np.minimum(q, 3)] + t * (b[np.minimum(q + 1, 4)] - b[np.minimum(q, 3)])
    tail = b[4] * np.power(np.maximum(1.0 - t, 1e-12), -1.0 / alpha)
    return np.asarray(np.where(q == 4, tail, lower), dtype=np.float64)


def income_rng(seed: int, chunk: int) -> np.random.Generator:
    """The income draws' own stream: SeedSequence(seed, spawn_key=(chunk, 1))."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk, 1))))


def household_income(
    rng: np.random.Generator,
    *,
    year: int,
    average_wage_yuan: float,
    pension_monthly_yuan: float,
    disposable_income_yuan: float,
    head: I64,
    scheme: I64,
    age: I64,
    wage_fen: I64,
    aid: npt.NDArray[np.bool_],
) -> I64:
    """Each person's household's annual disposable income in fen (the same on every member).

    ``head`` is each person's household head as an index into the chunk; ``wage_fen`` is -1
    where the person has no wage; ``aid`` marks persons with a medical-assistance class.
    """
    n = len(head)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    earn = np.zeros(n)
    working = (scheme == EMPLOYEE) | (scheme == FLEXIBLE)
    earn[working] = np.maximum(wage_fen[working], 0) / 100.0
    earn[scheme == RETIREE] = 12.0 * pension_monthly_yuan
    resident = scheme == RESIDENT
    adult = resident & (age >= 18) & (age < 60)
    draws = rng.lognormal(-(RESIDENT_SIGMA**2) / 2, RESIDENT_SIGMA, n)
    earn[adult] = RESIDENT_EARNINGS * average_wage_yuan * draws[adult]
    earn[resident & (age >= 60)] = RESIDENT_OLD_EARNINGS * average_wage_yuan
    size = np.bincount(head, minlength=n)
    total = np.bincount(head, weights=earn, minlength=n)
    poor = np.bincount(head, weights=aid, minlength=n) > 0
    heads = np.flatnonzero(size)
    noise = rng.normal(0.0, SCORE_NOISE, n)
    score = np.log(total[heads] / size[heads] + 1000.0) + noise[heads]
    score = np.where(poor[heads], score - AID_PENALTY, score)
    rank = np.empty(len(heads), dtype=np.int64)
    rank[np.argsort(score, kind="stable")] = np.arange(len(heads))
    u = (rank + rng.random(len(heads))) / len(heads)
    pc = per_capita(u, quintile_means(year, disposable_income_yuan))
    income = np.zeros(n, dtype=np.int64)
    income[heads] = np.rint(pc * size[heads]).astype(np.int64) * 100
    return np.asarray(income[head], dtype=np.int64)


def income_figures(year: int, disposable_income_yuan: float) -> dict[str, object]:
    """What ``meta.json`` records of the income figures used (``income``)."""
    y = income_year(year)
    return {
        "communique_year": y,
        "published_quintiles": list(NBS_QUINTILES[y]),
        "published_mean": NBS_MEAN[y],
        "area_mean": round(disposable_income_yuan),
        "quintile_means": [round(float(m)) for m in quintile_means(year, disposable_income_yuan)],
        "source": SOURCE.format(year=y),
    }
