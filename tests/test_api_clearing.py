"""The month's statement (清算单) over the API on SQLite and PostgreSQL: an institution reads its
own only, another institution's code is refused (and audited), fund managers read any; a bad
month is refused naming it (infcode 1003, as any invalid field)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_api_settlement import employee
from yibao.domain.roles import Role
from yibao.services import clearing
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

PATH = "/api/v1/clearing/2025-05"
CLAIM = {"date": "2025-05-01", "med_type": "inpatient", "total": "20000.00"}


def test_institution_reads_its_own_statement_only(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    mine, theirs = api.institution("H36010001"), api.institution("H36010002")
    settled = api.tx(mine, "2207", {**CLAIM, "certno": who})
    assert settled["infcode"] == 0, settled
    out = settled["output"]

    r = api.get(mine, PATH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fixmedins_code"] == "H36010001" and body["fixmedins_setl_cnt"] == 1
    assert body["medfee_sumamt"] == out["medfee_sumamt"] == "20000.00"
    # what the funds owe: what the funds and the accounts paid, the patient's cash aside
    owed = sum(Decimal(out[a]) for a in ("fund_pay_sumamt", "acct_pay", "acct_mulaid_pay"))
    assert owed == Decimal(out["medfee_sumamt"]) - Decimal(out["psn_cash_pay"])
    assert Decimal(body["owed"]) == owed and body["paid"] is None
    assert [line["setl_id"] for line in body["lines"]] == [out["setl_id"]]
    assert api.get(mine, f"{PATH}?institution=H36010001").json() == body

    refused = api.get(mine, f"{PATH}?institution=H36010002")
    assert refused.status_code == 403 and refused.json()["infcode"] == 2005
    other = api.get(theirs, PATH).json()  # its own: empty
    assert other["fixmedins_setl_cnt"] == 0 and other["lines"] == []
    with Session(api.engine) as s:
        denied = s.scalars(
            select(AuditRow).where(AuditRow.action == "clearing:read", AuditRow.outcome == "denied")
        ).all()
    assert [a.target for a in denied] == ["institution:H36010002"]

    manager = api.staff(Role.FUND_MANAGER)
    assert api.staff_get(manager, f"{PATH}?institution=H36010001").json() == body
    every = api.staff_get(manager, PATH).json()
    assert [s["fixmedins_code"] for s in every["statements"]] == ["H36010001"]
    assert api.staff_get(api.staff(Role.ENROLMENT_CLERK), PATH).status_code == 403

    bad = api.get(mine, "/api/v1/clearing/2025-13")
    assert bad.json()["infcode"] == 1003 and "month" in bad.json()["err_msg"]

    paid = clearing.pay(UnitOfWork.for_engine(api.engine), "2025-05", on=dt.date(2025, 6, 3))
    assert [c.posted for c in paid] == [True]
    after = api.get(mine, PATH).json()
    assert after["paid"]["paid_on"] == "2025-06-03" and after["outstanding"] == "0.00"
    assert after["paid"]["amount"] == body["owed"]


def test_3201_over_the_month_agrees_with_the_statement(api: Api, uow: UnitOfWork) -> None:
    """What a hospital does before clearing: 3201 over the month (national fields) against
    its own figures; they are the statement's."""
    who = employee(uow)
    inst = api.institution("H36010001")
    first = api.tx(inst, "2207", {**CLAIM, "certno": who})["output"]
    second = api.tx(inst, "2207", {**CLAIM, "date": "2025-05-20", "certno": who})["output"]
    back = api.tx(inst, "2208", {"setl_id": first["setl_id"], "date": "2025-05-21"})
    assert back["infcode"] == 0, back
    statement = api.get(inst, PATH).json()
    # net of the reversal: the second settlement alone
    assert statement["fixmedins_setl_cnt"] == 1
    assert statement["fund_pay_sumamt"] == second["fund_pay_sumamt"]
    period = {"stmt_begndate": "2025-05-01", "stmt_enddate": "2025-05-31", "insutype": "310"}
    claimed = {
        "fixmedins_setl_cnt": statement["fixmedins_setl_cnt"],
        **{a: statement[a] for a in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")},
    }
    agreed = api.tx(inst, "3201", {**period, **claimed})
    assert agreed["infcode"] == 0, agreed
    out = agreed["output"]
    assert out["stmt_rslt"] == "0" and out["differences"] == []
    assert (out["fixmedins_setl_cnt"], out["fund_pay_sumamt"]) == (1, second["fund_pay_sumamt"])
    assert (out["settled"]["setl_cnt"], out["reversed"]["setl_cnt"]) == (2, 1)

    wrong = api.tx(inst, "3201", {**period, **claimed, "fixmedins_setl_cnt": 2})["output"]
    assert wrong["stmt_rslt"] == "1"
    assert wrong["differences"] == [{"field": "setl_cnt", "institution": "2", "centre": "1"}]
    residents = api.tx(inst, "3201", {**period, "insutype": "390"})["output"]
    assert residents["fixmedins_setl_cnt"] == 0  # the employee's settlements only
    for bad, field in (
        ({"stmt_begndate": "2025-05-31", "stmt_enddate": "2025-05-01"}, "stmt_enddate"),
        ({"stmt_begndate": "2024-01-01", "stmt_enddate": "2025-05-01"}, "stmt_enddate"),
        ({**period, "insutype": "999"}, "insutype"),
        ({**period, "setl_optins": "36010"}, "setl_optins"),
        ({**period, "fixmedins_setl_cnt": -1}, "setl_cnt"),  # a count below 0 was compared
        ({**period, "clr_type": {"a": [1] * 10}}, "clr_type"),  # any JSON was echoed back
    ):
        refused = api.tx(inst, "3201", bad)
        assert refused["infcode"] == 1003 and field in refused["err_msg"], bad
