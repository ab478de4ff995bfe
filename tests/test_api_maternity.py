"""The maternity allowance over the API on SQLite and PostgreSQL: staff who may pay benefits
apply it, others are refused (and audited); a second application for a birth is a conflict."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_maternity import _employee
from yibao.api.http.errors import CONFLICT, INVALID_FIELD
from yibao.domain.roles import Role
from yibao.services import ledger
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

PATH = "/api/v1/maternity/allowance"


def _post(api: Api, token: str, body: dict[str, Any]) -> Any:
    return api.client.post(PATH, json=body, headers={"authorization": f"Bearer {token}"})


def test_auditor_pays_the_allowance_once_others_refused(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _employee(uow, 2, [700000])
    body = {"person": mother, "birth_date": "2025-05-01", "difficult": True, "babies": 2}
    for role in (Role.ENROLMENT_CLERK, Role.FUND_MANAGER):
        assert _post(api, api.staff(role), body).status_code == 403
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    r = _post(api, auditor, body)
    assert r.status_code == 200, r.text
    # 700000 × 128 ÷ 30 = 2986666.67 → 2986667 fen
    assert (r.json()["leave_days"], r.json()["allowance"]) == (128, "29866.67")
    again = _post(api, auditor, body).json()
    assert again["infcode"] == CONFLICT and "is paid" in again["err_msg"]
    bad = _post(api, auditor, {**body, "babies": 0})
    assert bad.status_code in (400, 422) and "babies" in bad.text
    future = _post(api, auditor, {**body, "birth_date": "2025-06-02"}).json()
    assert future["infcode"] == INVALID_FIELD
    assert future["err_msg"] == "birth_date: 2025-06-02 is in the future"
    unknown = _post(api, auditor, {**body, "salary": "1"})
    assert unknown.status_code in (400, 422) and "salary" in unknown.text
    assert ledger.reconcile(uow).ok
    with Session(api.engine) as s:
        outcomes = s.scalars(select(AuditRow.outcome).where(AuditRow.action == "benefit:pay")).all()
    assert sorted(outcomes) == ["denied"] * 2 + ["ok"] + ["refused"] * 2


def test_a_given_wage_above_the_contribution_base_ceiling_is_refused(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wage given is the employer's average monthly contribution wage, which cannot exceed
    the area's monthly contribution base ceiling of that year: 99,999,999.99 yuan (an allowance
    of 326 million yuan was paid out of the fund) is refused naming wage; nothing posted."""
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _employee(uow, 2, [700000])
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    body = {"person": mother, "birth_date": "2025-05-01", "wage": "99999999.99"}
    r = _post(api, auditor, body).json()
    assert r["infcode"] == INVALID_FIELD and r["err_msg"].startswith("wage: "), r
    assert "ceiling" in r["err_msg"]
    ok = _post(api, auditor, {**body, "wage": "7000.00"})
    assert ok.status_code == 200 and ok.json()["allowance"] == "22866.67", ok.text
    assert ledger.reconcile(uow).ok


def test_the_mother_named_by_person_number_and_the_payment_audited_against_her(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``person`` is the national ID or the person number (as documented; the person number
    was looked up as a national ID, 3001), and the payment's audit entry carries her person
    id (found by ``GET /api/v1/audit?person_id=``)."""
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _employee(uow, 2, [700000])
    with uow:
        pid = uow.persons.require(mother).id
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    r = _post(api, auditor, {"person": str(pid), "birth_date": "2025-05-01"})
    assert r.status_code == 200 and r.json()["leave_days"] == 98, r.text
    bad = _post(api, auditor, {"person": "12x", "birth_date": "2025-05-01"}).json()
    assert bad["infcode"] == INVALID_FIELD and bad["err_msg"].startswith("person: "), bad
    with Session(api.engine) as s:
        paid = s.scalars(
            select(AuditRow.person_id).where(
                AuditRow.action == "benefit:pay", AuditRow.outcome == "ok"
            )
        ).all()
    assert paid == [pid]
