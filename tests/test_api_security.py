"""Authentication, roles, masking and the audit log of the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tests.api_support import *  # noqa: F403
from tests.api_support import TX, Api
from tests.store_support import nid
from yibao.api.roles import PERMISSIONS, Role, allowed
from yibao.api.security import check_password, hash_password, institution_key, sign
from yibao.domain.masking import mask_name, mask_national_id, mask_phone
from yibao.services import enrolment, registry
from yibao.store.uow import UnitOfWork

# ------------------------------------------------------------------------- without a database


def test_masks() -> None:
    assert mask_national_id("360426198506150019") == "360426********0019"
    assert mask_name("张三丰") == "张**"
    assert mask_name("李") == "*"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_national_id(None) is None


def test_signature_covers_body_time_nonce_method_and_path() -> None:
    key = institution_key("secret-0123456789", "H1", "k1")
    assert key != institution_key("secret-0123456789", "H2", "k1")
    base = sign(key, "100", "n", "POST", "/api/v1/tx", b"{}")
    assert base != sign(key, "101", "n", "POST", "/api/v1/tx", b"{}")
    assert base != sign(key, "100", "m", "POST", "/api/v1/tx", b"{}")
    assert base != sign(key, "100", "n", "GET", "/api/v1/tx", b"{}")
    assert base != sign(key, "100", "n", "POST", "/api/v1/tx", b"{ }")


def test_passwords() -> None:
    stored = hash_password("correct horse")
    assert check_password("correct horse", stored)
    assert not check_password("wrong", stored)
    assert not check_password("x", "garbage")


def test_every_action_has_roles() -> None:
    for action, roles in PERMISSIONS.items():
        assert roles, action
    assert allowed(Role.INSTITUTION, "tx:2207")
    assert not allowed(Role.FUND_MANAGER, "tx:2207")
    assert not allowed(Role.INSTITUTION, "audit:read")


# ------------------------------------------------------------------------------ requests


def _person(uow: UnitOfWork, n: int = 1) -> tuple[int, str]:
    p = registry.add_person(uow, nid(n), "张三", phone="13812345678", region="360100")
    enrolment.enrol(uow, p.label, "resident", "360100", dt.date(2025, 1, 1))
    assert p.id is not None
    return p.id, p.label


def test_unsigned_request_refused(api: Api) -> None:
    inst = api.institution()
    body = api.envelope(inst.code, "1101", {"certno": nid(1)})
    r = api.client.post(TX, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert r.json()["infcode"] == 2001
    assert "not authenticated" in r.json()["err_msg"]


def test_bad_signature_refused(api: Api) -> None:
    inst = api.institution()
    body = api.envelope(inst.code, "1101", {"certno": nid(1)})
    headers = api.signed(inst, TX, body)
    tampered = body.replace(b"clerk-1", b"clerk-2")
    r = api.client.post(TX, content=tampered, headers=headers)
    assert (r.status_code, r.json()["infcode"]) == (401, 2001)
    assert "signature does not match" in r.json()["err_msg"]
    # a key of another institution
    other = api.institution("H36010002")
    headers = api.signed(other, TX, body)
    headers["X-Yibao-Institution"] = inst.code
    r = api.client.post(TX, content=body, headers=headers)
    assert (r.status_code, r.json()["infcode"]) == (401, 2001)


def test_replayed_request_refused(api: Api, uow: UnitOfWork) -> None:
    _person(uow)
    inst = api.institution()
    body = api.envelope(inst.code, "1101", {"certno": nid(1)})
    headers = api.signed(inst, TX, body)
    first = api.client.post(TX, content=body, headers=headers)
    assert first.status_code == 200 and first.json()["infcode"] == 0
    again = api.client.post(TX, content=body, headers=headers)
    assert (again.status_code, again.json()["infcode"]) == (401, 2003)


def test_expired_timestamp_refused(api: Api) -> None:
    inst = api.institution()
    body = api.envelope(inst.code, "1101", {"certno": nid(1)})
    # well past the 300 s allowed, so that a slow machine between signing and checking cannot
    # bring the timestamp back within it
    for skew in (-360, 360):
        headers = api.signed(inst, TX, body, timestamp=int(time.time()) + skew)
        r = api.client.post(TX, content=body, headers=headers)
        assert (r.status_code, r.json()["infcode"]) == (401, 2002)
        assert "clock" in r.json()["err_msg"]


def test_envelope_of_another_institution_refused(api: Api) -> None:
    inst = api.institution()
    api.institution("H36010002")
    body = api.envelope("H36010002", "1101", {"certno": nid(1)})
    r = api.client.post(TX, content=body, headers=api.signed(inst, TX, body))
    assert (r.status_code, r.json()["infcode"]) == (403, 2005)


def test_bad_and_missing_tokens(api: Api) -> None:
    r = api.staff_get("x" * 40, "/api/v1/audit")
    assert (r.status_code, r.json()["infcode"]) == (401, 2001)
    r = api.client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    assert (r.status_code, r.json()["infcode"]) == (401, 2001)


def test_roles_decide(api: Api, uow: UnitOfWork) -> None:
    _person(uow)
    manager = api.staff(Role.FUND_MANAGER)
    r = api.staff_get(manager, f"/api/v1/persons/{nid(1)}")
    assert (r.status_code, r.json()["infcode"]) == (403, 2004)
    assert api.staff_tx(manager, "1101", {"certno": nid(1)})["infcode"] == 2004
    inst = api.institution()
    assert api.get(inst, "/api/v1/audit").json()["infcode"] == 2004


def test_masking_by_role(api: Api, uow: UnitOfWork) -> None:
    pid, number = _person(uow)
    inst = api.institution()
    out = api.tx(inst, "1101", {"certno": number})
    assert out["infcode"] == 0, out
    base = out["output"]["baseinfo"]
    assert base["certno"] == mask_national_id(number)
    assert base["psn_name"] == "张*"
    assert base["tel"] == "138****5678"
    assert base["brdy"] is None
    assert number not in str(out)

    clerk = api.staff(Role.ENROLMENT_CLERK)
    base = api.staff_get(clerk, f"/api/v1/persons/{number}").json()["baseinfo"]
    assert (base["certno"], base["psn_name"], base["tel"]) == (number, "张三", "13812345678")

    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    base = api.staff_get(auditor, f"/api/v1/persons/{pid}").json()["baseinfo"]
    assert base["certno"] == mask_national_id(number)

    own = api.staff(Role.INSURED_PERSON, psn_no=pid)
    base = api.staff_get(own, f"/api/v1/persons/{pid}").json()["baseinfo"]
    assert base["certno"] == number
    other = registry.add_person(uow, nid(3), "李四")
    r = api.staff_get(own, f"/api/v1/persons/{other.id}")
    assert (r.status_code, r.json()["infcode"]) == (403, 2005)


def test_errors_mask_national_ids(api: Api) -> None:
    inst = api.institution()
    out = api.tx(inst, "1101", {"certno": nid(9)})
    assert out["infcode"] == 3001
    assert nid(9) not in out["err_msg"] and mask_national_id(nid(9)) in out["err_msg"]


def test_audit_log_records_reads_and_writes(api: Api, uow: UnitOfWork, engine: Engine) -> None:
    pid, number = _person(uow)
    inst = api.institution()
    assert api.tx(inst, "1101", {"certno": number}, msgid="m-1")["infcode"] == 0
    clerk = api.staff(Role.ENROLMENT_CLERK, username="clerk")
    api.staff_get(clerk, f"/api/v1/persons/{pid}")
    admin = api.staff(Role.ADMINISTRATOR, username="admin")
    rows = api.staff_get(admin, f"/api/v1/audit?person_id={pid}").json()
    seen = {(r["actor"], r["action"], r["outcome"]) for r in rows}
    assert (f"inst:{inst.code}", "tx:1101", "ok") in seen
    assert ("staff:clerk", "person:read", "ok") in seen
    everything = api.staff_get(admin, "/api/v1/audit").json()
    actions = {r["action"] for r in everything}
    assert {"admin:institutions", "admin:staff", "auth:login"} <= actions
    assert all(r["at"] for r in everything)
    # append-only: the database refuses to change an entry
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
