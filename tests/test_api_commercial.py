"""Supplementary commercial insurance (惠民保) over the API on SQLite and PostgreSQL: staff who
may sell buy and cancel, others are refused, bad inputs are refused clearly, every change and
refusal is audited; the products and the statement are read by the roles that may."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_commercial_store import _employee
from yibao.api.http.errors import CONFLICT, INVALID_FIELD
from yibao.domain.roles import Role
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

PATH = "/api/v1/commercial/purchases"


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _post(api: Api, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.post(path, json=body or {}, headers=_auth(token))


def test_clerk_buys_and_cancels_others_refused(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    who = _employee(uow, 3)
    body = {"person": who, "product": "HMB-DEMO", "year": 2026}
    assert _post(api, api.staff(Role.FUND_MANAGER), PATH, body).status_code == 403
    clerk = api.staff(Role.ENROLMENT_CLERK)
    r = _post(api, clerk, PATH, body)
    assert r.status_code == 200, r.text
    made = r.json()
    assert (made["product"], made["year"], made["covers_from"], made["status"]) == (
        "HMB-DEMO",
        2026,
        "2026-01-01",
        "active",
    )
    assert _post(api, clerk, PATH, body).json()["infcode"] == CONFLICT
    unknown = _post(api, clerk, PATH, {**body, "product": "GOLD"}).json()
    assert unknown["infcode"] == INVALID_FIELD
    assert unknown["err_msg"].startswith("product: GOLD is not a product sold in 360100")
    late = _post(api, clerk, PATH, {**body, "year": 2025}).json()
    assert late["infcode"] == INVALID_FIELD and late["err_msg"].startswith("year: ")
    extra = _post(api, clerk, PATH, {**body, "price": "1"})
    assert extra.status_code in (400, 422) and "price" in extra.text
    listed = api.client.get(PATH, params={"person": who}, headers=_auth(clerk))
    assert [p["id"] for p in listed.json()["purchases"]] == [made["id"]]
    cancelled = _post(api, clerk, f"{PATH}/{made['id']}/cancel", {"reason": "moved"}).json()
    assert cancelled["status"] == "cancelled"
    gone = _post(api, clerk, f"{PATH}/999999/cancel").json()
    assert gone["infcode"] != 0 and "999999" in gone["err_msg"]
    with Session(api.engine) as s:
        outcomes = s.scalars(
            select(AuditRow.outcome).where(AuditRow.action == "commercial:buy")
        ).all()
    assert sorted(outcomes) == ["denied"] + ["ok"] * 2 + ["refused"] * 4


def test_products_and_statement(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    manager = api.staff(Role.FUND_MANAGER)
    got = api.client.get(
        "/api/v1/commercial/products",
        params={"area": "360100", "year": 2026},
        headers=_auth(manager),
    ).json()
    assert [p["code"] for p in got["products"]] == ["HMB-DEMO"]
    month = api.client.get(
        "/api/v1/commercial/statement", params={"month": "2026-01"}, headers=_auth(manager)
    ).json()
    assert (month["insurers"], month["total"], month["balanced"]) == ([], "0.00", True)
    bad = api.client.get(
        "/api/v1/commercial/statement", params={"month": "2026-1"}, headers=_auth(manager)
    ).json()
    assert bad["infcode"] == INVALID_FIELD and bad["err_msg"].startswith("month: must be YYYY-MM")
    clerk = api.staff(Role.ENROLMENT_CLERK)
    refused = api.client.get(
        "/api/v1/commercial/statement", params={"month": "2026-01"}, headers=_auth(clerk)
    )
    assert refused.status_code == 403


def test_collect_by_the_fund_manager_only(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2026-02-10")
    path = "/api/v1/commercial/statement/2026-01/collect"
    for role in (Role.ADMINISTRATOR, Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR):
        assert _post(api, api.staff(role), path).status_code == 403, role
    manager = api.staff(Role.FUND_MANAGER)
    r = _post(api, manager, path, {"on": "2026-02-05"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["collected"], got["statement"]["month"], got["statement"]["balanced"]) == (
        [],
        "2026-01",
        True,
    )
    for body, where in (
        ({"on": "2026-03-01"}, "on: 2026-03-01 is after today"),
        ({"on": "2026-01-31"}, "month: 2026-01 is not over on 2026-01-31"),
        ({"insurer": "INS\u202eA"}, "insurer: contains"),
    ):
        bad = _post(api, manager, path, body).json()
        assert bad["infcode"] == INVALID_FIELD and bad["err_msg"].startswith(where), bad
    assert (
        _post(api, manager, "/api/v1/commercial/statement/2026-13/collect")
        .json()["err_msg"]
        .startswith("month: must be YYYY-MM")
    )
    extra = _post(api, manager, path, {"amount": 1})  # no such field
    assert extra.status_code == 400 and "amount" in extra.json()["err_msg"], extra.text
    with Session(api.engine) as s:
        outcomes = s.scalars(
            select(AuditRow.outcome).where(AuditRow.action == "commercial:collect")
        ).all()
    assert sorted(outcomes) == ["denied"] * 3 + ["ok"] + ["refused"] * 4


def test_reads_and_changes_of_a_persons_purchases_are_audited_against_the_person(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing a person's purchases is a read of their file: audited with their person id
    (found by ``GET /api/v1/audit?person_id=``) and a target naming them by id, never the
    national ID; a purchase's changes too. A ``person`` longer than any ID is refused."""
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    who = _employee(uow, 3)
    with uow:
        pid = uow.persons.require(who).id
    clerk = api.staff(Role.ENROLMENT_CLERK)
    made = _post(api, clerk, PATH, {"person": who, "product": "HMB-DEMO", "year": 2026}).json()
    listed = api.client.get(PATH, params={"person": who}, headers=_auth(clerk))
    assert listed.status_code == 200, listed.text
    long = api.client.get(PATH, params={"person": "1" * 5000}, headers=_auth(clerk))
    assert long.status_code == 400 and "person" in long.json()["err_msg"], long.text
    with Session(api.engine) as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.action.like("commercial:%"))).all()
        got = [(r.action, r.outcome, r.person_id, r.target) for r in rows]
    assert got == [
        ("commercial:buy", "ok", pid, f"commercial:{made['id']}"),
        ("commercial:read", "ok", pid, f"person:{pid}"),
    ]
    admin = api.staff(Role.ADMINISTRATOR)
    log = api.staff_get(admin, f"/api/v1/audit?person_id={pid}").json()
    assert {e["action"] for e in log} >= {"commercial:read", "commercial:buy"}
