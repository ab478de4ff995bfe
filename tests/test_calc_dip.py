"""``yibao calc dip`` and ``calc drg`` (back-office.md section 3): hand-computed points for each
case kind, the institution coefficient, four-place and six-place rounding half up, standards in
fen, fund due, settlements against advances; local thresholds by overlay; bad scenarios exit 2
with one line naming the field. The exact integer kernel against Python integers (hypothesis)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from yibao.cli import app
from yibao.kernel.dip import muldiv_round

# Thresholds (national): low < 0.5 × avg, high > 2 × avg, review > 5 × avg.
# G1 weight 1000, avg 10,000; G2 weight 800.5, avg 5,000; P 30 points a bed day.
# Coefficients H1 1.05, H2 0.9, H3 1.0001.
#   c1 H1 G1 cost 10,000: normal              1000 × 1.05                 = 1050.0000
#   c2 H1 G1 cost  4,000: low (< 5,000)       1000 × 4000/10000 × 1.05    =  420.0000
#   c3 H2 G1 cost 30,000: high (> 20,000)     1000 × (3 − 2 + 1) × 0.9    = 1800.0000
#   c4 H2 G1 cost 60,000: high, review (> 50,000) 1000 × (6 − 2 + 1) × 0.9 = 4500.0000
#   c5 H2 P 40 days:      per_diem            30 × 40 × 0.9               = 1080.0000
#   c6 H1 G2 cost 2,500:  normal (= 0.5 × avg is not below it) 800.5 × 1.05 = 840.5250
#   c7 H3 G2 cost 5,000:  normal              800.5 × 1.0001 = 800.58005 → 800.5801 (half up)
# Total 10491.1051 points. Point value = 800,000 ÷ 0.8 ÷ 10491.1051 = 95.3188430073… → 95.318843.
# Standards (fen half up), fund due = standard − patient paid:
#   c1 1050 × 95.318843 = 100084.78515 → 100084.79 − 2000 =  98084.79
#   c2  420 × …         =  40033.91406 →  40033.91 − 1000 =  39033.91
#   c3 1800 × …         = 171573.9174  → 171573.92 − 5000 = 166573.92
#   c4 4500 × …         = 428934.7935  → 428934.79 − 10000 = 418934.79
#   c5 1080 × …         = 102944.35044 → 102944.35 − 3000 =  99944.35
#   c6 840.525 × …      =  80117.8675… →  80117.87 − 100  =  80017.87
#   c7 800.5801 × …     =  76310.3718… →  76310.37 − 0    =  76310.37
# Institutions: H1 2310.5250 points, 220236.57, fund due 217136.57, advanced 200,000 → 17136.57;
#   H2 7380.0000, 703453.06, 685453.06, advanced 700,000 → −14546.94 (pays back);
#   H3 800.5801, 76310.37, 76310.37, advanced 0 → 76310.37.
BASE: dict[str, Any] = {
    "region": "000000",
    "year": 2025,
    "fund_available": 800000,
    "reimbursement_ratio": 0.8,
    "groups": [
        {"code": "G1", "weight": 1000, "avg_cost": 10000},
        {"code": "G2", "weight": "800.5", "avg_cost": 5000},
        {"code": "P", "per_day": 30},
    ],
    "institutions": [
        {"code": "H1", "coefficient": 1.05, "advanced": 200000},
        {"code": "H2", "coefficient": 0.9, "advanced": 700000},
        {"code": "H3", "coefficient": "1.0001"},
    ],
    "cases": [
        {"id": "c1", "institution": "H1", "group": "G1", "cost": 10000, "patient_paid": 2000},
        {"id": "c2", "institution": "H1", "group": "G1", "cost": 4000, "patient_paid": 1000},
        {"id": "c3", "institution": "H2", "group": "G1", "cost": 30000, "patient_paid": 5000},
        {"id": "c4", "institution": "H2", "group": "G1", "cost": 60000, "patient_paid": 10000},
        {
            "id": "c5",
            "institution": "H2",
            "group": "P",
            "days": 40,
            "cost": 12000,
            "patient_paid": 3000,
        },
        {"id": "c6", "institution": "H1", "group": "G2", "cost": 2500, "patient_paid": 100},
        {"id": "c7", "institution": "H3", "group": "G2", "cost": 5000},
    ],
}


def run(doc: Any, tmp_path: Path, method: str = "dip") -> tuple[int, str, str]:
    path = tmp_path / "dip.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True))
    result = CliRunner().invoke(app, ["calc", method, str(path)])
    return result.exit_code, result.stdout, result.stderr


def answer(doc: dict[str, Any], tmp_path: Path, method: str = "dip") -> dict[str, Any]:
    code, out, err = run(doc, tmp_path, method)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def scenario(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc.update(changes)
    return doc


def test_each_case_kind_pointed_and_settled_as_computed_by_hand(tmp_path: Path) -> None:
    got = answer(scenario(), tmp_path)
    assert got["point_value"] == "95.318843"
    assert got["total_points"] == "10491.1051"
    cases = {c["id"]: c for c in got["cases"]}
    expected = {
        "c1": ("normal", False, "1050.0000", "100084.79", "98084.79"),
        "c2": ("low", False, "420.0000", "40033.91", "39033.91"),
        "c3": ("high", False, "1800.0000", "171573.92", "166573.92"),
        "c4": ("high", True, "4500.0000", "428934.79", "418934.79"),
        "c5": ("per_diem", False, "1080.0000", "102944.35", "99944.35"),
        "c6": ("normal", False, "840.5250", "80117.87", "80017.87"),
        "c7": ("normal", False, "800.5801", "76310.37", "76310.37"),
    }
    for cid, (kind, review, points, standard, due) in expected.items():
        c = cases[cid]
        assert (c["kind"], c["review"], c["points"], c["standard"], c["fund_due"]) == (
            kind,
            review,
            points,
            standard,
            due,
        ), cid
    institutions = {i["code"]: i for i in got["institutions"]}
    assert institutions["H1"] == {
        "code": "H1",
        "points": "2310.5250",
        "standard": "220236.57",
        "fund_due": "217136.57",
        "advanced": "200000.00",
        "settlement": "17136.57",
    }
    assert institutions["H2"]["settlement"] == "-14546.94"
    assert institutions["H2"]["points"] == "7380.0000"
    assert institutions["H3"]["settlement"] == "76310.37"


def test_fund_due_is_never_negative_and_an_overpaid_institution_pays_back(
    tmp_path: Path,
) -> None:
    # 10 yuan ÷ 1 ÷ 100 points = 0.1 yuan a point; standard 100 × 0.1 = 10.00 < 900 paid.
    doc = scenario(
        fund_available=10,
        reimbursement_ratio=1,
        groups=[{"code": "G", "weight": 100, "avg_cost": 1000}],
        institutions=[{"code": "H", "advanced": 50}],
        cases=[{"id": "a", "institution": "H", "group": "G", "cost": 1000, "patient_paid": 900}],
    )
    got = answer(doc, tmp_path)
    assert got["point_value"] == "0.100000"
    assert got["cases"][0]["standard"] == "10.00"
    assert got["cases"][0]["fund_due"] == "0.00"
    assert got["institutions"][0]["settlement"] == "-50.00"


def test_local_thresholds_by_overlay_and_drg_uses_its_own_parameters(tmp_path: Path) -> None:
    # high_outlier 3: c3 (3 × avg) is no longer above it: normal, 1000 × 0.9 = 900.0000.
    doc = scenario(policy={"provider_payment": {"dip": {"high_outlier": 3.0}}})
    cases = {c["id"]: c for c in answer(doc, tmp_path)["cases"]}
    assert (cases["c3"]["kind"], cases["c3"]["points"]) == ("normal", "900.0000")
    # c4: 1000 × (6 − 3 + 1) × 0.9 = 3600
    assert (cases["c4"]["kind"], cases["c4"]["points"]) == ("high", "3600.0000")
    # the dip overlay does not touch drg, which keeps 2.0
    drg = {c["id"]: c for c in answer(doc, tmp_path, "drg")["cases"]}
    assert drg["c3"]["points"] == "1800.0000"
    doc = scenario(policy={"provider_payment": {"drg": {"review_outlier": 7}}})
    drg = {c["id"]: c for c in answer(doc, tmp_path, "drg")["cases"]}
    assert drg["c4"]["review"] is False


def _case(**changes: Any) -> dict[str, Any]:
    doc = scenario()
    doc["cases"][0].update(changes)
    return doc


BAD: list[tuple[Any, str]] = [
    (_case(group="NOPE"), "cases[0].group: unknown group 'NOPE'"),
    (_case(cost=None), "cases[0].cost: missing"),
    (_case(institution="H9"), "cases[0].institution: unknown institution 'H9'"),
    (_case(colour="red"), "cases[0].colour: unknown field"),
    (_case(patient_paid=20000), "cases[0].patient_paid: is above the case's cost"),
    (_case(cost=-5), "cases[0].cost"),
    (_case(cost="1e400"), "cases[0].cost"),
    (scenario(extra=1), "extra: unknown field"),
    (scenario(reimbursement_ratio=0), "reimbursement_ratio: must be a positive number"),
    (scenario(reimbursement_ratio=1.5), "reimbursement_ratio: above 1"),
    (scenario(groups=[{"code": "G1", "weight": 1000}]), "groups[0].avg_cost: missing"),
    (
        scenario(groups=[{"code": "G1", "weight": "1.00001", "avg_cost": 1}]),
        "groups[0].weight: at most 4 decimal places",
    ),
    (
        scenario(groups=[{"code": "P", "per_day": 30, "avg_cost": 1}]),
        "groups[0].avg_cost: a per-diem group has per_day only",
    ),
    (
        scenario(institutions=[{"code": "H1", "coefficient": 0}]),
        "institutions[0].coefficient: must be a positive number",
    ),
    (
        scenario(cases=[{"id": "x", "institution": "H1", "group": "P", "cost": 1}]),
        "cases[0].days: must be a whole number of days",
    ),
    (scenario(cases=[]), "cases: must be a non-empty list"),
    (scenario(fund_available=None), "fund_available"),
    (scenario(year="2025"), "year: missing or not a year"),
    (scenario(region="999999"), "region: unknown region '999999'"),
    (scenario(policy={"provider_payment": {"dip": {"low_outlier": 3}}}), "policy."),
    ("- just\n- a list\n", "scenario: must be a mapping"),
]


@pytest.mark.parametrize(("doc", "message"), BAD)
def test_a_bad_scenario_exits_2_with_one_line_naming_the_field(
    doc: Any, message: str, tmp_path: Path
) -> None:
    code, out, err = run(doc, tmp_path)
    assert code == 2, out
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {message}"), err


def test_zero_total_points_is_refused(tmp_path: Path) -> None:
    # A per-diem group of 0.0001 a day and a coefficient that rounds it to 0 points.
    doc = scenario(
        groups=[{"code": "P", "per_day": "0.0001"}],
        institutions=[{"code": "H", "coefficient": "0.0001"}],
        cases=[{"id": "a", "institution": "H", "group": "P", "days": 1, "cost": 10}],
    )
    code, _, err = run(doc, tmp_path)
    assert code == 2
    assert err.startswith("error: cases: the total points are zero"), err


def test_the_shipped_example_runs(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "src/yibao/calc/examples/dip.yaml"
    result = CliRunner().invoke(app, ["calc", "dip", str(example)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["point_value"]


@given(
    st.lists(
        st.tuples(st.integers(0, 2**62), st.integers(0, 2**62), st.integers(1, 2**60)).filter(
            lambda t: t[0] * t[1] // t[2] < 2**49
        ),
        min_size=1,
        max_size=20,
    )
)
def test_muldiv_round_is_exact_half_up(rows: list[tuple[int, int, int]]) -> None:
    a = np.array([r[0] for r in rows], np.int64)
    b = np.array([r[1] for r in rows], np.int64)
    d = np.array([r[2] for r in rows], np.int64)
    expected = [(x * y * 2 + z) // (2 * z) for x, y, z in rows]
    assert muldiv_round(a, b, d).tolist() == expected
