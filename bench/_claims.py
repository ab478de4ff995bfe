"""Seeded kernel-ready batches for the benchmarks: ~10 claims per person, every scheme and layer.

Used only where a benchmark times the kernel itself; see ``yibao synth`` for the realistic area.
"""

from __future__ import annotations

import numpy as np

from yibao.kernel.settle import Claims, Persons
from yibao.kernel.tables import AID_CLASSES, MED_TYPES

YEAR_START = 20089  # 2025-01-01 in days since 1970-01-01


def batch(seed: int, persons: int, first_person: int = 0) -> tuple[Claims, Persons]:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(10, persons)
    n = int(counts.sum())
    person = np.repeat(np.arange(persons, dtype=np.int64), counts)
    day = np.sort(rng.integers(0, 365, n) + person * 1000) - person * 1000  # sorted per person
    med = rng.choice(len(MED_TYPES), n, p=[0.06, 0.55, 0.1, 0.01, 0.28]).astype(np.int64)
    inpatient = med == 0
    total = np.where(inpatient, rng.lognormal(9.3, 1.0, n), rng.lognormal(5.0, 1.0, n))
    total = (total * 100).astype(np.int64)
    fully = (total * rng.uniform(0, 0.1, n)).astype(np.int64)
    over = (total * rng.uniform(0, 0.02, n)).astype(np.int64)
    cat_b = ((total - fully - over) * rng.uniform(0, 0.3, n)).astype(np.int64)
    claims = Claims(
        person=person,
        date=YEAR_START + day,
        med_type=med,
        level=rng.choice(3, n, p=[0.5, 0.3, 0.2]).astype(np.int64),
        cross_region=rng.choice(4, n, p=[0.95, 0.02, 0.02, 0.01]).astype(np.int64),
        total=total,
        fully_self_paid=fully,
        over_limit=over,
        category_b=cat_b,
    )
    p = Persons(
        scheme=rng.choice(3, persons, p=[0.21, 0.08, 0.71]).astype(np.int64),
        aid_class=rng.choice(
            len(AID_CLASSES), persons, p=[0.93, 0.005, 0.03, 0.015, 0.01, 0.01]
        ).astype(np.int64),
        account_balance=rng.integers(0, 500_000, persons),
        use_account=rng.random(persons) < 0.9,
        mutual_aid_balance=np.where(
            rng.random(persons) < 0.1, rng.integers(0, 200_000, persons), 0
        ),
        incentive_raise=rng.choice([0, 100_000, 200_000], persons),
        entitled_from=YEAR_START
        + np.where(rng.random(persons) < 0.03, rng.integers(0, 180, persons), 0),
    )
    return claims, p
