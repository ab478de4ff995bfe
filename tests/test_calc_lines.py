"""``yibao calc settle`` with a bill's lines (back-office.md §1, interfaces.md §1): the lines
settle as the pre-digested claim of their sums, each settlement lists its lines, and bad lines
exit 2 naming the line's field."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from yibao.calc.settle import settle_scenario
from yibao.cli import app

CATALOGUE = [
    {"code": "A1", "class": "A"},
    {"code": "B1", "class": "B"},
    {"code": "C1", "class": "C"},
    {"code": "STENT", "class": "B", "price_limit": 800, "max_per_stay": 3},
    {"code": "BED", "class": "A", "price_limit": 50, "max_per_day": 1},
    {"code": "FEM", "class": "A", "sex": "F"},
]
BILL: dict[str, Any] = {
    "region": "000000",
    "person": {"scheme": "resident", "sex": "F", "birth_date": "1960-03-02"},
    "catalogue": CATALOGUE,
    "claims": [
        {
            "date": "2025-05-10",
            "med_type": "inpatient",
            "level": 2,
            "lines": [
                {"code": "BED", "quantity": 1, "unit_price": 60, "date": "2025-05-08"},
                {"code": "STENT", "quantity": 1, "unit_price": 900},
                {"code": "B1", "quantity": 10, "unit_price": "12.345"},
                {"code": "C1", "quantity": 2, "unit_price": 50},
            ],
        }
    ],
}


def run(scenario: Any, tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["calc", "settle", str(path)])
    return result.exit_code, result.stdout, result.stderr


def test_a_bill_settles_from_its_lines(tmp_path: Path) -> None:
    code, out, err = run(BILL, tmp_path)
    assert code == 0, err
    (s,) = yaml.safe_load(out)["settlements"]
    # bed 60 (limit 50): 10 over; stent 900 (limit 800): 100 over, 800 category B;
    # B1 10 × 12.345 = 123.45 category B; C1 2 × 50 = 100 self-paid
    assert s["medfee_sumamt"] == "1183.45"  # 60 + 900 + 123.45 + 100
    assert s["fulamt_ownpay_amt"] == "100.00"
    assert s["overlmt_selfpay"] == "110.00"
    # category-B pre-payment 10% (000000) of 800 + 123.45 = 92.345 -> 92.35 (half up)
    assert s["preselfpay_amt"] == "92.35"
    assert s["inscp_scp_amt"] == "881.10"  # 1183.45 - 100 - 110 - 92.35
    lines = s["lines"]
    assert [x["reason"] for x in lines] == ["price_limit", "price_limit", "class_b", "class_c"]
    assert lines[1] == {
        "code": "STENT", "amount": "900.00", "fully_self_paid": "0.00",
        "over_limit": "100.00", "in_scope": "800.00", "category_b": "800.00",
        "reason": "price_limit", "reason_text": lines[1]["reason_text"],
    }  # fmt: skip
    assert "超限价" in lines[1]["reason_text"]


def test_the_shipped_catalogue_applies_without_an_inline_one(tmp_path: Path) -> None:
    bill = copy.deepcopy(BILL)
    del bill["catalogue"]
    bill["region"] = "360100"  # a city: the national shipped catalogue
    bill["claims"][0]["lines"] = [
        # 三人间 bed, class A, limit 50, one a day; 2 days on one day: one is over the maximum
        {"code": "001109000010000", "quantity": 2, "unit_price": 35},
    ]
    code, out, err = run(bill, tmp_path)
    assert code == 0, err
    (line,) = yaml.safe_load(out)["settlements"][0]["lines"]
    assert (line["fully_self_paid"], line["in_scope"], line["reason"]) == (
        "35.00", "35.00", "day_quantity",
    )  # fmt: skip


def test_bad_lines_exit_2_naming_the_field(tmp_path: Path) -> None:
    def refused(change: Any) -> str:
        bill = copy.deepcopy(BILL)
        change(bill)
        code, _, err = run(bill, tmp_path)
        assert code == 2
        return err.strip()

    claim = lambda b: b["claims"][0]  # noqa: E731
    assert refused(lambda b: claim(b)["lines"][2].update(code="NOPE")).startswith(
        "error: claims[0].lines[2].code: 'NOPE': unknown code"
    )
    assert "claims[0].total: a claim gives either lines or its amounts" in refused(
        lambda b: claim(b).update(total=100)
    )
    assert "claims[0].lines[1].quantity: must not be negative" in refused(
        lambda b: claim(b)["lines"][1].update(quantity=-1)
    )
    assert "claims[0].lines[1].quantity: must be above 0" in refused(
        lambda b: claim(b)["lines"][1].update(quantity=0)
    )
    assert "claims[0].lines[0].unit_price" in refused(
        lambda b: claim(b)["lines"][0].update(unit_price="1e9")
    )
    assert "claims[0].lines[0].date" in refused(
        lambda b: claim(b)["lines"][0].update(date="2025-06-01")
    )
    assert "catalogue[2].class: unknown class" in refused(
        lambda b: b["catalogue"][2].update({"class": "D"})
    )
    assert "person.sex: needed by claims[0].lines[0]" in refused(
        lambda b: (
            b["person"].pop("sex"),
            claim(b).update(lines=[{"code": "FEM", "quantity": 1, "unit_price": 1}]),
        )
    )
    assert "claims[0].lines[0]: quantity × unit_price is above" in refused(
        lambda b: claim(b)["lines"][0].update(quantity=100000, unit_price=999999)
    )


ITEMS = [c["code"] for c in CATALOGUE if c["code"] != "FEM"]
line_strategy = st.fixed_dictionaries(
    {
        "code": st.sampled_from(ITEMS),
        "quantity": st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(40), places=4),
        "unit_price": st.decimals(min_value=Decimal(0), max_value=Decimal(2000), places=6),
        "day": st.integers(min_value=0, max_value=3),
    }
)
claim_strategy = st.fixed_dictionaries(
    {
        "med_type": st.sampled_from(["inpatient", "outpatient", "chronic"]),
        "level": st.integers(min_value=1, max_value=3),
        "lines": st.lists(line_strategy, min_size=1, max_size=8),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claims=st.lists(claim_strategy, min_size=1, max_size=3),
    scheme=st.sampled_from(["resident", "employee", "retiree"]),
)
def test_lines_settle_as_the_claim_of_their_sums(claims: list[dict[str, Any]], scheme: str) -> None:
    bill: dict[str, Any] = {
        "region": "000000",
        "person": {"scheme": scheme, "account_balance": 500},
        "catalogue": CATALOGUE,
        "claims": [],
    }
    for i, c in enumerate(claims):
        day = 10 + 5 * i
        lines = [
            {"code": x["code"], "quantity": str(x["quantity"]), "unit_price": str(x["unit_price"]),
             "date": f"2025-03-{day - x['day']:02d}"}
            for x in c["lines"]
        ]  # fmt: skip
        bill["claims"].append(
            {"date": f"2025-03-{day:02d}", "med_type": c["med_type"], "level": c["level"],
             "lines": lines}
        )  # fmt: skip
    from_lines = settle_scenario(copy.deepcopy(bill))["settlements"]
    digested = copy.deepcopy(bill)
    del digested["catalogue"]
    for claim, settled in zip(digested["claims"], from_lines, strict=True):
        lines = settled.pop("lines")
        for x in lines:  # amount = self-paid + over limit + in scope; 0 <= category B <= scope
            amount, fsp, over, scope, cat_b = (
                Decimal(x[k])
                for k in ("amount", "fully_self_paid", "over_limit", "in_scope", "category_b")
            )
            assert amount == fsp + over + scope
            assert min(fsp, over, scope, cat_b) >= 0 and cat_b <= scope
        del claim["lines"]
        claim["total"] = str(sum(Decimal(x["amount"]) for x in lines))
        for key in ("fully_self_paid", "over_limit", "category_b"):
            claim[key] = str(sum(Decimal(x[key]) for x in lines))
    assert settle_scenario(digested)["settlements"] == from_lines


def test_the_readme_bill(tmp_path: Path) -> None:
    """``src/yibao/calc/examples/bill.yaml`` as README.md and docs/calculator.md work it out."""
    root = Path(__file__).resolve().parent.parent
    scenario = yaml.safe_load((root / "src/yibao/calc/examples/bill.yaml").read_text("utf-8"))
    (s,) = settle_scenario(scenario)["settlements"]
    # lines: 35 + 150 + 150 + 2600 + 800 + 1200 + 720 + 90 + 200 = 5945.00
    # self-paid: 2 clips above 10 a stay (2 × 60) + stockings (class C) 200 = 320.00
    # over the limit: single room 150 − 50, two days = 200.00
    # category B: 50 + 50 + 1200 + 600 + 90 = 1990.00; pre-payment 10% = 199.00
    # policy scope 5945 − 320 − 200 − 199 = 5226.00; (5226 − 400 deductible) × 75% = 3619.50
    assert {k: s[k] for k in ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
                              "preselfpay_amt", "inscp_scp_amt", "hifp_pay", "psn_cash_pay")} == {
        "medfee_sumamt": "5945.00", "fulamt_ownpay_amt": "320.00", "overlmt_selfpay": "200.00",
        "preselfpay_amt": "199.00", "inscp_scp_amt": "5226.00", "hifp_pay": "3619.50",
        "psn_cash_pay": "2325.50",
    }  # fmt: skip
    readme = (root / "README.md").read_text("utf-8")
    for figure in ("5945.00", "5226.00", "3619.50", "2325.50"):
        assert figure in readme


def test_the_category_b_share_is_the_areas(tmp_path: Path) -> None:
    # B1: 10 × 12.345 = 123.45 category B; with a 20% share (overlay) the pre-payment is
    # 24.69, with the national 10% it is 12.345 -> 12.35 (half up, once on the claim's sum)
    bill = copy.deepcopy(BILL)
    bill["claims"][0]["lines"] = [{"code": "B1", "quantity": 10, "unit_price": "12.345"}]
    assert settle_scenario(copy.deepcopy(bill))["settlements"][0]["preselfpay_amt"] == "12.35"
    bill["policy"] = {"catalog": {"category_b_prepay_ratio": 0.2}}
    (s,) = settle_scenario(bill)["settlements"]
    assert (s["preselfpay_amt"], s["inscp_scp_amt"]) == ("24.69", "98.76")  # 123.45 − 24.69
