"""Households (户) formed within a chunk of persons whose ages and sexes are already drawn.

Persons are drawn one by one from the age structure and then grouped, so the age structure is
exact and households are plausible rather than exact:

1. Marriage: a man ≥ 22 / a woman ≥ 20 is married with a probability by age (below, rounded
   from the 2020 census shares of married persons: about 90% of 35–64-year-olds, fewer over 75
   through widowhood). Married men and women are paired by rank of age plus noise (the wife
   about 2 years younger); the husband heads the household, the wife is ``spouse``.
2. Children 0–17, and 65% of the unmarried 18–29-year-olds, join a couple whose wife is 20–40
   years older (``child``); 12% of children under 15 live with a couple 44–70 years older
   instead (``grandchild``: the left-behind children of migrant parents).
3. Unmarried persons ≥ 85 join, with probability 0.3, a couple whose husband is 40–65 years
   younger (``grandparent``); unmarried persons ≥ 65 otherwise join, with probability 0.5, a
   couple whose husband is 22–40 years younger (``parent``).
4. 8% of unmarried 18–44-year-olds join a couple whose husband is within 8 years of their age
   (``sibling``).
5. Everyone else heads a household of their own.

The couple is picked uniformly among those whose age fits (two binary searches per person). The
result has about 2.5 persons per household (census 2020: 2.62).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from yibao.synth.dates import I64
from yibao.synth.demography import MAX_AGE, by_age

B = npt.NDArray[np.bool_]
RELATIONS = ("head", "spouse", "child", "parent", "sibling", "grandchild", "grandparent")
HEAD, SPOUSE, CHILD, PARENT, SIBLING, GRANDCHILD, GRANDPARENT = range(len(RELATIONS))

MARRIED_MEN = by_age(
    {
        (22, 24): 0.25,
        (25, 29): 0.55,
        (30, 34): 0.8,
        (35, 64): 0.9,
        (65, 74): 0.82,
        (75, 84): 0.65,
        (85, MAX_AGE): 0.45,
    }
)
MARRIED_WOMEN = by_age(
    {
        (20, 24): 0.3,
        (25, 29): 0.7,
        (30, 34): 0.88,
        (35, 59): 0.92,
        (60, 69): 0.82,
        (70, 79): 0.62,
        (80, MAX_AGE): 0.3,
    }
)
LIVE_WITH_PARENTS = by_age({(0, 17): 1.0, (18, 29): 0.65})
LEFT_BEHIND = 0.12
WITH_GRANDCHILD_85 = 0.3
WITH_CHILD_65 = 0.5
WITH_SIBLING = 0.08


class _Couples:
    """Couples sorted by one partner's age, to pick one whose age falls in a range."""

    def __init__(self, ages: I64, heads: I64) -> None:
        order = np.argsort(ages, kind="stable")
        self.ages = ages[order]
        self.heads = heads[order]

    def pick(self, lo: I64, hi: I64, u: npt.NDArray[np.float64]) -> I64:
        """A couple's head whose age is in [lo, hi] for each row, or -1 if there is none."""
        if len(self.ages) == 0:
            return np.full(len(lo), -1, dtype=np.int64)
        left = np.searchsorted(self.ages, lo, side="left")
        right = np.searchsorted(self.ages, hi, side="right")
        idx = np.minimum(left + (u * (right - left)).astype(np.int64), len(self.ages) - 1)
        return np.asarray(np.where(right > left, self.heads[idx], -1), dtype=np.int64)


def form_households(rng: np.random.Generator, age: I64, male: B) -> tuple[I64, I64]:
    """(head, relation): the chunk-local index of each person's household head, and the code of
    the person's relation to that head (an index into ``RELATIONS``)."""
    n = len(age)
    head = np.arange(n, dtype=np.int64)
    relation = np.full(n, HEAD, dtype=np.int64)

    u = rng.random(n)
    men = np.flatnonzero(male & (u < MARRIED_MEN[age]))
    women = np.flatnonzero(~male & (u < MARRIED_WOMEN[age]))
    k = min(len(men), len(women))
    men = np.sort(rng.permutation(men)[:k])
    women = np.sort(rng.permutation(women)[:k])
    men = men[np.argsort(age[men] + rng.normal(0.0, 1.5, k), kind="stable")]
    women = women[np.argsort(age[women] + 2 + rng.normal(0.0, 1.5, k), kind="stable")]
    head[women] = men
    relation[women] = SPOUSE
    married = np.zeros(n, dtype=np.bool_)
    married[men] = True
    married[women] = True
    by_wife = _Couples(age[women], men)
    by_husband = _Couples(age[men], men)

    def join(who: I64, found: I64, rel: int) -> I64:
        ok = found >= 0
        head[who[ok]] = found[ok]
        relation[who[ok]] = rel
        return np.asarray(who[~ok], dtype=np.int64)

    # children and young adults living with their parents, or with their grandparents
    u = rng.random(n)
    young = np.flatnonzero(~married & (u < LIVE_WITH_PARENTS[age]))
    a = age[young]
    grand = (a < 15) & (rng.random(len(young)) < LEFT_BEHIND)
    v = rng.random(len(young))
    found = np.where(
        grand,
        by_wife.pick(a + 44, a + 70, v),
        by_wife.pick(a + 20, a + 40, v),
    )
    rel = np.where(grand, GRANDCHILD, CHILD)
    ok = found >= 0
    head[young[ok]] = found[ok]
    relation[young[ok]] = rel[ok]

    # the old living with their children or grandchildren
    free = ~married & (relation == HEAD)
    old = np.flatnonzero(free & (age >= 85) & (rng.random(n) < WITH_GRANDCHILD_85))
    join(old, by_husband.pick(age[old] - 65, age[old] - 40, rng.random(len(old))), GRANDPARENT)
    free = ~married & (relation == HEAD)
    old = np.flatnonzero(free & (age >= 65) & (rng.random(n) < WITH_CHILD_65))
    join(old, by_husband.pick(age[old] - 40, age[old] - 22, rng.random(len(old))), PARENT)

    # unmarried adults living with a brother or sister
    free = ~married & (relation == HEAD)
    sib = np.flatnonzero(free & (age >= 18) & (age < 45) & (rng.random(n) < WITH_SIBLING))
    join(sib, by_husband.pick(age[sib] - 8, age[sib] + 8, rng.random(len(sib))), SIBLING)
    return head, relation
