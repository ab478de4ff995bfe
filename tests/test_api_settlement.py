"""Visits and settlements through the transaction API (2201/2202/2206/2207/2208/5206/3201), on
SQLite and PostgreSQL, each test through the settlement fast path and through the route alone:
an institution acts only on its own visits and settlements, msgid makes a settlement idempotent,
writes are audited with the write."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, fast_path_settled
from tests.store_support import nid
from yibao.domain.roles import Role
from yibao.policy import yuan_to_fen
from yibao.services import contributions, enrolment, ledger, registry
from yibao.store.api_models import AuditRow
from yibao.store.models import SettlementRow
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"


def employee(uow: UnitOfWork, n: int = 1) -> str:
    who = registry.add_person(uow, nid(n), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 7):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
    return who


@pytest.fixture
def api(api_paths: Api) -> Api:
    """Every test of this module twice: 2207 through the fast path, then through the route."""
    return api_paths


CLAIM: dict[str, Any] = {
    "date": "2025-05-01",
    "med_type": "inpatient",
    "total": "20000.00",
    "fully_self_paid": "1000.00",
}


def test_register_settle_reverse(api: Api, uow: UnitOfWork, engine: Engine) -> None:
    who = employee(uow)
    inst = api.institution()
    visit = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient", "begntime": "2025-05-01"})
    assert visit["infcode"] == 0, visit
    mdtrt_id = visit["output"]["mdtrt_id"]
    assert visit["output"]["level"] == 2  # the institution's level

    pre = api.tx(inst, "2206", {"certno": who, "mdtrt_id": mdtrt_id, **CLAIM})
    assert pre["infcode"] == 0, pre
    assert pre["output"]["setl_id"] is None
    assert who not in str(pre)  # no national ID in settlement answers
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 0

    taken = fast_path_settled(api)
    settled = api.tx(inst, "2207", {"certno": who, "mdtrt_id": mdtrt_id, **CLAIM}, msgid="s-1")
    assert settled["infcode"] == 0, settled
    assert fast_path_settled(api) == taken + (1 if api.settings.batch_max > 1 else 0)
    out = settled["output"]
    # An employee at level 2 (benefits.employee.inpatient.basic, national defaults): policy
    # scope 20000 - 1000 fully self-paid = 19000; (19000 - 500 deductible) x 85% = 15725.00;
    # the person's 4275.00: 960.00 from the account (6 months x 8000 x 2%), 3315.00 in cash.
    assert (out["inscp_scp_amt"], out["act_pay_dedc"], out["hifp_pay"]) == (
        "19000.00",
        "500.00",
        "15725.00",
    )
    assert (out["fund_pay_sumamt"], out["acct_pay"], out["psn_cash_pay"]) == (
        "15725.00",
        "960.00",
        "3315.00",
    )
    assert out["medfee_sumamt"] == "20000.00" and out["acct_balance_after"] == "0.00"
    assert {k: pre["output"][k] for k in ("fund_pay_sumamt", "acct_pay", "psn_cash_pay")} == {
        k: out[k] for k in ("fund_pay_sumamt", "acct_pay", "psn_cash_pay")
    }  # 2206 previewed exactly this
    setl_id = out["setl_id"]
    # the same msgid: the first answer, nothing settled twice
    assert api.tx(inst, "2207", {"certno": who, "mdtrt_id": mdtrt_id, **CLAIM}, msgid="s-1") == (
        settled
    )
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 1
        writes = s.scalars(select(AuditRow).where(AuditRow.action == "tx:2207")).all()
        assert [(w.msgid, w.outcome, w.detail) for w in writes] == [
            ("s-1", "ok", "settlement"),
            ("s-1", "ok", "msgid sent again: its first answer returned (infcode 0)"),
        ]  # the second one audited as the reply it is (issue 10)

    ytd = api.tx(inst, "5206", {"certno": who, "year": 2025})
    assert ytd["infcode"] == 0, ytd
    assert ytd["output"]["settled"]["setl_cnt"] == 1
    assert ytd["output"]["settled"]["fund_pay_sumamt"] == out["fund_pay_sumamt"]

    day = api.tx(
        inst,
        "3201",
        {"stmt_date": "2025-05-01", "setl_cnt": 1, "fund_pay_sumamt": out["fund_pay_sumamt"]},
    )
    assert day["infcode"] == 0, day
    assert day["output"]["stmt_rslt"] == "0"
    assert (
        api.tx(inst, "3201", {"stmt_date": "2025-05-01", "setl_cnt": 2})["output"]["stmt_rslt"]
        == "1"
    )

    read = api.get(inst, f"/api/v1/settlements/{setl_id}")
    assert read.status_code == 200 and read.json()["setl_id"] == setl_id

    back = api.tx(inst, "2208", {"setl_id": setl_id, "date": "2025-05-02"})
    assert back["infcode"] == 0, back
    again = api.tx(inst, "2208", {"setl_id": setl_id, "date": "2025-05-02"})
    assert again["infcode"] == 3002 and "already reversed" in again["err_msg"]
    assert api.tx(inst, "5206", {"certno": who, "year": 2025})["output"]["settled"]["setl_cnt"] == 0
    assert ledger.reconcile(uow).ok
    cancelled = api.tx(inst, "2202", {"mdtrt_id": mdtrt_id, "date": "2025-05-03"})
    assert cancelled["infcode"] == 0, cancelled


def test_institution_cannot_touch_another_institutions_records(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    mine, theirs = api.institution("H36010001"), api.institution("H36010002")
    settled = api.tx(mine, "2207", {"certno": who, **CLAIM})
    assert settled["infcode"] == 0, settled
    setl_id, mdtrt_id = settled["output"]["setl_id"], settled["output"]["mdtrt_id"]

    read = api.get(theirs, f"/api/v1/settlements/{setl_id}")
    assert (read.status_code, read.json()["infcode"]) == (403, 2005)
    assert setl_id not in str(read.json()["output"])
    for infno, data in (
        ("2208", {"setl_id": setl_id}),
        ("2202", {"mdtrt_id": mdtrt_id}),
        ("2207", {"certno": who, "mdtrt_id": mdtrt_id, **CLAIM}),
        ("2206", {"certno": who, "mdtrt_id": mdtrt_id, **CLAIM}),
    ):
        out = api.tx(theirs, infno, data)
        assert out["infcode"] == 2005, (infno, out)
    # the other institution's day shows none of it
    day = api.tx(theirs, "3201", {"stmt_date": "2025-05-01"})
    assert day["output"]["settled"]["setl_cnt"] == 0
    # staff: an auditor reads it; an insured person only their own
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    assert api.staff_get(auditor, f"/api/v1/settlements/{setl_id}").status_code == 200
    other = registry.add_person(uow, nid(5), "某人")
    stranger = api.staff(Role.INSURED_PERSON, psn_no=other.id)
    r = api.staff_get(stranger, f"/api/v1/settlements/{setl_id}")
    assert r.json()["infcode"] == 2005


def test_settlement_input_errors(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    inst = api.institution()
    cases = [
        ({"certno": who, **CLAIM, "total": "-1"}, 1003, "total"),
        ({"certno": who, **CLAIM, "total": "abc"}, 1003, "total"),
        ({"certno": who, **CLAIM, "fully_self_paid": "30000"}, 1003, "total"),
        ({"certno": who, **CLAIM, "med_type": "spa"}, 1003, "med_type"),
        ({"certno": who, **CLAIM, "mdtrt_id": "V-NOPE"}, 3001, "V-NOPE"),
        ({"certno": nid(8), **CLAIM}, 3001, "not found"),
    ]
    for data, code, words in cases:
        out = api.tx(inst, "2207", data)
        assert (out["infcode"], words in (out["err_msg"] or "")) == (code, True), (data, out)
    assert api.tx(inst, "2208", {"setl_id": "S-NOPE"})["infcode"] == 3001


def test_1101_entitlement_and_caps(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    out = api.tx(api.institution(), "1101", {"certno": who, "date": "2025-05-01"})
    assert out["infcode"] == 0, out
    o = out["output"]
    assert o["in_waiting_period"] is False and o["entitled_from"] is not None
    basic = [c for c in o["caps"] if c["fund"] == "basic"]
    assert basic and all(c["used"] == "0.00" for c in basic)
    assert any(c["fund"] == "large_amount" for c in o["caps"])


def test_1101_critical_illness_cap_includes_the_incentive_raise(api: Api, uow: UnitOfWork) -> None:
    """A resident insured in 2025 without a claim earns the zero-claim raise for 2026 (1,000
    yuan, national default); one first insured in 2026 has none. 1101 reports the cap the
    kernel will apply."""
    inst = api.institution()

    def ci_cap(who: str) -> dict[str, Any]:
        out = api.tx(inst, "1101", {"certno": who, "date": "2026-06-01"})
        assert out["infcode"] == 0, out
        return next(c for c in out["output"]["caps"] if c["fund"] == "critical_illness")

    veteran = registry.add_person(uow, nid(7, dt.date(1980, 1, 1)), "居民7").label
    enrolment.enrol(uow, veteran, "resident", AREA, dt.date(2024, 10, 1))
    contributions.pay_resident(uow, veteran, 2025, dt.date(2024, 11, 1))
    contributions.pay_resident(uow, veteran, 2026, dt.date(2025, 11, 1))
    newcomer = registry.add_person(uow, nid(8, dt.date(1980, 1, 1)), "居民8").label
    enrolment.enrol(uow, newcomer, "resident", AREA, dt.date(2025, 10, 1))
    contributions.pay_resident(uow, newcomer, 2026, dt.date(2025, 11, 1))
    raised, plain = ci_cap(veteran), ci_cap(newcomer)
    assert plain["incentive_raise"] == "0.00"
    assert raised["incentive_raise"] == "1000.00"
    assert yuan_to_fen(raised["annual_cap"]) == yuan_to_fen(plain["annual_cap"]) + 100_000
    assert raised["remaining"] == raised["annual_cap"]


def test_concurrent_retries_of_one_msgid_settle_once(
    api: Api, uow: UnitOfWork, engine: Engine
) -> None:
    who = employee(uow)
    inst = api.institution()
    data = {"certno": who, **CLAIM}
    barrier = threading.Barrier(3)
    answers: list[dict[str, Any]] = []

    def send() -> None:
        client = TestClient(api.client.app, raise_server_exceptions=False)
        body = api.envelope(inst.code, "2207", data, msgid="race-1")
        headers = api.signed(inst, "/api/v1/tx", body)
        barrier.wait()
        answers.append(client.post("/api/v1/tx", content=body, headers=headers).json())

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settled = [a for a in answers if a["infcode"] == 0]
    assert settled and all(a["infcode"] in (0, 4001) for a in answers), answers
    assert len({a["output"]["setl_id"] for a in settled}) == 1
    final = api.tx(inst, "2207", data, msgid="race-1")
    assert final["output"]["setl_id"] == settled[0]["output"]["setl_id"]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 1
    assert ledger.reconcile(uow).ok
