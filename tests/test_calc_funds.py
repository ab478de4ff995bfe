"""``yibao calc funds`` (back-office.md section 2): hand-computed draws below, at and onto the
pause line, a paused fund, pro-rata gaps, each warning; bad scenarios exit 2 with one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from yibao.cli import app

# Line: 10% of 2,000,000 = 200,000 yuan. Draws: 5% of each income.
#   A 340100: income 1,000,000 → draw 50,000; 250,000 ÷ (1,200,000 ÷ 12) = 2.5 months, critical
#   B 340200: income   600,000 → draw 30,000; 300,000 ÷ (600,000 ÷ 12) = 6.0 months, normal
#   C 340300: income   400,000 → draw 20,000; 500,000 ÷ (240,000 ÷ 12) = 25.0 months, surplus
#   D 340400: income         0 → draw      0;  30,000 ÷ (120,000 ÷ 12) = 3.0 months, low
BASE: dict[str, Any] = {
    "region": "340000",
    "year": 2025,
    "scheme": "resident",
    "province_income_last_year": 2_000_000,
    "adjustment_balance": 50_000,
    "areas": [
        {
            "code": "340100",
            "income_last_year": 1_000_000,
            "expenditure_last_year": 1_200_000,
            "balance": 250_000,
            "gap": 0,
        },
        {
            "code": "340200",
            "income_last_year": 600_000,
            "expenditure_last_year": 600_000,
            "balance": 300_000,
            "gap": 0,
        },
        {
            "code": "340300",
            "income_last_year": 400_000,
            "expenditure_last_year": 240_000,
            "balance": 500_000,
            "gap": 0,
        },
        {
            "code": "340400",
            "income_last_year": 0,
            "expenditure_last_year": 120_000,
            "balance": 30_000,
        },
    ],
}


def scenario(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    gaps = changes.pop("gaps", None)
    doc.update(changes)
    for area, gap in zip(doc["areas"], gaps or (), strict=False):
        area["gap"] = gap
    return doc


def run(doc: Any, tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / "funds.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True))
    result = CliRunner().invoke(app, ["calc", "funds", str(path)])
    return result.exit_code, result.stdout, result.stderr


def answer(doc: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    code, out, err = run(doc, tmp_path)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def column(result: dict[str, Any], name: str) -> list[Any]:
    return [a[name] for a in result["areas"]]


def test_the_specifications_example(tmp_path: Path) -> None:
    # 7e9 ÷ (8.4e9 ÷ 12) = 10.0 months; draw 5% of 9e9 = 4.5e8; 3e9 + 4.5e8 below the line 5e9
    doc = {
        "region": "340000",
        "year": 2025,
        "scheme": "resident",
        "province_income_last_year": 50000000000,
        "adjustment_balance": 3000000000,
        "areas": [
            {
                "code": "340100",
                "income_last_year": 9000000000,
                "expenditure_last_year": 8400000000,
                "balance": 7000000000,
                "gap": 0,
            }
        ],
    }
    assert answer(doc, tmp_path) == {
        "areas": [
            {
                "code": "340100",
                "reserve_months": "10.0",
                "warning": "normal",
                "draw": "450000000.00",
                "gap_from_adjustment": "0.00",
                "gap_from_balance": "0.00",
            }
        ],
        "adjustment_balance_after": "3450000000.00",
        "paused": False,
    }


def test_warnings_at_each_threshold(tmp_path: Path) -> None:
    r = answer(scenario(), tmp_path)
    assert column(r, "reserve_months") == ["2.5", "6.0", "25.0", "3.0"]
    assert column(r, "warning") == ["critical", "normal", "surplus", "low"]


def test_draws_below_the_line(tmp_path: Path) -> None:
    r = answer(scenario(), tmp_path)  # 50,000 + 100,000 = 150,000 < 200,000
    assert column(r, "draw") == ["50000.00", "30000.00", "20000.00", "0.00"]
    assert (r["adjustment_balance_after"], r["paused"]) == ("150000.00", False)


def test_draws_exactly_at_the_line(tmp_path: Path) -> None:
    r = answer(scenario(adjustment_balance=100_000), tmp_path)  # 100,000 + 100,000 = the line
    assert column(r, "draw") == ["50000.00", "30000.00", "20000.00", "0.00"]
    assert (r["adjustment_balance_after"], r["paused"]) == ("200000.00", True)


def test_draws_scaled_onto_the_line(tmp_path: Path) -> None:
    # room 200,000 − 130,000.01 = 69,999.99 of 100,000: every area pays 0.6999999 of its draw.
    # A 34,999.995 → 35,000.00; B 20,999.997 → 21,000.00; C 13,999.998 → 14,000.00 is cut to
    # the 13,999.99 left, and the last (D, no draw) takes the remainder 0.
    r = answer(scenario(adjustment_balance="130000.01"), tmp_path)
    assert column(r, "draw") == ["35000.00", "21000.00", "13999.99", "0.00"]
    assert (r["adjustment_balance_after"], r["paused"]) == ("200000.00", True)


@pytest.mark.parametrize("balance", [200_000, 250_000])
def test_a_paused_fund_draws_nothing_but_pays_gaps(balance: int, tmp_path: Path) -> None:
    r = answer(scenario(adjustment_balance=balance, gaps=[10_000]), tmp_path)
    assert column(r, "draw") == ["0.00"] * 4
    assert column(r, "gap_from_adjustment") == ["5000.00", "0.00", "0.00", "0.00"]
    assert r["paused"] is True
    assert r["adjustment_balance_after"] == f"{balance - 5000}.00"


def test_gaps_paid_in_full(tmp_path: Path) -> None:
    # shares 0.5 × 30,000 = 15,000 and 0.5 × 20,000.01 = 10,000.005 → 10,000.01; 150,000 held
    r = answer(scenario(gaps=[30_000, "20000.01"]), tmp_path)
    assert column(r, "gap_from_adjustment") == ["15000.00", "10000.01", "0.00", "0.00"]
    assert column(r, "gap_from_balance") == ["15000.00", "10000.00", "0.00", "0.00"]
    assert r["adjustment_balance_after"] == "124999.99"  # 150,000 − 25,000.01


def test_gaps_pro_rata(tmp_path: Path) -> None:
    # 200,000 held after the draws; shares 150,000 + 100,000.50 = 250,000.50 > 200,000:
    # A 150,000 × 200,000 / 250,000.50 = 119,999.760000 → 119,999.76, B 80,000.2399 → 80,000.24,
    # the last (no gap) the remainder 0
    r = answer(scenario(adjustment_balance=100_000, gaps=[300_000, "200001.00"]), tmp_path)
    assert column(r, "gap_from_adjustment") == ["119999.76", "80000.24", "0.00", "0.00"]
    assert column(r, "gap_from_balance") == ["180000.24", "120000.76", "0.00", "0.00"]
    assert r["adjustment_balance_after"] == "0.00"


def test_nothing_spent_and_a_deficit(tmp_path: Path) -> None:
    doc = scenario()
    doc["areas"][0].update(expenditure_last_year=0)  # unbounded: null, surplus
    doc["areas"][1].update(balance="-50000")  # 穿底: −1.0 month, critical
    r = answer(doc, tmp_path)
    assert column(r, "reserve_months")[:2] == [None, "-1.0"]
    assert column(r, "warning")[:2] == ["surplus", "critical"]


def test_a_lower_draw_ratio_from_the_policy(tmp_path: Path) -> None:
    doc = scenario(policy={"funds": {"adjustment": {"draw_ratio": 0.03, "gap_share": 1}}})
    r = answer(scenario(**doc, gaps=[1000]), tmp_path)
    assert column(r, "draw") == ["30000.00", "18000.00", "12000.00", "0.00"]
    assert column(r, "gap_from_adjustment")[0] == "1000.00"


def area_change(i: int, **changes: Any) -> dict[str, Any]:
    doc = scenario()
    doc["areas"][i].update(changes)
    return doc


BAD = [
    (area_change(1, income_last_year=-5), "areas[1].income_last_year: must not be negative"),
    (area_change(0, income="5"), "areas[0].income: unknown field"),
    (area_change(0, gap=-1), "areas[0].gap: must not be negative"),
    (area_change(2, balance="1.001"), "areas[2].balance: 1.001 has more than two decimal"),
    (area_change(0, code=340100), "areas[0].code: must be a pooling area code"),
    (area_change(0, code="360100"), "areas[0].code: 360100 is not in province 340000"),
    (area_change(1, code="340100"), "areas[1].code: 340100 is listed twice"),
    (area_change(3, expenditure_last_year=None), "areas[3].expenditure_last_year: missing"),
    (area_change(0, balance="1e20"), "areas[0].balance: '1e20' is not a number"),
    (area_change(0, balance=10**14), "areas[0].balance: 100000000000000 is above"),
    (scenario(scheme="farmer"), "scheme: unknown value 'farmer'"),
    (scenario(scheme=None), "scheme: missing"),
    (scenario(colour="red"), "colour: unknown field"),
    (scenario(areas=[]), "areas: must be a non-empty list"),
    (scenario(areas={"340100": 1}), "areas: must be a non-empty list"),
    (scenario(areas=["340100"]), "areas[0]: must be a mapping"),
    (scenario(year="2025"), "year: missing or not a year"),
    (scenario(year=2001), "year: 2001-01-01 is before the parameters of region 340000"),
    (scenario(province_income_last_year=1_999_999), "province_income_last_year: is below"),
    (scenario(adjustment_balance=-1), "adjustment_balance: must not be negative"),
    (scenario(region="999999"), "region: unknown region '999999'"),
    (
        scenario(policy={"funds": {"adjustment": {"draw_ratio": 0.06}}}),
        "policy.funds.adjustment.draw_ratio: 0.06 on",
    ),
    (
        scenario(policy={"funds": {"adjustment": {"gap_share": 1.5}}}),
        "policy.funds.adjustment.gap_share",
    ),
    ("- just\n- a list\n", "scenario: must be a mapping"),
]


@pytest.mark.parametrize(("doc", "message"), BAD)
def test_a_bad_scenario_exits_2_with_one_line_naming_the_field(
    doc: Any, message: str, tmp_path: Path
) -> None:
    code, out, err = run(doc, tmp_path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {message}"), err
