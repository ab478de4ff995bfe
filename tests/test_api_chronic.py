"""Chronic-disease certifications over the API on SQLite and PostgreSQL: staff who may certify
do (certify, list, renew, end), others are refused, bad inputs are refused clearly, and every
change and refusal is audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_chronic import _employee
from yibao.api.http.errors import CONFLICT, INVALID_FIELD
from yibao.domain.roles import Role
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

PATH = "/api/v1/chronic/certifications"


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _post(api: Api, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.post(path, json=body or {}, headers=_auth(token))


def test_clerk_certifies_renews_ends_others_refused(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 3)
    body = {"person": who, "disease": "E11"}
    for role in (Role.FUND_MANAGER,):
        assert _post(api, api.staff(role), PATH, body).status_code == 403
    clerk = api.staff(Role.ENROLMENT_CLERK)
    r = _post(api, clerk, PATH, body)
    assert r.status_code == 200, r.text
    made = r.json()
    assert (made["disease"], made["name"], made["valid_from"], made["valid_to"]) == (
        "E11",
        "糖尿病",
        "2025-01-10",
        "2027-01-09",
    )
    again = _post(api, clerk, PATH, body).json()
    assert again["infcode"] == CONFLICT
    missing = _post(api, clerk, PATH, {"person": who, "disease": ""}).json()
    assert missing["infcode"] == INVALID_FIELD
    assert missing["err_msg"].startswith("disease: a disease code is required")
    past = _post(api, clerk, PATH, {**body, "valid_from": "2025-01-09"}).json()
    assert past["infcode"] == INVALID_FIELD and "is in the past" in past["err_msg"]
    extra = _post(api, clerk, PATH, {**body, "limit": "1"})
    assert extra.status_code in (400, 422) and "limit" in extra.text
    listed = api.client.get(PATH, params={"person": who}, headers=_auth(clerk))
    assert [c["id"] for c in listed.json()["certifications"]] == [made["id"]]
    renewed = _post(api, clerk, f"{PATH}/{made['id']}/renew").json()
    assert renewed["valid_to"] == "2029-01-09"
    ended = _post(api, clerk, f"{PATH}/{made['id']}/end", {"last_day": "2025-02-28"}).json()
    assert (ended["status"], ended["valid_to"]) == ("ended", "2025-02-28")
    gone = _post(api, clerk, f"{PATH}/999999/renew").json()
    assert gone["infcode"] != 0 and "999999" in gone["err_msg"]
    for action in ("renew", "end"):  # an id no store holds: refused by name, not looked up
        huge = _post(api, clerk, f"{PATH}/{2**64}/{action}", {"last_day": "2025-02-28"})
        assert huge.status_code == 400 and "cert_id" in huge.json()["err_msg"], huge.text
    with Session(api.engine) as s:
        outcomes = s.scalars(
            select(AuditRow.outcome).where(AuditRow.action == "chronic:certify")
        ).all()
    assert sorted(outcomes) == ["denied"] + ["ok"] * 3 + ["refused"] * 4


def test_a_period_far_ahead_is_refused_naming_the_field(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certification starts, and a renewal extends it, at most one validity period (24 months
    here) ahead of today: a first day in 9999 or 2999 is a field error (9999 was an internal
    error), and renewing again and again does not push the last day on; nothing changes."""
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 3)
    clerk = api.staff(Role.ENROLMENT_CLERK)
    for day in ("9999-12-31", "2999-12-31", "2027-01-11"):
        far = _post(api, clerk, PATH, {"person": who, "disease": "E11", "valid_from": day})
        assert far.status_code == 200, far.text
        assert far.json()["infcode"] == INVALID_FIELD, far.text
        assert far.json()["err_msg"].startswith("valid_from: "), far.text
    listed = api.client.get(PATH, params={"person": who}, headers=_auth(clerk))
    assert listed.json()["certifications"] == []
    made = _post(api, clerk, PATH, {"person": who, "disease": "E11", "valid_from": "2027-01-10"})
    assert made.json()["valid_to"] == "2029-01-09", made.text
    again = _post(api, clerk, f"{PATH}/{made.json()['id']}/renew").json()
    assert again["infcode"] == INVALID_FIELD and again["err_msg"].startswith("certification: ")
    now = _post(api, clerk, PATH, {"person": who, "disease": "I10"}).json()
    assert now["valid_to"] == "2027-01-09"
    renewed = _post(api, clerk, f"{PATH}/{now['id']}/renew").json()
    assert renewed["valid_to"] == "2029-01-09", renewed
    twice = _post(api, clerk, f"{PATH}/{now['id']}/renew").json()
    assert twice["infcode"] == INVALID_FIELD, twice
    listed = api.client.get(PATH, params={"person": who}, headers=_auth(clerk)).json()
    assert [c["valid_to"] for c in listed["certifications"]] == ["2029-01-09", "2029-01-09"]


def test_reads_and_changes_of_a_persons_certifications_are_audited_against_the_person(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing a person's certifications is a read of their file: audited with their person
    id (found by ``GET /api/v1/audit?person_id=``) and a target naming them by id, never the
    national ID; a certification's changes too. A ``person`` longer than any ID is refused."""
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 3)
    with uow:
        pid = uow.persons.require(who).id
    clerk = api.staff(Role.ENROLMENT_CLERK)
    made = _post(api, clerk, PATH, {"person": who, "disease": "E11"}).json()
    listed = api.client.get(PATH, params={"person": who}, headers=_auth(clerk))
    assert listed.status_code == 200, listed.text
    long = api.client.get(PATH, params={"person": "1" * 5000}, headers=_auth(clerk))
    assert long.status_code == 400 and "person" in long.json()["err_msg"], long.text
    with Session(api.engine) as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.action.like("chronic:%"))).all()
        got = [(r.action, r.outcome, r.person_id, r.target) for r in rows]
    assert got == [
        ("chronic:certify", "ok", pid, f"chronic:{made['id']}"),
        ("chronic:read", "ok", pid, f"person:{pid}"),
    ]
    admin = api.staff(Role.ADMINISTRATOR)
    log = api.staff_get(admin, f"/api/v1/audit?person_id={pid}").json()
    assert {e["action"] for e in log} >= {"chronic:read", "chronic:certify"}


def test_a_person_named_by_person_number(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``person`` is the national ID or the person number (as documented): certifying and
    listing by the person number reach the same person; a malformed one is refused naming
    ``person``."""
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 3)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    clerk = api.staff(Role.ENROLMENT_CLERK)
    made = _post(api, clerk, PATH, {"person": psn_no, "disease": "E11"})
    assert made.json().get("disease") == "E11", made.text
    listed = api.client.get(PATH, params={"person": psn_no}, headers=_auth(clerk)).json()
    assert [c["id"] for c in listed["certifications"]] == [made.json()["id"]]
    by_id = api.client.get(PATH, params={"person": who}, headers=_auth(clerk)).json()
    assert by_id == listed
    bad = api.client.get(PATH, params={"person": "12a"}, headers=_auth(clerk)).json()
    assert bad["infcode"] == INVALID_FIELD and bad["err_msg"].startswith("person: "), bad
    unknown = api.client.get(PATH, params={"person": "999999"}, headers=_auth(clerk)).json()
    assert unknown["infcode"] == 3001, unknown
