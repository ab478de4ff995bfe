"""The kernel equals the reference settlement (``tests/reference``) to the fen.

Generated batches of several persons (schemes, aid classes, accounts, incentives, waiting
periods) and claims (med types, levels, cross-region kinds, amounts up to far beyond every cap)
are settled by the kernel in one batch (``settle_claims``), by the online path one claim per
person per call (``online.settle_many`` with each person's stored state), and by the reference,
claim by claim in Decimal. Parameter variants: the national defaults, a year with parameters
changing on 1 July (two versions, small caps so that every cap is reached), local variants
(bands on the amount or the excess, critical-illness base variants, two assistance tiers, med
types with entries of their own), and Beijing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.reference.settle import (
    UNCHECKED,
    Claim,
    Person,
    Product,
    Settled,
    reference_settle,
)
from yibao.kernel.entitled import NEVER
from yibao.kernel.online import Request, settle_many
from yibao.kernel.settle import Claims, Persons, settle_claims
from yibao.kernel.tables import (
    AID_CLASSES,
    COVERS_IN_SCOPE,
    COVERS_LISTED,
    DISEASE_NOT_CERTIFIED,
    DISEASE_UNCHECKED,
    SCHEMES,
    Tables,
    compile_tables,
    epoch_days,
    scaled,
)
from yibao.policy import Policy
from yibao.policy.vocab import CROSS_REGIONS, MED_TYPES, AidClass

YEAR = 2025
JAN, JUL, OCT = "2025-01-01", "2025-07-01", "2025-10-01"
NEVER_DATE = dt.date.max  # the reference's "never entitled" (the kernel's NEVER)
BANDS = [{"upto": 30000, "ratio": 0.6}, {"upto": 100000, "ratio": 0.7}, {"ratio": 0.8}]
SMALL_BANDS = [{"upto": 2000, "ratio": 0.6}, {"upto": 5000, "ratio": 0.7}, {"ratio": 0.8}]
TWO_TIERS = [
    {"deductible": 0, "ratio": 0.8, "annual_cap": 2000},
    {"deductible": 500, "ratio": 0.5, "annual_cap": 1000},
]


def dated(before: Any, after: Any) -> dict[str, Any]:
    """A value that changes on 1 July."""
    return {JAN: before, JUL: after}


MID_YEAR: dict[str, Any] = {  # parameters changing within the year, caps small enough to reach
    "catalog": {"category_b_prepay_ratio": dated(0.10, 0.15)},
    "benefits": {
        "cross_region": {"prepay_ratio": {"referred": dated(0.10, 0.05)}},
        "employee": {
            "inpatient": {
                "basic": {
                    "deductible": {"level2": dated(500, 300)},
                    "ratio": {"level3": dated(0.80, 0.82)},
                    "annual_cap": dated(30000, 40000),
                }
            },
            "outpatient": {
                "basic": {"annual_deductible": dated(300, 100), "annual_cap": dated(2000, 1500)}
            },
            "chronic": {"basic": {"annual_deductible": dated(200, 100)}},
        },
        "resident": {
            "inpatient": {
                "basic": {
                    "repeat_admission_factors": dated([1.0, 0.5, 0.0], [1.0, 0.8, 0.6, 0.4]),
                    "annual_cap": dated(20000, 15000),
                }
            },
            "outpatient": {"basic": {"annual_cap": dated(400, 300)}},
        },
    },
    "critical_illness": {
        "cap": {**dated(3000, 5000), OCT: 2500},  # a third version: lowered below some paid
        "deductible": dated(2000, 1000),
        "bands": dated([{"ratio": 0.6}], SMALL_BANDS),
    },
    "large_amount": {"cap": dated(4000, 3000), "ratio": dated(0.9, 0.85)},
    "chronic_diseases": {  # limits that change, a disease listed from July, one dropped
        "I10": {"annual_cap": dated(500, 800)},
        "E11": {"annual_deductible_applies": dated(True, False)},
        "K74": {"name": {JUL: "肝硬化"}, "class": {JUL: "inpatient"}, "annual_cap": {JUL: 3000}},
        "F20": {"class": dated("chronic", "inpatient")},
    },
    "medical_assistance": {
        "classes": {
            "tekun": {
                "tiers": dated([{"deductible": 0, "ratio": 0.9, "annual_cap": 3000}], TWO_TIERS)
            },
            "low_income_edge": {
                "tiers": dated(
                    [{"deductible": 1000, "ratio": 0.6, "annual_cap": 1500}],
                    [{"deductible": 200, "ratio": 0.6, "annual_cap": 1500}],
                )
            },
        }
    },
}

LOCAL: dict[str, Any] = {  # local variants the parameters express, one version
    "critical_illness": {
        "bands": BANDS,
        "band_basis": "excess",
        "base": "residual_excluding_deductible",
        "include_category_b_prepay": True,
        "cap": 20000,
        "vulnerable": {"uncapped": False, "groups": ["tekun", "dibao"]},
    },
    "benefits": {
        "employee": {
            "inpatient": {"basic": {"ratio": {"level1": BANDS}}},
            "pharmacy": {
                "basic": {"annual_deductible": 100, "ratio": 0.5, "cap_group": "outpatient"}
            },
        },
        "retiree": {
            "outpatient": {
                "basic": {
                    "annual_deductible": 1300,
                    "ratio": {"level1": 0.9, "level2": 0.85, "level3": 0.85},
                    "ratio_bonus": 0,
                }
            }
        },
        "resident": {
            "inpatient": {"basic": {"ratio": {"level2": BANDS}, "band_basis": "excess"}},
            "maternity": {
                "basic": {
                    "deductible": {"level1": 0, "level2": 100, "level3": 200},
                    "repeat_admission_factors": [1.0, 0.5],
                    "ratio": 0.9,
                    "cap_group": "basic",
                }
            },
        },
    },
    "medical_assistance": {
        "classes": {
            "dibao": {"tiers": TWO_TIERS},
            "ill_poor": {
                "tiers": [
                    {"deductible": 3000, "ratio": 0.5, "annual_cap": 30000},
                    {"deductible": 10000, "ratio": 0.6},
                ]
            },
        }
    },
}

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("000000", {}),
    ("000000", MID_YEAR),
    ("000000", LOCAL),
    ("110000", {}),
]


@cache
def policy(variant: int) -> Policy:
    region, overlay = VARIANTS[variant]
    return Policy(region, overlays=[overlay])


#: Diseases a chronic claim may name: listed (some only from July), not listed, not certified
#: (None) and not looked up (``UNCHECKED``).
DISEASES = ["I10", "E11", "N18", "Z94", "F20", "K74", "X99", None, UNCHECKED]


@cache
def tables(variant: int) -> Tables:
    return compile_tables(policy(variant), YEAR)


money = st.one_of(st.integers(0, 500_000), st.integers(0, 150_000_000))


@st.composite
def claims(draw: st.DrawFn) -> Claim:
    total = draw(money)
    fully = draw(st.integers(0, total))
    over = draw(st.integers(0, total - fully))
    return Claim(
        date=dt.date(YEAR, 1, 1) + dt.timedelta(days=draw(st.integers(0, 364))),
        med_type=draw(st.sampled_from(MED_TYPES)),
        level=draw(st.integers(1, 3)),
        cross_region=draw(st.sampled_from(CROSS_REGIONS)),
        total=total,
        fully_self_paid=fully,
        over_limit=over,
        category_b=draw(st.integers(0, total - fully - over)),
        disease=draw(st.sampled_from(DISEASES)),
        listed_self_paid=draw(st.integers(0, fully)),
    )


@st.composite
def persons(draw: st.DrawFn) -> Person:
    never = draw(st.integers(0, 9)) == 0  # no benefits at all (unpaid, suspended)
    waiting = None if never else draw(st.integers(-30, 250))
    return Person(
        scheme=draw(st.sampled_from(SCHEMES)),
        aid_class=draw(st.sampled_from([None, *(a.value for a in AidClass)])),
        account_balance=draw(money),
        use_account=draw(st.booleans()),
        mutual_aid_balance=draw(st.sampled_from([0, 0, 50_000, 1_000_000])),
        incentive_raise=draw(st.sampled_from([0, 100_000, 600_000])),
        entitled_from=NEVER_DATE
        if waiting is None
        else dt.date(YEAR, 1, 1) + dt.timedelta(days=waiting),
        commercial=draw(st.one_of(st.none(), products())),
    )


@st.composite
def products(draw: st.DrawFn) -> Product:
    """A supplementary commercial product: small caps and deductibles so that both are reached."""
    covers = draw(st.integers(0, 3))
    return Product(
        deductible=draw(st.sampled_from([0, 20_000, 2_000_000])),
        ratio=Decimal(draw(st.sampled_from(["0", "0.5", "0.75", "0.833333", "1"]))),
        cap=draw(st.sampled_from([0, 50_000, 10_000_000])),
        in_scope=bool(covers & 1),
        listed=bool(covers & 2),
    )


Batch = tuple[int, list[Person], list[list[Claim]]]


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    people = draw(st.lists(persons(), min_size=1, max_size=4))
    per_person = [
        sorted(draw(st.lists(claims(), min_size=1, max_size=6)), key=lambda c: c.date)
        for _ in people
    ]
    return draw(st.integers(0, len(VARIANTS) - 1)), people, per_person


def disease_index(codes: tuple[str, ...], disease: str | None) -> int:
    """The kernel's ``disease`` column of a reference claim's disease."""
    if disease == UNCHECKED:
        return DISEASE_UNCHECKED
    return codes.index(disease) if disease in codes else DISEASE_NOT_CERTIFIED


def kernel_claims(rows: list[Claim], person: list[int], codes: tuple[str, ...] = ()) -> Claims:
    def col(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return Claims(
        person=col(person),
        date=col([epoch_days(c.date) for c in rows]),
        med_type=col([MED_TYPES.index(c.med_type) for c in rows]),
        level=col([c.level - 1 for c in rows]),
        cross_region=col([CROSS_REGIONS.index(c.cross_region) for c in rows]),
        total=col([c.total for c in rows]),
        fully_self_paid=col([c.fully_self_paid for c in rows]),
        over_limit=col([c.over_limit for c in rows]),
        category_b=col([c.category_b for c in rows]),
        disease=col([disease_index(codes, c.disease) for c in rows]),
        listed_self_paid=col([c.listed_self_paid for c in rows]),
    )


def kernel_persons(people: list[Person]) -> Persons:
    def col(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    return Persons(
        scheme=col([SCHEMES.index(p.scheme) for p in people]),
        aid_class=col([AID_CLASSES.index(p.aid_class or "none") for p in people]),
        account_balance=col([p.account_balance for p in people]),
        use_account=np.array([p.use_account for p in people]),
        mutual_aid_balance=col([p.mutual_aid_balance for p in people]),
        incentive_raise=col([p.incentive_raise for p in people]),
        entitled_from=col(
            [
                NEVER if p.entitled_from == NEVER_DATE else epoch_days(p.entitled_from)
                for p in people
            ]
        ),
        com_deductible=col([p.commercial.deductible if p.commercial else 0 for p in people]),
        com_ratio=col([scaled(p.commercial.ratio) if p.commercial else 0 for p in people]),
        com_cap=col([p.commercial.cap if p.commercial else 0 for p in people]),
        com_covers=col(
            [
                (COVERS_IN_SCOPE if p.commercial.in_scope else 0)
                | (COVERS_LISTED if p.commercial.listed else 0)
                if p.commercial
                else 0
                for p in people
            ]
        ),
    )


def assert_equal(expected: Settled, columns: dict[str, np.ndarray], i: int, where: str) -> None:
    """Every amount of the reference equals the kernel's column at claim ``i``, to the fen; the
    kernel's tier columns it did not fill are 0."""
    names = set(expected.amounts) | {k for k in columns if k.startswith(("maf_pay:", "ma_base:"))}
    got = {k: int(columns[k][i]) if k in columns else 0 for k in names}
    want = {k: expected.amounts.get(k, 0) for k in names}
    diff = {k: (want[k], got[k]) for k in names if want[k] != got[k]}
    assert not diff, f"{where}, claim {i}: (reference, kernel) {diff}"


