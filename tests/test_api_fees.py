"""Fee detail lines over the transaction API (2204/2205/2402/2405/5204, settlement from lines
by 2206/2207, reversal and settling again), on SQLite and PostgreSQL: each line classified and
stored, a bad line refused naming the line and field with nothing stored, another
institution's visit refused, a bill's lines settled as the equivalent pre-digested claim."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, Inst, fast_path_settled, route_only
from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.store_support import nid
from yibao.domain.errors import InvalidField
from yibao.services import contributions, dip_year, enrolment, registry
from yibao.services.dip_group_file import parse_group_table
from yibao.store.api_models import AuditRow
from yibao.store.fee_models import FeeLineRow, VisitDiagnosisRow
from yibao.store.models import SettlementRow
from yibao.store.uow import UnitOfWork

#: The fee services read the small test catalogue (``tests.fee_support``).
pytestmark = pytest.mark.usefixtures("test_catalogue")

AREA = "360100"
EMPLOYER = "91360100MA35000001"


def employee(uow: UnitOfWork, n: int = 1) -> str:
    who = registry.add_person(uow, nid(n), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 7):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
    return who


def line(sn: str, code: str, cnt: str, pric: str, day: str = "2025-05-02") -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "med_list_codg": code,
        "cnt": cnt,
        "pric": pric,
        "fee_ocur_time": f"{day} 10:00:00",
    }


#: A bill: class A 10 × 1000.00 = 10000.00 in scope; class B 100 × 12.00 = 1200.00 against a
#: limit of 10.00: 200.00 over the limit, 1000.00 in scope and category B; class C 1 × 800.00
#: fully self-paid. Total 12000.00, fully self-paid 800.00, over limit 200.00, category B
#: 1000.00.
BILL = [
    line("1", "001101000010000", "10", "1000.00"),
    line("2", "XB01ACA001", "100", "12.00"),
    line("3", "XC03", "1", "800"),
]
DIGESTED = {
    "medfee_sumamt": "12000.00",
    "fulamt_ownpay_amt": "800.00",
    "overlmt_selfpay": "200.00",
    "category_b": "1000.00",
}
AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "acct_pay",
    "psn_cash_pay",
)


def visit(api: Api, inst: Inst, who: str, **extra: Any) -> str:
    out = api.tx(
        inst, "2201", {"certno": who, "med_type": "inpatient", "begntime": "2025-05-01", **extra}
    )
    assert out["infcode"] == 0, out
    mdtrt_id: str = out["output"]["mdtrt_id"]
    return mdtrt_id


def count_lines(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(FeeLineRow)) or 0)


def test_upload_classify_settle_reverse_settle_again(
    api: Api, uow: UnitOfWork, engine: Engine
) -> None:
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who, diseinfo=[{"diag_code": "I21.000", "maindiag_flag": "1"}])

    up = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": BILL})
    assert up["infcode"] == 0, up
    a, b, c = up["output"]["result"]
    assert (a["det_item_fee_sumamt"], a["inscp_scp_amt"], a["chrgitm_lv"], a["reason"]) == (
        "10000.00",
        "10000.00",
        "01",
        "class_a",
    )
    # class B over its limit: 100 × (12 − 10) = 200.00 over; 1000.00 in scope, category B;
    # its share of the pre-payment 1000.00 × 10% = 100.00 (informative)
    assert (b["overlmt_amt"], b["inscp_scp_amt"], b["category_b"], b["preselfpay_amt"]) == (
        "200.00",
        "1000.00",
        "1000.00",
        "100.00",
    )
    assert (b["pric_uplmt_amt"], b["selfpay_prop"], b["reason"]) == (
        "10.000000",
        "0.1",
        "price_limit",
    )
    assert (c["fulamt_ownpay_amt"], c["chrgitm_lv"], c["selfpay_prop"]) == ("800.00", "03", "1")
    assert up["output"]["fee_lines"]["det_item_fee_sumamt"] == "12000.00"

    # settled from the lines: the amounts are derived, none given
    pre = api.tx(inst, "2206", {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-03"})
    assert pre["infcode"] == 0, pre
    out = pre["output"]
    # scope 12000 − 800 − 200 − 1000 × 10% = 10900.00; (10900 − 500) × 85% = 8840.00
    assert (out["medfee_sumamt"], out["fulamt_ownpay_amt"], out["overlmt_selfpay"]) == (
        "12000.00",
        "800.00",
        "200.00",
    )
    assert (out["preselfpay_amt"], out["inscp_scp_amt"], out["hifp_pay"]) == (
        "100.00",
        "10900.00",
        "8840.00",
    )
    assert out["fee_lines"]["count"] == 3

    # the same bill pre-digested, on a visit without lines: the same amounts
    plain = visit(api, inst, who)
    same = api.tx(
        inst, "2206", {"certno": who, "mdtrt_id": plain, "date": "2025-05-03", **DIGESTED}
    )
    assert same["infcode"] == 0, same
    assert {k: same["output"][k] for k in AMOUNTS} == {k: out[k] for k in AMOUNTS}
    assert "fee_lines" not in same["output"]

    settled = api.tx(
        inst,
        "2207",
        {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-03", "medfee_sumamt": "12000.00"},
    )
    assert settled["infcode"] == 0, settled
    assert {k: settled["output"][k] for k in AMOUNTS} == {k: out[k] for k in AMOUNTS}
    setl_id = settled["output"]["setl_id"]

    # settled: no more lines, no cancellation
    refused = api.tx(
        inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [line("4", "XC03", "1", "1")]}
    )
    assert refused["infcode"] == 3002 and "reverse" in refused["err_msg"], refused
    assert api.tx(inst, "2205", {"mdtrt_id": mdtrt_id})["infcode"] == 3002

    # reversed: the lines stay; the class C line cancelled, the visit settles again without it
    # (through the route this time: the first settlement took the fast path)
    assert api.tx(inst, "2208", {"setl_id": setl_id, "date": "2025-05-04"})["infcode"] == 0
    gone = api.tx(inst, "2205", {"mdtrt_id": mdtrt_id, "feedetl_sn": ["3"]})
    assert gone["infcode"] == 0, gone
    assert gone["output"]["cancelled"] == ["3"]
    assert gone["output"]["fee_lines"]["det_item_fee_sumamt"] == "11200.00"
    again = route_only(api).tx(
        inst, "2207", {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-04"}
    )
    assert again["infcode"] == 0, again
    assert (again["output"]["medfee_sumamt"], again["output"]["fulamt_ownpay_amt"]) == (
        "11200.00",
        "0.00",
    )

    read = api.tx(inst, "5204", {"mdtrt_id": mdtrt_id})
    assert read["infcode"] == 0, read
    assert [(x["feedetl_sn"], x["status"]) for x in read["output"]["feedetail"]] == [
        ("1", "live"),
        ("2", "live"),
        ("3", "cancelled"),
    ]
    assert read["output"]["diseinfo"][0]["diag_code"] == "I21.000"


def test_bad_lines_are_refused_naming_the_line_and_nothing_is_stored(
    api: Api, uow: UnitOfWork, engine: Engine
) -> None:
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    good = line("1", "001101000010000", "1", "10")
    cases = [
        (
            line("2", "ZZ99", "1", "1"),
            "feedetail[1] (feedetl_sn 2).med_list_codg",
            "not in the catalogue",
        ),
        (
            line("2", "XE05", "1", "1"),
            "feedetail[1] (feedetl_sn 2).med_list_codg",
            "not valid on 2025-05-02",
        ),
        (line("2", "XC03", "-1", "1"), "feedetail[1] (feedetl_sn 2).cnt", ""),
        (line("2", "XC03", "0", "1"), "feedetail[1] (feedetl_sn 2).cnt", "more than 0"),
        (line("2", "XC03", "1", "99999999999"), "feedetail[1] (feedetl_sn 2).pric", "largest"),
        (line("2", "XC03", "1000000", "999999"), "(feedetl_sn 2).pric", "largest line amount"),
        (line("2", "XC03", "1", "1", day="2025-04-30"), "fee_ocur_time", "before the visit"),
        (line("2", "XC03", "1", "1", day="2099-01-01"), "fee_ocur_time", "after today"),
        (
            {**line("2", "XC03", "1", "1"), "fee_ocur_time": "2025-05-02 10:00:00junk"},
            "(feedetl_sn 2).fee_ocur_time",
            "not an ISO date or date-time",
        ),
        (
            {**line("2", "XC03", "1", "1"), "fee_ocur_time": "2025-05-02junk"},
            "(feedetl_sn 2).fee_ocur_time",
            "not an ISO date or date-time",
        ),
        (line("1", "XC03", "1", "1"), "feedetail[1] (feedetl_sn 1).feedetl_sn", "twice"),
        (
            {**line("2", "XC03", "1", "1"), "det_item_fee_sumamt": "2.00"},
            "det_item_fee_sumamt",
            "not cnt × pric",
        ),
        ({**line("2", "XC03", "1", "1"), "hosp_appr_flag": "7"}, "hosp_appr_flag", "expected"),
    ]
    for bad, field, words in cases:
        out = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [good, bad]})
        assert out["infcode"] == 1003, (bad, out)
        assert field in out["err_msg"] and words in out["err_msg"], (bad, out)
    assert count_lines(engine) == 0
    # another institution's visit, an unknown one
    theirs = api.institution("H36010002")
    assert api.tx(theirs, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [good]})["infcode"] == 2005
    assert api.tx(theirs, "2205", {"mdtrt_id": mdtrt_id})["infcode"] == 2005
    assert api.tx(theirs, "5204", {"mdtrt_id": mdtrt_id})["infcode"] == 2005
    assert api.tx(theirs, "2402", {"mdtrt_id": mdtrt_id, "dscg_way": "1"})["infcode"] == 2005
    assert api.tx(inst, "2204", {"mdtrt_id": "V-NOPE", "feedetail": [good]})["infcode"] == 3001
    assert count_lines(engine) == 0
    # a date with text after it is no date; an ISO date-time with a zone is its day
    junk = {"certno": who, "med_type": "inpatient", "begntime": "2025-05-01junk"}
    late = api.tx(inst, "2201", junk)
    assert late["infcode"] == 1003 and "begntime: " in late["err_msg"], late
    zoned = {**good, "fee_ocur_time": "2025-05-02T10:00:00+08:00"}
    # a serial used once is not used again
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [zoned]})["infcode"] == 0
    again = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [good]})
    assert again["infcode"] == 1003 and "already used" in again["err_msg"]
    assert count_lines(engine) == 1


def test_settlement_from_lines_refuses_stated_parts(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": BILL})["infcode"] == 0
    base = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-03"}
    for extra, field in (
        ({"medfee_sumamt": "11999.99"}, "medfee_sumamt"),
        ({"fulamt_ownpay_amt": "0"}, "fulamt_ownpay_amt"),
        ({"fully_self_paid": "800.00"}, "fulamt_ownpay_amt"),
        ({"category_b": "1"}, "category_b"),
    ):
        for infno in ("2206", "2207"):
            out = api.tx(inst, infno, {**base, **extra})
            assert out["infcode"] == 1003 and field in out["err_msg"], (infno, extra, out)
    # a visit without lines still needs its total
    plain = visit(api, inst, who)
    out = api.tx(inst, "2207", {"certno": who, "mdtrt_id": plain, "date": "2025-05-03"})
    assert out["infcode"] == 1003 and "medfee_sumamt" in out["err_msg"], out


def test_per_day_maximum_counts_earlier_uploads(api: Api, uow: UnitOfWork) -> None:
    """XD04: at most 2 a day. 2 on one upload, 1 more on the next the same day: the third is
    self-paid (1 × 5.00); the next day counts afresh."""
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    first = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [line("1", "XD04", "2", "5")]})
    assert first["output"]["result"][0]["fulamt_ownpay_amt"] == "0.00"
    second = api.tx(
        inst,
        "2204",
        {
            "mdtrt_id": mdtrt_id,
            "feedetail": [
                line("2", "XD04", "1", "5"),
                line("3", "XD04", "1", "5", day="2025-05-03"),
            ],
        },
    )
    a, b = second["output"]["result"]
    assert (a["fulamt_ownpay_amt"], a["reason"]) == ("5.00", "day_quantity")
    assert (b["fulamt_ownpay_amt"], b["reason"]) == ("0.00", "class_a")
    # the first line cancelled: the second is within the day's maximum again
    api.tx(inst, "2205", {"mdtrt_id": mdtrt_id, "feedetl_sn": "1"})
    read = api.tx(inst, "5204", {"mdtrt_id": mdtrt_id})["output"]["feedetail"]
    assert [(x["feedetl_sn"], x["fulamt_ownpay_amt"]) for x in read] == [
        ("1", "0.00"),
        ("2", "0.00"),
        ("3", "0.00"),
    ]


def test_discharge_and_its_cancellation(api: Api, uow: UnitOfWork, engine: Engine) -> None:
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    api.tx(
        inst,
        "2204",
        {"mdtrt_id": mdtrt_id, "feedetail": [line("1", "XC03", "1", "1", day="2025-05-05")]},
    )
    early = api.tx(inst, "2402", {"mdtrt_id": mdtrt_id, "dscg_date": "2025-05-04", "dscg_way": "1"})
    assert early["infcode"] == 1003 and "fee line 1" in early["err_msg"], early
    for bad, field in (
        ({"dscg_way": "7"}, "dscg_way"),
        ({"dscg_way": "1", "diseinfo": [{"diag_code": "XYZ"}]}, "diseinfo[0].diag_code"),
        (
            {
                "dscg_way": "1",
                "diseinfo": [
                    {"diag_code": "J18.900", "maindiag_flag": "1"},
                    {"diag_code": "I10.x00x002", "maindiag_flag": "1"},
                ],
            },
            "diseinfo[1].maindiag_flag",
        ),
        ({"dscg_way": "1", "oprninfo": [{"oprn_oprt_code": "A1"}]}, "oprninfo[0].oprn_oprt_code"),
    ):
        out = api.tx(inst, "2402", {"mdtrt_id": mdtrt_id, "dscg_date": "2025-05-06", **bad})
        assert out["infcode"] == 1003 and field in out["err_msg"], (bad, out)
    done = api.tx(
        inst,
        "2402",
        {
            "mdtrt_id": mdtrt_id,
            "dscg_date": "2025-05-06",
            "dscg_way": "5",
            "diseinfo": [
                {"diag_code": "J18.900"},
                {"diag_code": "I10.x00x002", "maindiag_flag": "1"},
            ],
            "oprninfo": [
                {"oprn_oprt_code": "36.0600x001", "oprn_date": "2025-05-03", "main_oprn_flag": "1"}
            ],
        },
    )
    assert done["infcode"] == 0, done
    o = done["output"]
    assert (o["dscg_date"], o["dscg_way"]) == ("2025-05-06", "5")
    assert [d["diag_code"] for d in o["diseinfo"]] == ["I10.x00x002", "J18.900"]  # principal first
    assert o["oprninfo"][0]["oprn_oprt_code"] == "36.0600x001"
    # after the discharge, no line dated later
    late = api.tx(
        inst,
        "2204",
        {"mdtrt_id": mdtrt_id, "feedetail": [line("2", "XC03", "1", "1", day="2025-05-07")]},
    )
    assert late["infcode"] == 1003 and "after the discharge" in late["err_msg"]
    assert api.tx(inst, "2402", {"mdtrt_id": mdtrt_id, "dscg_way": "1"})["infcode"] == 3002
    back = api.tx(inst, "2405", {"mdtrt_id": mdtrt_id})
    assert back["infcode"] == 0 and back["output"]["dscg_date"] is None, back
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(VisitDiagnosisRow)) == 2


def test_a_settled_visit_is_discharged_only_after_its_reversal(
    api_paths: Api, uow: UnitOfWork, engine: Engine
) -> None:
    """DIP/DRG pay by the discharge's diagnoses and procedures: a 2402 on a visit with a
    settlement in force is refused (as 2203 and 2405 are), audited, nothing changed; once the
    settlement is reversed (2208) the discharge is taken, the visit settles again and the DIP
    year-end groups it by what the discharge recorded. Through the batcher and the route."""
    api = api_paths
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who, diseinfo=[{"diag_code": "J18.900", "maindiag_flag": "1"}])
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": BILL})["infcode"] == 0
    settle = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-03"}
    settled = api.tx(inst, "2207", settle)
    assert settled["infcode"] == 0, settled
    setl_id = settled["output"]["setl_id"]
    before = api.tx(inst, "5204", {"mdtrt_id": mdtrt_id})["output"]
    discharge = {
        "mdtrt_id": mdtrt_id,
        "dscg_date": "2025-05-03",
        "dscg_way": "1",
        "diseinfo": [{"diag_code": "I21.000", "maindiag_flag": "1"}],
        "oprninfo": [{"oprn_oprt_code": "36.0600x001", "main_oprn_flag": "1"}],
    }
    batcher = api.client.app.state.yibao.batcher  # type: ignore[attr-defined]
    taken = fast_path_settled(api)
    late = api.tx(inst, "2402", discharge)
    assert late["infcode"] == 3002, late
    assert f"settlement {setl_id} is in force; reverse it (2208) first" in late["err_msg"]
    assert fast_path_settled(api) - taken == (0 if batcher is None else 1)
    assert api.tx(inst, "5204", {"mdtrt_id": mdtrt_id})["output"] == before
    assert (before["dscg_date"], before["oprninfo"]) == (None, [])
    with Session(engine) as s:
        entry = s.scalars(
            select(AuditRow).where(AuditRow.action == "tx:2402").order_by(AuditRow.id.desc())
        ).first()
        assert entry is not None
        assert (entry.outcome, entry.target) == ("refused", f"visit:{mdtrt_id}")
    table = parse_group_table(
        {"groups": [{"code": "I21.000:36.0600x001", "weight": 2500, "avg_cost": 20000}]}
    )
    with pytest.raises(InvalidField, match="no discharged"):  # settled, never discharged
        dip_year.compute_in(uow, AREA, 2025, table, budget=1_000_000, ratio=Decimal("0.8"))

    assert api.tx(inst, "2208", {"setl_id": setl_id, "date": "2025-05-03"})["infcode"] == 0
    done = api.tx(inst, "2402", discharge)
    assert done["infcode"] == 0, done
    assert [d["diag_code"] for d in done["output"]["diseinfo"]] == ["I21.000"]
    again = api.tx(inst, "2207", settle)
    assert again["infcode"] == 0, again
    # grouped by the discharge (I21.000 with 36.0600x001; the admission's J18.900 has no group)
    year = dip_year.compute_in(uow, AREA, 2025, table, budget=1_000_000, ratio=Decimal("0.8"))
    assert (year.cases, year.total_points) == (1, 2500_0000)


def bill_claim(
    psn_no: str, mdtrt_id: str, msgid: str, use: str, bill: list[dict[str, Any]] = BILL
) -> dict[str, Any]:
    """A FHIR Claim carrying ``bill``'s lines (the first with its ``net``), a diagnosis and a
    procedure."""
    national = "urn:yibao:med-list-codg"
    items = [
        {
            "sequence": int(x["feedetl_sn"]),
            "productOrService": {"coding": [{"system": national, "code": x["med_list_codg"]}]},
            "quantity": {"value": float(x["cnt"])},
            "unitPrice": {"value": x["pric"]},
            "servicedDate": "2025-05-02",
        }
        for x in bill
    ]
    items[0]["net"] = {"value": float(bill[0]["cnt"]) * float(bill[0]["pric"]), "currency": "CNY"}
    return {
        "resourceType": "Claim",
        "identifier": [{"value": msgid}],
        "use": use,
        "patient": {"reference": f"Patient/{psn_no}"},
        "type": {"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        "billablePeriod": {"start": "2025-05-03"},
        "extension": [{"url": "urn:yibao:mdtrt_id", "valueString": mdtrt_id}],
        "item": items,
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.900"}]
                },
                "type": [{"coding": [{"code": "principal"}]}],
            }
        ],
        "procedure": [
            {
                "sequence": 1,
                "procedureCodeableConcept": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-9-cm", "code": "96.04"}]
                },
            }
        ],
    }


def adjudicated(cr: dict[str, Any]) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """A ClaimResponse's total adjudication and each item's, by category code."""
    total = {a["category"]["coding"][0]["code"]: a["amount"]["value"] for a in cr["adjudication"]}
    by_item = {
        it["itemSequence"]: {
            a["category"]["coding"][0]["code"]: a["amount"]["value"] for a in it["adjudication"]
        }
        for it in cr["item"]
    }
    return total, by_item


def test_fhir_claim_with_items_adjudicated_per_line(api: Api, uow: UnitOfWork) -> None:
    """A FHIR Claim carrying the bill's lines, diagnoses and procedures: the lines are uploaded
    (2204) and the visit settled from them; the ClaimResponse adjudicates each item."""
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    body = orjson.dumps(bill_claim(psn_no, mdtrt_id, "fhir-bill-1", "claim"))
    path = "/fhir/Claim/$submit"
    r = api.client.post(path, content=body, headers=api.signed(inst, path, body))
    assert r.status_code == 200, r.text
    cr = r.json()
    total, by_item = adjudicated(cr)
    assert total["submitted"] == 12000 and total["eligible"] == 10900  # as the hand computation
    assert by_item[2] == {
        "submitted": 1200,
        "eligible": 1000,
        "fully_self_paid": 0,
        "over_limit": 200,
        "category_b": 1000,
        "category_b_prepay": 100,
    }
    assert by_item[3]["fully_self_paid"] == 800
    assert cr["item"][2]["adjudication"][0]["reason"]["coding"][0]["code"] == "class_c"
    assert cr["addItem"]  # the fund layers
    # sent again: the same answer, nothing uploaded or settled twice
    again = api.client.post(path, content=body, headers=api.signed(inst, path, body))
    assert again.json()["id"] == cr["id"]
    read = api.tx(inst, "5204", {"mdtrt_id": mdtrt_id})["output"]
    assert len(read["feedetail"]) == 3 and read["diseinfo"][0]["diag_code"] == "J18.900"
    assert read["oprninfo"][0]["oprn_oprt_code"] == "96.04"


def count_rows(engine: Engine) -> tuple[int, ...]:
    """(fee lines, settlements, diagnoses) stored."""
    with Session(engine) as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (FeeLineRow, SettlementRow, VisitDiagnosisRow)
        )


@pytest.mark.parametrize("stored", [0, 1])
def test_fhir_predetermination_with_items_stores_nothing(
    api: Api, uow: UnitOfWork, engine: Engine, stored: int
) -> None:
    """A predetermination carrying items previews the visit with them (classified with its
    stored lines, ``stored`` of the bill uploaded before) and stores nothing: sent again, or
    under another identifier, it answers the same; a bad item is refused naming it; the Claim
    with the same items then settles to the amounts previewed."""
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    if stored:
        up = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": BILL[:stored]})
        assert up["infcode"] == 0, up
    before = count_rows(engine)
    path = "/fhir/Claim/$submit"

    def submit(msgid: str, use: str, bill: list[dict[str, Any]]) -> Any:
        body = orjson.dumps(bill_claim(psn_no, mdtrt_id, msgid, use, bill))
        return api.client.post(path, content=body, headers=api.signed(inst, path, body))

    previews = [submit(m, "predetermination", BILL[stored:]) for m in ("pre-1", "pre-2", "pre-1")]
    for r in previews:
        assert r.status_code == 200, r.text
        assert r.json()["use"] == "predetermination" and "id" not in r.json()
    assert count_rows(engine) == before
    seen = [adjudicated(r.json()) for r in previews]
    assert seen[0] == seen[1] == seen[2]
    total, by_item = seen[0]
    assert total["submitted"] == 12000 and total["eligible"] == 10900
    assert sorted(by_item) == [int(x["feedetl_sn"]) for x in BILL[stored:]]
    assert by_item[2]["over_limit"] == 200 and by_item[3]["fully_self_paid"] == 800
    bad = [*BILL[stored:], line("9", "NOPE", "1", "1")]
    refused = submit("pre-bad", "predetermination", bad)
    assert 400 <= refused.status_code < 500, refused.text
    at = len(bad) - 1
    assert f"feedetail[{at}] (feedetl_sn 9).med_list_codg" in refused.text, refused.text
    assert count_rows(engine) == before
    r = submit("bill-1", "claim", BILL[stored:])
    assert r.status_code == 200, r.text
    assert adjudicated(r.json()) == (total, by_item)
    assert r.json()["payment"]["amount"] == previews[0].json()["payment"]["amount"]
    assert count_rows(engine) == (3, 1, 1)


@pytest.mark.parametrize("sequence", [2**31, 2**62, 0, -1])
def test_fhir_claim_item_sequence_outside_positive_int_refused_nothing_stored(
    api: Api, uow: UnitOfWork, engine: Engine, sequence: int
) -> None:
    """An item's ``sequence`` is a FHIR positiveInt (1 to 2³¹−1): one outside is refused
    naming it, before anything is stored (2**62 was uploaded and settled, then answered an
    internal error saying nothing was stored, as the ClaimResponse could not carry it)."""
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    x = BILL[0]
    claim = {
        "resourceType": "Claim",
        "identifier": [{"value": "fhir-seq-1"}],
        "use": "claim",
        "patient": {"reference": f"Patient/{psn_no}"},
        "type": {"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        "billablePeriod": {"start": "2025-05-03"},
        "extension": [{"url": "urn:yibao:mdtrt_id", "valueString": mdtrt_id}],
        "item": [
            {
                "sequence": sequence,
                "productOrService": {
                    "coding": [{"system": "urn:yibao:med-list-codg", "code": x["med_list_codg"]}]
                },
                "quantity": {"value": x["cnt"]},
                "unitPrice": {"value": x["pric"]},
                "servicedDate": "2025-05-02",
            }
        ],
    }
    body = orjson.dumps(claim)
    path = "/fhir/Claim/$submit"
    r = api.client.post(path, content=body, headers=api.signed(inst, path, body))
    assert 400 <= r.status_code < 500, r.text
    assert "sequence" in r.text, r.text
    assert count_lines(engine) == 0
    with uow:
        assert uow.settlements.visit(mdtrt_id).status.value == "registered"


def test_a_settlement_dated_before_the_visits_last_line_is_refused(
    api: Api, uow: UnitOfWork, engine: Engine
) -> None:
    """A settlement from lines dated before the last of them (a line of 2025-05-02 settled on
    2025-05-01) would pay it in the wrong period (across a year's end: the wrong year's
    accumulators); as 2402 refuses a discharge before a line, 2207 should refuse, nothing
    stored."""
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    up = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [line("1", "XC03", "1", "5")]})
    assert up["infcode"] == 0, up
    early = api.tx(inst, "2207", {"mdtrt_id": mdtrt_id, "certno": who, "date": "2025-05-01"})
    assert early["infcode"] == 1003 and early["err_msg"].startswith("date: "), early
    assert "2025-05-02" in early["err_msg"], early
    with uow:
        assert uow.settlements.visit(mdtrt_id).status.value == "registered"
    on_the_day = api.tx(inst, "2207", {"mdtrt_id": mdtrt_id, "certno": who, "date": "2025-05-02"})
    assert on_the_day["infcode"] == 0, on_the_day


def test_a_msgid_answers_one_transaction(api_paths: Api, uow: UnitOfWork, engine: Engine) -> None:
    """A msgid sent again returns its first answer only to the same transaction: a 2207 under
    a 2206's msgid (a preview) is refused as a conflict (3003) naming both, nothing settled and
    audited; the 2206 sent again still gets its first answer. Through the batcher and the
    route."""
    api = api_paths
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": BILL})["infcode"] == 0
    settle = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-03"}
    preview = api.tx(inst, "2206", settle, msgid="bill-1")
    assert preview["infcode"] == 0, preview
    reused = api.tx(inst, "2207", settle, msgid="bill-1")
    assert reused["infcode"] == 3003, reused
    assert "msgid bill-1 was used for 2206: a 2207 needs a msgid of its own" in reused["err_msg"]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 0
        entry = s.scalars(
            select(AuditRow).where(AuditRow.msgid == "bill-1").order_by(AuditRow.id.desc())
        ).first()
        assert entry is not None and entry.outcome == "refused", entry
    again = api.tx(inst, "2206", settle, msgid="bill-1")
    assert {k: again[k] for k in ("infcode", "output")} == {
        k: preview[k] for k in ("infcode", "output")
    }
    settled = api.tx(inst, "2207", settle, msgid="bill-2")
    assert settled["infcode"] == 0, settled
