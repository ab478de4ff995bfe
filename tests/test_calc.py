"""The calculator's contract (interfaces.md section 1): scenario in, JSON out, status 2 and one
line naming the field for a bad scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from yibao.cli import app
from yibao.policy.vocab import SETTLEMENT_FIELDS

SETTLE = {
    "region": "000000",
    "policy": {
        "benefits": {
            "resident": {
                "inpatient": {"basic": {"deductible": {"level2": 300}, "ratio": {"level2": 0.7}}}
            }
        }
    },
    "person": {
        "scheme": "resident",
        "assistance_class": None,
        "account_balance": 0,
        "use_account": True,
        "incentive_raise": 0,
    },
    "claims": [
        {
            "date": "2025-05-01",
            "med_type": "inpatient",
            "level": 2,
            "cross_region": None,
            "total": 52000,
            "fully_self_paid": 2000,
            "over_limit": 0,
            "category_b": 0,
        }
    ],
}
FIELDS = list(SETTLEMENT_FIELDS)


def run(command: str, scenario: Any, tmp_path: Path) -> tuple[int, str, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario) if not isinstance(scenario, str) else scenario)
    result = CliRunner().invoke(app, ["calc", command, str(path)])
    return result.exit_code, result.stdout, result.stderr


def test_settle_prints_every_field_as_a_two_place_decimal_string(tmp_path: Path) -> None:
    code, out, _ = run("settle", SETTLE, tmp_path)
    assert code == 0
    (s,) = json.loads(out)["settlements"]
    assert all(isinstance(s[f], str) and s[f].split(".")[1].__len__() == 2 for f in FIELDS)
    assert (s["inscp_scp_amt"], s["act_pay_dedc"], s["hifp_pay"]) == (
        "50000.00",
        "300.00",
        "34790.00",
    )
    assert s["psn_cash_pay"] == "17210.00"
    assert {"fund_pay_type", "base", "fund_payamt", "text"} <= set(s["setldetail"][0])


def test_settle_reads_standard_input_and_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "yibao.cli", "calc", "settle", "-"],
        input=json.dumps(SETTLE),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["settlements"][0]["hifp_pay"] == "34790.00"


def claim(**changes: Any) -> dict[str, Any]:
    return {**SETTLE, "claims": [{**SETTLE["claims"][0], **changes}]}


def overlay(tree: dict[str, Any]) -> dict[str, Any]:
    """SETTLE with a scenario overlay on the resident inpatient basic entry."""
    return {**SETTLE, "policy": {"benefits": {"resident": {"inpatient": {"basic": tree}}}}}


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (
            {
                **SETTLE,
                "policy": {"benefits": {"resident": {"chronic": {"basic": {"annual_cap": 9}}}}},
            },
            "policy.benefits.resident.chronic.basic.annual_cap: chronic shares cap group 'basic', "
            "whose annual cap is declared once, as benefits.resident.inpatient.basic.annual_cap",
        ),
        (
            overlay({"annual_cap": -5}),
            "policy.benefits.resident.inpatient.basic.annual_cap: must not be negative (got -5)",
        ),
        (
            overlay({"ratio": {"level2": "lots"}}),
            "policy.benefits.resident.inpatient.basic.ratio.level2: must be a number (a rate such "
            "as 0.75), not 'lots'",
        ),
        (
            overlay({"ratio": "lots"}),
            "policy.benefits.resident.inpatient.basic.ratio: must be a number",
        ),
        (
            overlay({"ratio": {"level2": 0.1234567}}),
            "policy.benefits.resident.inpatient.basic.ratio.level2: 0.1234567 has more than 6 "
            "decimal places",
        ),
        (
            overlay(
                {
                    "ratio": {
                        "level2": [
                            {"upto": 1000, "ratio": 0.5},
                            {"upto": 500, "ratio": 0.6},
                            {"ratio": 0.7},
                        ]
                    }
                }
            ),
            "policy.benefits.resident.inpatient.basic.ratio.level2[1].upto: band edges must "
            "increase",
        ),
        (
            claim(date="1990-05-01"),
            "claims[0].date: 1990-05-01 is before the parameters of region 000000 begin (",
        ),
    ],
)
def test_a_bad_overlay_exits_2_with_one_line_naming_the_field(
    tmp_path: Path, scenario: dict[str, Any], message: str
) -> None:
    code, out, err = run("settle", scenario, tmp_path)
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_setting_the_inpatient_cap_sets_its_groups_cap(tmp_path: Path) -> None:
    """Only benefits.resident.inpatient.basic.annual_cap is set: chronic care (same cap group
    `basic`) is paid up to what inpatient care left of it."""
    scenario = {
        **overlay({"annual_cap": 10000}),
        "claims": [
            {"date": "2025-03-01", "med_type": "inpatient", "level": 2, "total": 10000},
            {"date": "2025-04-01", "med_type": "chronic", "level": 2, "total": 5000},
        ],
    }
    code, out, err = run("settle", scenario, tmp_path)
    assert code == 0, err
    inpatient, chronic = json.loads(out)["settlements"]
    paid = (10000_00 - 400_00) * 75 // 100  # level-2 deductible 400, 75 %
    assert inpatient["hifp_pay"] == "7200.00" == f"{paid // 100}.00"
    # chronic: 5000 × 65 % = 3250, but only 10000 - 7200 is left of the group's cap
    assert 10000_00 - paid < 5000_00 * 65 // 100
    assert chronic["hifp_pay"] == f"{(10000_00 - paid) // 100}.00" == "2800.00"


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({**SETTLE, "claims": []}, "claims: must be a non-empty list"),
        ({k: v for k, v in SETTLE.items() if k != "person"}, "person.scheme: missing"),
        (claim(total=None), "claims[0].total: missing"),
        (claim(total=-5), "claims[0].total: must not be negative"),
        (claim(total="abc"), "claims[0].total: 'abc' is not a number"),
        (claim(total=100.001), "claims[0].total: 100.001 has more than two decimal places"),
        (
            claim(fully_self_paid=60000),
            "claims[0]: fully_self_paid + over_limit + category_b is larger than total",
        ),
        (claim(level=4), "claims[0].level: unknown institution level 4"),
        (claim(med_type="dental"), "claims[0].med_type: unknown value 'dental'"),
        (claim(date="2025-13-01"), "claims[0].date: '2025-13-01' is not an ISO date"),
        (claim(cross_region="abroad"), "claims[0].cross_region: unknown value 'abroad'"),
        ({**SETTLE, "region": "999999"}, "region: unknown region '999999'"),
        (
            {**SETTLE, "person": {"scheme": "resident", "assistance_class": "rich"}},
            "person.assistance_class: unknown value 'rich'",
        ),
        (
            {**SETTLE, "policy": {"resident": {"incentives": {"continuous": {"amount": 500}}}}},
            "policy.resident.incentives.continuous.amount: 500 on",
        ),
        (
            {
                **SETTLE,
                "claims": [SETTLE["claims"][0], {**SETTLE["claims"][0], "date": "2026-01-02"}],
            },
            "claims: claims span years [2025, 2026]",
        ),
    ],
)
def test_a_bad_scenario_exits_2_with_one_line_naming_the_field(
    tmp_path: Path, scenario: dict[str, Any], message: str
) -> None:
    code, out, err = run("settle", scenario, tmp_path)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_unreadable_scenario(tmp_path: Path) -> None:
    code, _, err = run("settle", "- just\n- a list\n", tmp_path)
    assert code == 2 and "scenario: must be a mapping" in err


def test_waiting_contract(tmp_path: Path) -> None:
    scenario = {
        "region": "000000",
        "policy": {},
        "person": {"scheme": "resident", "birth_date": "1990-04-01", "groups": []},
        "history": {2021: "insured", 2022: "lapsed", 2023: "lapsed", 2024: "lapsed"},
        "enrolment": {"date": "2025-03-10", "in_collection_period": False, "repaired_years": 0},
    }
    code, out, _ = run("waiting", scenario, tmp_path)
    assert code == 0
    result = json.loads(out)
    assert {
        k: result[k]
        for k in (
            "fixed_months",
            "variable_months",
            "repaired_months",
            "total_months",
            "benefit_start",
        )
    } == {
        "fixed_months": 3,
        "variable_months": 3,
        "repaired_months": 0,
        "total_months": 6,
        "benefit_start": "2025-09-10",
    }
    assert result["rule"]
    bad = {**scenario, "history": {2022: "maybe"}}
    code, _, err = run("waiting", bad, tmp_path)
    assert code == 2 and "history.2022: unknown value 'maybe'" in err


def test_incentives_contract(tmp_path: Path) -> None:
    scenario = {
        "region": "000000",
        "policy": {},
        "history": {
            2025: {"insured": True, "fund_paid": 0},
            2026: {"insured": True, "fund_paid": 1520.5},
        },
        "year": 2027,
    }
    code, out, _ = run("incentives", scenario, tmp_path)
    assert code == 0
    assert json.loads(out) == {
        "base_cap": "300000.00",
        "continuous_raise": "0.00",
        "zero_claim_raise": "1000.00",
        "cap": "301000.00",
        "continuous_years": 2,
    }
    code, _, err = run("incentives", {**scenario, "year": "soon"}, tmp_path)
    assert code == 2 and "year: missing or not a year" in err
