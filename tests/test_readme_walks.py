"""The README's two walks (in full in docs/walkthrough.md), run as written, with their figures
worked out by hand from the parameters (360100 inherits every benefit parameter from the
national defaults, ``policy/regions/000000.yaml``):

- the command line: an employee paid three months on 8000 yuan and settles 12000.00 yuan
  inpatient at a level-2 hospital: deductible 500.00, basic fund 9775.00, personal account
  480.00, cash 1745.00;
- the API: 1101 then 2207 for a resident at the demo institution (level 2): 20000.00 yuan of
  which 1000.00 fully self-paid: basic fund 13950.00, the person 6050.00; through the
  settlement fast path and through the route.

Each expected figure is computed here from the parameters (read with ``Policy.get`` and checked
against the value the computation writes down), never taken from another output of the code.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403  (fixtures: api, db_url, engine, uow)
from tests.api_support import PATHS, TX, Api, Inst, fast_path_settled, route_only
from tests.store_support import nid
from yibao.cli import app
from yibao.policy import Policy, fen_to_yuan
from yibao.services import contributions, enrolment, registry
from yibao.store.uow import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
README, WALKTHROUGH = ROOT / "README.md", ROOT / "docs" / "walkthrough.md"
AREA = "360100"
ON = dt.date(2025, 6, 1)
P = Policy(AREA)


def param(path: str) -> Any:
    return P.get(path, ON)


def shown_in(doc: Path, *figures: str) -> None:
    """The figures the test proves are the ones the document shows."""
    text = doc.read_text(encoding="utf-8")
    missing = [f for f in figures if f not in text]
    assert not missing, f"{doc.name} no longer shows {missing}: update the walk and this test"


# ------------------------------------------------------------------------ the command line

PERSON = "36010219850312001X"
runner = CliRunner()


def yibao(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_the_command_line_walk(db_url: str) -> None:
    # By hand, employee inpatient at level 2 (benefits.employee.inpatient.basic):
    deductible = param("benefits.employee.inpatient.basic.deductible.level2")
    ratio = param("benefits.employee.inpatient.basic.ratio.level2")
    cap = param("benefits.employee.inpatient.basic.annual_cap")
    share = param("employee.personal_account.in_service_share")
    assert (deductible, ratio, share) == (500_00, Decimal("0.85"), Decimal("0.02"))
    assert cap == 6 * 124_110_00  # 6 x the 2024 average wage: 744660.00, far from reached
    total = 12_000_00
    basic = int((total - deductible) * ratio)  # (12000 - 500) x 85% = 9775.00
    account = 3 * int(8_000_00 * share)  # 3 months x 8000 x 2% = 480.00 in the account
    own = total - basic  # 2225.00 the person's part, the account pays first
    cash = own - account  # 1745.00
    assert (basic, account, cash) == (9_775_00, 480_00, 1_745_00)
    for doc in (README, WALKTHROUGH):
        shown_in(doc, '"act_pay_dedc": "500.00"', '"hifp_pay": "9775.00"', '"acct_pay": "480.00"')
        shown_in(doc, '"psn_cash_pay": "1745.00"')

    db = ["--db", db_url]
    yibao("db", "upgrade", *db)
    yibao("person", "add", PERSON, "张三", "--household", "H1", *db)
    yibao("enrol", PERSON, "--kind", "employer", "--area", AREA, "--on", "2025-01-01",
          "--employer", "91360100MA35000001", *db)  # fmt: skip
    for m in ("2025-01", "2025-02", "2025-03"):
        yibao("pay", PERSON, "--kind", "employee", "--period", m, "--wage", "8000",
              "--on", f"{m}-20", *db)  # fmt: skip
    first = json.loads(
        yibao("settle", "--person", PERSON, "--date", "2025-06-01", "--med-type", "inpatient",
              "--level", "2", "--total", "12000", *db, "--json")
    )  # fmt: skip
    assert {k: first[k] for k in AMOUNTS} == {
        "medfee_sumamt": "12000.00",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        "inscp_scp_amt": "12000.00",  # nothing outside the policy scope
        "act_pay_dedc": fen_to_yuan(deductible),
        "hifp_pay": fen_to_yuan(basic),
        "hifmi_pay": "0.00",  # critical illness insurance is the residents'
        "hifob_pay": "0.00",  # large-amount: the basic cap is not reached
        "maf_pay": "0.00",  # no assistance class
        "fund_pay_sumamt": fen_to_yuan(basic),
        "psn_part_amt": fen_to_yuan(own),
        "acct_pay": fen_to_yuan(account),
        "acct_mulaid_pay": "0.00",
        "psn_cash_pay": fen_to_yuan(cash),
    }

    # The second claim of the walk, outpatient at level 1 (benefits.employee.outpatient.basic):
    # (800 - 300 annual deductible) x 65% = 325.00; the account is empty: 475.00 in cash.
    out_deductible = param("benefits.employee.outpatient.basic.annual_deductible")
    out_ratio = param("benefits.employee.outpatient.basic.ratio.level1")
    assert (out_deductible, out_ratio) == (300_00, Decimal("0.65"))
    out_basic = int((800_00 - out_deductible) * out_ratio)
    second = json.loads(
        yibao("settle", "--person", PERSON, "--date", "2025-07-01", "--med-type", "outpatient",
              "--level", "1", "--total", "800", *db, "--json")
    )  # fmt: skip
    assert (second["act_pay_dedc"], second["hifp_pay"], second["acct_pay"]) == (
        "300.00",
        fen_to_yuan(out_basic),
        "0.00",
    )
    assert second["psn_cash_pay"] == fen_to_yuan(800_00 - out_basic) == "475.00"

    yibao("reverse", first["setl_id"], "--on", "2025-07-02", *db)
    yibao("year-end", "2025", *db)
    yibao("year-end", "2025", *db)  # safe to run twice
    check = json.loads(yibao("ledger", "check", *db, "--json"))
    assert check["ok"], check
    # After the reversal the account holds its 480.00 again (the outpatient claim took none).
    funds = json.loads(yibao("funds", "report", "--area", AREA, *db, "--json"))
    assert funds["personal_accounts"] == {"count": 1, "total": fen_to_yuan(account)}


AMOUNTS = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
    "act_pay_dedc", "hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "fund_pay_sumamt",
    "psn_part_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay",
)  # fmt: skip


# ----------------------------------------------------------------------------------- the API

INSTITUTION = "H36010000001"  # the demo institution: level 2, area 360100


def demo_resident(uow: UnitOfWork) -> int:
    """A resident of 360100 as the demo picks one: an adult, enrolled, paid for 2025 on
    2024-11-01 and so entitled from 2025-04-01 (3 months' wait), no assistance class."""
    p = registry.add_person(uow, nid(2, dt.date(1940, 3, 1), AREA), "李某", region=AREA)
    enrolment.enrol(uow, p.label, "resident", AREA, dt.date(2018, 11, 8))
    contributions.pay_resident(uow, p.label, 2025, dt.date(2024, 11, 1))
    assert p.id is not None
    return p.id


def body(infno: str, psn_no: int, data: dict[str, Any]) -> bytes:
    """The README's request body (``data/demo/<infno>.json``) for person ``psn_no``."""
    return orjson.dumps(
        {
            "infno": infno,
            "msgid": f"demo-{infno}-1",
            "fixmedins_code": INSTITUTION,
            "opter": "demo-clerk",
            "inf_time": "2025-06-01 10:00:00",
            "input": {"psn_no": str(psn_no), "date": "2025-06-01", **data},
        }
    )


def send(api: Api, inst: Inst, raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The answer to a signed request, and its bytes."""
    r = api.client.post(TX, content=raw, headers=api.signed(inst, TX, raw))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert out["infcode"] == 0, out
    return out, r.content


@pytest.mark.parametrize("path", PATHS)
def test_the_api_walk(api: Api, uow: UnitOfWork, path: str) -> None:
    # By hand, resident inpatient at level 2 (benefits.resident.inpatient.basic):
    deductible = param("benefits.resident.inpatient.basic.deductible.level2")
    ratio = param("benefits.resident.inpatient.basic.ratio.level2")
    cap = param("benefits.resident.inpatient.basic.annual_cap")
    income = param("economy.resident_disposable_income")  # 2024: 41314.00
    ci_deductible = param("critical_illness.deductible")
    assert (deductible, ratio, income) == (400_00, Decimal("0.75"), 41_314_00)
    assert cap == 6 * income == 247_884_00  # annual_cap: 6 x disposable income
    assert ci_deductible == income // 2 == 20_657_00  # critical illness: 0.5 x income
    total, self_paid = 20_000_00, 1_000_00
    scope = total - self_paid  # 19000.00 within the policy scope
    basic = int((scope - deductible) * ratio)  # (19000 - 400) x 75% = 13950.00
    own = total - basic  # 6050.00, all in cash: a resident has no personal account
    ci_base = scope - basic  # 5050.00 still owed in scope, below the 20657.00 deductible
    assert (basic, own, ci_base) == (13_950_00, 6_050_00, 5_050_00)
    assert ci_base < ci_deductible
    shown_in(README, '"hifp_pay": "13950.00"', '"psn_part_amt": "6050.00"')
    shown_in(WALKTHROUGH, '"hifp_pay": "13950.00"', '"psn_part_amt": "6050.00"')
    shown_in(WALKTHROUGH, '"annual_cap": "247884.00"', '"base": "5050.00"')

    psn_no = demo_resident(uow)
    inst = api.institution(INSTITUTION, level=2)
    client = api if path == "fast path" else route_only(api)

    # 1101: the person and their coverage
    info = send(client, inst, body("1101", psn_no, {}))[0]["output"]
    assert info["covered_on_date"] is True and info["in_waiting_period"] is False
    assert info["entitled_from"] == "2025-04-01"  # paid 2024-11-01: 3 months from 1 January
    assert [(i["insutype"], i["begndate"]) for i in info["insuinfo"]] == [
        ("resident", "2018-11-08")
    ]
    basic_cap = next(c for c in info["caps"] if c["fund"] == "basic")
    assert (basic_cap["annual_cap"], basic_cap["used"], basic_cap["remaining"]) == (
        fen_to_yuan(cap),
        "0.00",
        fen_to_yuan(cap),
    )

    # 2207: settle the inpatient claim
    taken = fast_path_settled(client)
    claim = {"med_type": "inpatient", "total": "20000.00", "fully_self_paid": "1000.00",
             "over_limit": "0.00", "category_b": "0.00"}  # fmt: skip
    raw = body("2207", psn_no, claim)
    answer, sent = send(client, inst, raw)
    assert fast_path_settled(client) == taken + (1 if path == "fast path" else 0)
    out = answer["output"]
    assert answer["inf_refmsgid"] == "demo-2207-1"
    assert (out["level"], out["scheme"], out["cross_region"], out["admission_no"]) == (
        2, "resident", "none", 1,
    )  # fmt: skip
    assert {k: out[k] for k in AMOUNTS} == {
        "medfee_sumamt": "20000.00",
        "fulamt_ownpay_amt": "1000.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00",
        "inscp_scp_amt": fen_to_yuan(scope),
        "act_pay_dedc": fen_to_yuan(deductible),
        "hifp_pay": fen_to_yuan(basic),
        "hifmi_pay": "0.00",  # ci_base is below the critical illness deductible
        "hifob_pay": "0.00",  # large-amount is the employees'
        "maf_pay": "0.00",  # not an aid recipient
        "fund_pay_sumamt": fen_to_yuan(basic),
        "psn_part_amt": fen_to_yuan(own),
        "acct_pay": "0.00",
        "acct_mulaid_pay": "0.00",
        "psn_cash_pay": fen_to_yuan(own),
    }
    assert [(d["fund_pay_type"], d["base"], d["fund_payamt"]) for d in out["setldetail"]] == [
        ("390100", fen_to_yuan(scope), fen_to_yuan(basic)),
        ("390200", fen_to_yuan(ci_base), "0.00"),
    ]
    assert out["reasons"] == [
        "critical illness: year-to-date base below its deductible",
        "medical assistance: not an aid recipient",
    ]
    assert (out["entitled_from"], out["incentive_raise"], out["acct_balance_after"]) == (
        "2025-04-01", "0.00", "0.00",
    )  # fmt: skip
    # the same msgid again: the same answer, byte for byte
    assert send(client, inst, raw)[1] == sent