def reference(variant: int, people: list[Person], per_person: list[list[Claim]]) -> list[Settled]:
    return [
        s
        for p, rows in zip(people, per_person, strict=True)
        for s in reference_settle(policy(variant), p, rows)
    ]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(batches())
def test_one_batch_equals_the_reference(batch: Batch) -> None:
    variant, people, per_person = batch
    rows = [c for mine in per_person for c in mine]
    owner = [p for p, mine in enumerate(per_person) for _ in mine]
    t = tables(variant)
    result = settle_claims(t, kernel_claims(rows, owner, t.chronic_codes), kernel_persons(people))
    for i, expected in enumerate(reference(variant, people, per_person)):
        assert_equal(expected, result.columns, i, f"variant {variant}, batch")
        for layer in expected.capped:  # --hypothesis-show-statistics: how often each cap cuts
            event(f"variant {variant}: cap of {layer} reached")


@settings(max_examples=120, derandomize=True, deadline=None)
@given(batches())
def test_one_claim_per_call_online_equals_the_reference(batch: Batch) -> None:
    """Round r settles each person's r-th claim, the persons coalesced into one call
    (``settle_many``), each with the state the person's previous call returned."""
    variant, people, per_person = batch
    expected = [
        reference_settle(policy(variant), p, rows)
        for p, rows in zip(people, per_person, strict=True)
    ]
    states: dict[int, Any] = {}
    for r in range(max(len(rows) for rows in per_person)):
        who = [p for p, rows in enumerate(per_person) if r < len(rows)]
        requests = [
            Request.of(
                kernel_claims([per_person[p][r]], [0], tables(variant).chronic_codes),
                kernel_persons([people[p]]),
                states.get(p),
            )
            for p in who
        ]
        for p, result in zip(who, settle_many(tables(variant), requests), strict=True):
            states[p] = result.state
            assert_equal(
                expected[p][r], result.columns, 0, f"variant {variant}, person {p}, round {r}"
            )


