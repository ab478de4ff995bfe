"""A settlement's typed answer: the JSON stored and sent is written once from it, in the
national field order, and reads back to the same typed answer (a reversal reads the
settlement's date and admission number from it)."""

from __future__ import annotations

import datetime as dt

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import employee, inpatient, resident
from yibao.kernel.schema import SETTLEMENT_FIELDS
from yibao.services import settlement
from yibao.services.settlement.answer import answer_from_json, answer_json
from yibao.store.uow import UnitOfWork

KEYS = [
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "fixmedins_code",
    "setl_time",
    "med_type",
    "level",
    "cross_region",
    "scheme",
    "pooling_area",
    "admission_no",
    *SETTLEMENT_FIELDS,
    "cross_prepay",
    "setldetail",
    "reasons",
    "entitled_from",
    "entitlement_rule",
    "incentive_raise",
    "acct_balance_after",
]


def test_the_answer_is_typed_and_its_json_reads_back(uow: UnitOfWork) -> None:
    emp = employee(uow, 1, months=12)
    s = settlement.settle(uow, inpatient(emp, 1_234_567, fully_self_paid=1_001), "r-answer")
    a = s.answer
    assert (a.setl_id, a.mdtrt_id, a.date) == (s.setl_id, s.mdtrt_id, dt.date(2025, 5, 10))
    assert a.amounts["medfee_sumamt"] == 1_234_567 and a.amounts["fulamt_ownpay_amt"] == 1_001
    assert list(s.response) == KEYS and s.response["medfee_sumamt"] == "12345.67"
    assert answer_json(a) == s.response and answer_from_json(s.response) == a
    assert sum(layer.payment for layer in a.layers) == a.amounts["fund_pay_sumamt"]
    assert all(layer.text for layer in a.layers)

    stored = settlement.settlement_on_record(uow, s.setl_id or "")
    assert stored.answer == a and stored.response == s.response
    assert [(x.fund_pay_type, x.base, x.payment) for x in stored.layers] == [
        (x.fund_pay_type, x.base, x.payment) for x in a.layers
    ]
    assert settlement.settlement_of(uow, s.setl_id or "") == stored.json()

    replay = settlement.settle(uow, inpatient(emp, 1_234_567, fully_self_paid=1_001), "r-answer")
    assert replay.replayed and replay.answer == a and replay.response == s.response

    r = settlement.reverse(uow, s.setl_id or "", on=dt.date(2025, 5, 11))
    head = ["setl_id", "mdtrt_id", "psn_no", "status", "reversed_on"]
    assert list(r.response) == [*head, *SETTLEMENT_FIELDS]
    assert r.response["medfee_sumamt"] == "-12345.67" and r.response["psn_no"] == a.psn_no


def test_a_waiting_period_answer_reads_back(uow: UnitOfWork) -> None:
    res = resident(uow, 2)
    p = settlement.presettle(uow, inpatient(res, 500_000, dt.date(2025, 3, 1)))
    assert p.setl_id is None and p.answer.entitled_from == dt.date(2025, 4, 1)
    assert p.response["entitled_from"] == "2025-04-01" and p.amounts["fund_pay_sumamt"] == 0
    assert answer_from_json(p.response) == p.answer and answer_json(p.answer) == p.response
