"""Village clinics (村卫生室) and pharmacies (定点零售药店) as designated institutions, on SQLite
and PostgreSQL: registered at their kind's level (1), a village clinic settles general outpatient
care at the primary-care ratios, a pharmacy purchases paid by the outpatient pooling for the
listed drugs and the personal account for the rest (hand-computed); what their kind may not
settle is refused naming the field and changes nothing; they are cleared like hospitals and the
ledger reconciles; the same over the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from tests.api_support import *  # noqa: F403  (fixtures: api)
from tests.api_support import SECRET, Api, Inst
from tests.store_support import *  # noqa: F403  (fixtures: engine, uow)
from tests.test_store_settlement import balances, employee, resident
from yibao.domain.errors import InvalidField
from yibao.domain.settlement import Claim
from yibao.services import clearing, ledger, settlement
from yibao.services.accounts import NewInstitution, issue_institution
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork

ON = dt.date(2025, 5, 10)


def _register(uow: UnitOfWork, code: str, kind: str, level: int | None = None) -> Inst:
    spec = NewInstitution.model_validate(
        {"code": code, "name": code, "level": level, "area": "360100", "kind": kind}
    )
    issued = issue_institution(uow, SECRET, spec)
    return Inst(issued.code, issued.key_id, issued.key)


def _claim(who: str, total: int, code: str, med: str, level: int = 1, **kw: Any) -> Claim:
    return Claim(
        person=who, date=ON, total=total, med_type=med, level=level, fixmedins_code=code, **kw
    )


def test_registered_at_their_kinds_level(uow: UnitOfWork) -> None:
    _register(uow, "V1", "village_clinic")
    _register(uow, "P1", "pharmacy", level=1)
    _register(uow, "H2", "hospital", level=2)
    with uow:
        repo = ApiRepository(uow.session)
        assert repo.institution_kinds({"V1", "P1", "H2", "nobody"}) == {
            "V1": "village_clinic",
            "P1": "pharmacy",
            "H2": "hospital",
        }
        assert repo.callers([("V1", "-"), ("P1", "-")]).levels == {"V1": 1, "P1": 1}
    with pytest.raises(InvalidField) as info:
        _register(uow, "V2", "village_clinic", level=2)
    assert info.value.field == "level" and "village clinic" in info.value.reason
    with pytest.raises(ValidationError):
        _register(uow, "X1", "dispensary")
    with uow:
        assert ApiRepository(uow.session).institution("V2") is None


def test_a_village_clinic_claim_and_a_pharmacy_purchase(uow: UnitOfWork, engine: Engine) -> None:
    _register(uow, "V1", "village_clinic")
    _register(uow, "P1", "pharmacy")
    r = resident(uow, 3)
    e = employee(uow, 1, months=12)  # 12 × 160.00 = 1920.00 in the account
    before = balances(engine)

    # R at the village clinic, general outpatient care, 200.00: the residents' outpatient pooling
    # has no deductible and pays 65% at level 1 (primary care): 130.00; cash 70.00
    v = settlement.settle(uow, _claim(r, 200_00, "V1", "outpatient"), "v-1")
    assert (v.amounts["hifp_pay"], v.amounts["psn_cash_pay"]) == (130_00, 70_00)

    # E at the pharmacy, 500.00 of which 100.00 outside the catalogue: the listed drugs (400.00)
    # are the outpatient pooling's, after the employees' 300.00 yearly deductible, at 65%:
    # (400 − 300) × 65% = 65.00; the other 435.00 from the personal account, no cash
    p = settlement.settle(uow, _claim(e, 500_00, "P1", "pharmacy", fully_self_paid=100_00), "p-1")
    assert (p.amounts["inscp_scp_amt"], p.amounts["act_pay_dedc"]) == (400_00, 300_00)
    assert (p.amounts["hifp_pay"], p.amounts["acct_pay"], p.amounts["psn_cash_pay"]) == (
        65_00,
        435_00,
        0,
    )
    moved = balances(engine)
    assert before["resident_pooling:360100"] - moved["resident_pooling:360100"] == -130_00
    assert moved["institution_payable:V1"] == -200_00 and moved["institution_payable:P1"] == -500_00
    assert ledger.reconcile(uow).ok

    # cleared like a hospital: the funds owe V1 130.00 and P1 65.00 + 435.00
    done = clearing.pay(uow, "2025-05", on=dt.date(2025, 6, 5))
    assert [(c.statement.institution, c.statement.totals.owed) for c in done] == [
        ("P1", 500_00),
        ("V1", 130_00),
    ]
    after = balances(engine)
    assert after["institution_payable:V1"] == after["institution_payable:P1"] == 0
    assert ledger.reconcile(uow).ok


def test_what_their_kind_may_not_settle_is_refused(uow: UnitOfWork, engine: Engine) -> None:
    _register(uow, "V1", "village_clinic")
    _register(uow, "P1", "pharmacy")
    r = resident(uow, 3)
    before = balances(engine)
    cases = [
        (_claim(r, 1_000_00, "V1", "inpatient"), "med_type", "village clinic settles outpatient"),
        (_claim(r, 200_00, "V1", "outpatient", level=2), "level", "paid at level 1"),
        (_claim(r, 200_00, "P1", "outpatient"), "med_type", "pharmacy settles pharmacy only"),
    ]
    for claim, field, words in cases:
        for run in (settlement.presettle, lambda u, c: settlement.settle(u, c, "bad")):
            with pytest.raises(InvalidField) as info:
                run(uow, claim)
            assert info.value.field == field and words in info.value.reason
    with pytest.raises(InvalidField) as info:
        settlement.register_visit(uow, r, "V1", "inpatient", 1, ON)
    assert info.value.field == "med_type"
    assert balances(engine) == before
    assert ledger.reconcile(uow).ok


def test_over_the_api(api: Api, uow: UnitOfWork) -> None:
    """A village clinic signs its own 2207: paid at its registered level (1)."""
    who = resident(UnitOfWork.for_engine(api.engine), 3)
    clinic = _register(UnitOfWork.for_engine(api.engine), "V36010001", "village_clinic")
    claim = {"date": ON.isoformat(), "med_type": "outpatient", "total": "200.00", "certno": who}
    out = api.tx(clinic, "2207", claim)
    assert out["infcode"] == 0, out
    assert (out["output"]["hifp_pay"], out["output"]["psn_cash_pay"]) == ("130.00", "70.00")
    refused = api.tx(clinic, "2207", {**claim, "med_type": "inpatient"})
    assert refused["infcode"] != 0 and "med_type" in refused["err_msg"]
    assert ledger.reconcile(UnitOfWork.for_engine(api.engine)).ok