def test_the_generated_layers_reach_every_cap() -> None:
    """One year of the mid-year variant in which every capped layer is cut by its cap (so the
    equality above covers the caps): the kernel equals the reference on it."""
    variant = 1
    big = [
        Claim(dt.date(YEAR, m, 1), "inpatient", 3, "none", 5_000_000, category_b=1_000_000)
        for m in (2, 5, 8, 11)
    ]
    outpatient = [Claim(dt.date(YEAR, m, 15), "outpatient", 1, "referred", 300_000) for m in (3, 9)]
    outpatient += [
        Claim(dt.date(YEAR, m, 20), "chronic", 2, "none", 200_000, disease=d)
        for m, d in ((1, "I10"), (4, "I10"), (6, None), (7, "K74"), (10, "I10"), (12, "N18"))
    ]
    people = [
        Person("resident", "tekun", account_balance=100_000),
        Person("employee", None, account_balance=200_000, mutual_aid_balance=50_000),
        Person("resident", "low_income_edge"),
        Person(
            "employee",
            None,
            commercial=Product(20_000, Decimal("0.8"), 5_000_000, in_scope=True, listed=True),
        ),
    ]
    per_person = [sorted(big + outpatient, key=lambda c: c.date)] * len(people)
    settled = reference(variant, people, per_person)
    capped = {layer for s in settled for layer in s.capped}
    every = {"basic", "ci", "la", "ma:0", "ma:1", "chronic", "not_certified", "commercial"}
    assert capped >= every, capped
    rows = [c for mine in per_person for c in mine]
    owner = [p for p, mine in enumerate(per_person) for _ in mine]
    t = tables(variant)
    result = settle_claims(t, kernel_claims(rows, owner, t.chronic_codes), kernel_persons(people))
    for i, expected in enumerate(settled):
        assert_equal(expected, result.columns, i, "every cap")


