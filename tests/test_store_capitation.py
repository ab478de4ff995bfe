"""Capitation's year (按人头) on SQLite and PostgreSQL: enrolment from the year's outpatient
settlements, due = per_capita × enrolled, the reconciliation against what the pooling fund paid
claim by claim, posted once, the ledger reconciled."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import balances, resident
from yibao.domain.errors import InvalidField
from yibao.domain.settlement import Claim
from yibao.services import capitation, ledger, settlement
from yibao.store.uow import UnitOfWork

AREA = "360100"


def outpatient(uow: UnitOfWork, who: str, code: str, n: int, med: str = "outpatient") -> int:
    """One outpatient settlement of 300.00 at ``code``; what the pooling fund paid."""
    claim = Claim(
        person=who,
        date=dt.date(2025, 5, 1) + dt.timedelta(days=n),
        total=30_000,
        med_type=med,
        level=1,
        fixmedins_code=code,
    )
    return settlement.settle(uow, claim, f"cap-{who}-{n}").amounts["hifp_pay"]


def test_capitation_year(uow: UnitOfWork, engine: Engine) -> None:
    p1, p2, p3 = (resident(uow, n) for n in (3, 5, 7))
    # P1: C1 twice, C2 once → C1 (2 of 3); P2: C1 once, C2 once → tie, the smaller code C1;
    # P3: C1, C2, C3 once each → nobody (1 of 3 is below the 0.5 share)
    paid_c1 = outpatient(uow, p1, "C1", 1) + outpatient(uow, p1, "C1", 2, "chronic")
    outpatient(uow, p1, "C2", 3)
    paid_c1 += outpatient(uow, p2, "C1", 4)
    outpatient(uow, p2, "C2", 5)
    for i, code in enumerate(("C1", "C2", "C3")):
        outpatient(uow, p3, code, 6 + i)
    found = capitation.reconcile(uow, AREA, 2025)
    assert [i.institution for i in found] == ["C1"]
    c1 = found[0]
    # 2 residents × 120.00 = 240.00 due; the fund paid paid_c1 claim by claim
    assert c1.enrolled == {"resident": 2} and c1.due == {"resident": 24_000}
    assert c1.paid_by_claim == {"resident": paid_c1}
    assert c1.as_dict()["transaction"] is None
    before = balances(engine)
    posted = capitation.reconcile(uow, AREA, 2025, post=True)
    diff = 24_000 - paid_c1
    after = balances(engine)
    assert after["institution_payable:C1"] - before["institution_payable:C1"] == -diff
    assert (posted[0].transaction_id is not None) == (diff != 0)
    again = capitation.reconcile(uow, AREA, 2025, post=True)
    assert again[0].transaction_id == posted[0].transaction_id and balances(engine) == after
    assert ledger.reconcile(uow).ok
    with pytest.raises(InvalidField, match="area"):
        capitation.reconcile(uow, "x", 2025)
