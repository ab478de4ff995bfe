"""Supplementary commercial insurance (惠民保) as a layer of one-stop settlement: the
calculator's hand-computed table (its deductible, ratio and cap over the year, the in-scope
remainder and listed self-paid items), the identity with it, no product paying nothing, and bad
products refused."""

from __future__ import annotations

from typing import Any

import pytest

from yibao.calc.scenario import ScenarioError
from yibao.calc.settle import settle_scenario

#: A resident (national: level 2 inpatient deductible 400, 75 %; critical illness from 50 % of
#: last year's per-capita disposable income), no account.
PERSON: dict[str, Any] = {"scheme": "resident"}
PRODUCT = {"deductible": 1000, "ratio": 0.8, "cap": 3000, "covers": ["in_scope", "listed"]}


def scenario(person: dict[str, Any], claims: list[dict[str, Any]]) -> dict[str, Any]:
    return {"region": "000000", "person": person, "claims": claims}


def claim(on: str, total: int, fully: int = 0, listed: int = 0) -> dict[str, Any]:
    return {
        "date": on,
        "med_type": "inpatient",
        "level": 2,
        "total": total,
        "fully_self_paid": fully,
        "listed_self_paid": listed,
    }


def amounts(out: dict[str, Any], *names: str) -> list[tuple[str, ...]]:
    return [tuple(s[n] for n in names) for s in out["settlements"]]


def test_commercial_layer_by_hand() -> None:
    claims = [claim("2025-03-01", 4400, fully=500, listed=300), claim("2025-06-01", 6400)]
    out = settle_scenario(scenario({**PERSON, "commercial": PRODUCT}, claims))
    # claim 1: in scope 3900; basic (3900 − 400) × 75 % = 2625; critical illness: below its
    # deductible; owed in scope 3900 − 2625 = 1275, plus the listed self-paid 300 = 1575;
    # the product's deductible 1000 first: (1575 − 1000) × 80 % = 460
    # claim 2, the second admission (half the deductible): basic (6400 − 200) × 75 % = 4650;
    # owed 1750, all above the product's deductible: 1750 × 80 % = 1400, within its cap of 3000
    assert amounts(out, "hifp_pay", "commercial_pay", "psn_cash_pay") == [
        ("2625.00", "460.00", "1315.00"),  # 4400 − 2625 − 460
        ("4650.00", "1400.00", "350.00"),  # 6400 − 4650 − 1400
    ]
    for s in out["settlements"]:  # total = funds + commercial + account + mutual aid + cash
        parts = ("fund_pay_sumamt", "commercial_pay", "acct_pay", "acct_mulaid_pay")
        paid = sum(float(s[k]) for k in (*parts, "psn_cash_pay"))
        assert round(paid, 2) == float(s["medfee_sumamt"])
        assert s["psn_part_amt"] == f"{float(s['medfee_sumamt']) - float(s['fund_pay_sumamt']):.2f}"


def test_the_cap_and_what_the_product_covers() -> None:
    only_scope = {**PRODUCT, "deductible": 0, "cap": 1000, "covers": ["in_scope"]}
    claims = [claim("2025-03-01", 4400, fully=500, listed=300), claim("2025-06-01", 6400)]
    out = settle_scenario(scenario({**PERSON, "commercial": only_scope}, claims))
    # claim 1: 1275 × 80 % = 1020, cut to the cap of 1000; claim 2: the cap is reached
    assert amounts(out, "commercial_pay") == [("1000.00",), ("0.00",)]
    only_listed = {**PRODUCT, "deductible": 0, "ratio": 1, "covers": ["listed"]}
    out = settle_scenario(scenario({**PERSON, "commercial": only_listed}, claims))
    assert amounts(out, "commercial_pay") == [("300.00",), ("0.00",)]


def test_no_product_pays_nothing_and_answers_as_before() -> None:
    out = settle_scenario(scenario(PERSON, [claim("2025-03-01", 4400)]))
    assert "commercial_pay" not in out["settlements"][0]
    assert out["settlements"][0]["psn_cash_pay"] == "1400.00"  # 4400 − (4400 − 400) × 75 %


def test_waiting_period_product_pays_nothing() -> None:
    person = {**PERSON, "commercial": PRODUCT, "entitled_from": "2025-04-01"}
    out = settle_scenario(scenario(person, [claim("2025-03-01", 4400, fully=500, listed=300)]))
    assert amounts(out, "commercial_pay", "psn_cash_pay") == [("0.00", "4400.00")]


@pytest.mark.parametrize(
    ("product", "message"),
    [
        ({**PRODUCT, "cap": 0}, "person.commercial.cap: must be above 0"),
        ({**PRODUCT, "ratio": 1.5}, "person.commercial.ratio: must be a rate between 0 and 1"),
        ({**PRODUCT, "ratio": "lots"}, "person.commercial.ratio: must be a rate"),
        ({**PRODUCT, "covers": ["dental"]}, "person.commercial.covers: must list in_scope"),
        ({**PRODUCT, "covers": []}, "person.commercial.covers: must list in_scope"),
        ({**PRODUCT, "deductible": -1}, "person.commercial.deductible: must not be negative"),
        ({**PRODUCT, "price": 99}, "person.commercial.price: unknown field"),
        ("gold", "person.commercial: 'gold' is not a product of region 000000 for 2025"),
        (7, "person.commercial: must be a mapping"),
    ],
)
def test_bad_products_refused(product: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        settle_scenario(scenario({**PERSON, "commercial": product}, [claim("2025-03-01", 100)]))


def test_listed_beyond_the_self_paid_refused() -> None:
    with pytest.raises(ScenarioError, match=r"claims\[0\].listed_self_paid: is larger than"):
        settle_scenario(scenario(PERSON, [claim("2025-03-01", 1000, fully=100, listed=200)]))


def test_a_product_of_the_region_by_its_code() -> None:
    """``person.commercial: CODE`` takes the product's terms from the region's list for the
    claims' year: the same answer as the terms given as a mapping."""
    sold = {
        "commercial": {
            "products": {
                "T1": {
                    **PRODUCT,
                    "insurer": "INS-A",
                    "sale_from": "11-01",
                    "sale_to": "03-31",
                }
            }
        }
    }
    claims = [claim("2025-03-01", 4400, fully=500, listed=300), claim("2025-06-01", 6400)]
    by_code = settle_scenario({**scenario({**PERSON, "commercial": "T1"}, claims), "policy": sold})
    assert amounts(by_code, "commercial_pay") == [("460.00",), ("1400.00",)]  # as by hand above
    with pytest.raises(ScenarioError, match=r"person\.commercial: 'GOLD' is not a product"):
        settle_scenario({**scenario({**PERSON, "commercial": "GOLD"}, claims), "policy": sold})
    shipped = settle_scenario(scenario({**PERSON, "commercial": "HMB-DEMO"}, claims))
    assert amounts(shipped, "commercial_pay") == [("0.00",), ("0.00",)]  # below 20000 deductible