def test_the_reference_by_hand() -> None:
    """The reference itself against hand computations on the national defaults of 2025 (the
    cases of tests/test_rules_settlement.py, yuan)."""

    def one(person: Person, total: int, category_b: int = 0) -> dict[str, int]:
        claim = Claim(dt.date(YEAR, 5, 1), "inpatient", 3, "none", total, category_b=category_b)
        (settled,) = reference_settle(policy(0), person, [claim])
        return settled.amounts

    # scope 300000 - 1000; basic (299000 - 800) x 0.6 = 178920; owed 120080; (- 20657) x 0.6
    s = one(Person("resident"), 30_000_000, category_b=1_000_000)
    assert (s["inscp_scp_amt"], s["hifp_pay"], s["hifmi_pay"]) == (
        29_900_000,
        17_892_000,
        5_965_380,
    )
    # basic cap 6 x 124110 = 744660 reached at cost 800 + 744660 / 0.8 = 931625: 68375 beyond
    s = one(Person("employee"), 100_000_000)
    assert (s["hifp_pay"], s["la_base"], s["hifob_pay"]) == (74_466_000, 6_837_500, 6_153_750)
    # dibao: half deductible 10328.50, ratio 0.65, no cap; assistance 70%, limited to 50000
    s = one(Person("resident", "dibao"), 100_000_000)
    assert (s["hifmi_pay"], s["maf_pay"]) == (48_216_188, 5_000_000)
