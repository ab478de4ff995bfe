"""Issue 10, items 10 and 12: refusals audited (authentication before a caller is known, records
not the caller's under /fhir, a msgid sent again), never failing the request, within a budget;
keys and tokens revoked by command and by administrators' routes. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403
from tests.api_support import TX, Api, Inst
from tests.store_support import nid
from tests.test_api_settlement import employee
from yibao.api.http.audit import WINDOW, RefusalBudget
from yibao.cli import api as api_cli
from yibao.domain.roles import Role
from yibao.services import enrolment, registry
from yibao.store.api_models import AuditRow
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork

runner = CliRunner()


def rows(engine: Engine, action: str | None = None) -> list[AuditRow]:
    with Session(engine) as s:
        q = select(AuditRow).order_by(AuditRow.id)
        if action is not None:
            q = q.where(AuditRow.action == action)
        return list(s.scalars(q))


def fields(r: AuditRow) -> str:
    return " ".join(str(v) for v in (r.actor, r.role, r.action, r.target, r.msgid, r.detail))


# ------------------------------------------------------------------------- item 10: refusals


def test_authentication_refusals_audited_without_secrets(api: Api, uow: UnitOfWork) -> None:
    inst = api.institution()
    body = api.envelope(inst.code, "1101", {"certno": nid(1)})
    tampered = api.signed(inst, TX, body)
    assert api.client.post(TX, content=body + b" ", headers=tampered).status_code == 401
    late = api.signed(inst, TX, body, timestamp=int(time.time()) - 1000)
    assert api.client.post(TX, content=body, headers=late).json()["infcode"] == 2002
    registry.add_person(uow, nid(1), "张三")
    fresh = api.signed(inst, TX, body)
    assert api.client.post(TX, content=body, headers=fresh).json()["infcode"] == 0
    assert api.client.post(TX, content=body, headers=fresh).json()["infcode"] == 2003
    foreign = {
        **api.signed(inst, TX, body),
        "X-Yibao-Institution": "H9\x01",
        "X-Yibao-Key-Id": "kx",
    }
    assert api.client.post(TX, content=body, headers=foreign).status_code == 401
    assert api.client.post(TX, content=body).json()["infcode"] == 2001
    token = "t" * 43
    assert api.staff_get(token, "/api/v1/audit").status_code == 401

    found = [(r.actor, r.role, r.action, r.outcome, r.target) for r in rows(api.engine)
             if r.action.startswith("auth:")]  # fmt: skip
    signed = (f"inst:{inst.code}", "unknown", "auth:signature", "refused", f"POST {TX}")
    assert found == [
        signed,  # signature does not match
        signed,  # timestamp too old
        signed,  # nonce replayed
        ("inst:H9?", "unknown", "auth:signature", "refused", f"POST {TX}"),
        ("anonymous", "unknown", "auth:signature", "refused", f"POST {TX}"),
        ("staff:?", "unknown", "auth:token", "refused", "GET /api/v1/audit"),
    ]
    details = [r.detail or "" for r in rows(api.engine) if r.action.startswith("auth:")]
    assert details[0].startswith(f"key {inst.key_id}; [2001] signature does not match")
    assert details[1].startswith(f"key {inst.key_id}; [2002]")
    assert details[2].startswith(f"key {inst.key_id}; [2003]")
    assert details[3].startswith("key kx; [2001]") and details[5].startswith("unknown token")
    everything = " ".join(fields(r) for r in rows(api.engine))
    for secret in (fresh["X-Yibao-Signature"], tampered["X-Yibao-Signature"], token, inst.key):
        assert secret not in everything
    assert nid(1) not in everything and "clerk-1" not in everything  # nothing of the body


def test_msgid_sent_again_audited(api: Api, uow: UnitOfWork) -> None:
    registry.add_person(uow, nid(1), "张三")
    inst = api.institution()
    first = api.tx(inst, "1101", {"certno": nid(1)}, msgid="m-1")
    again = api.tx(inst, "1101", {"certno": nid(1)}, msgid="m-1")  # a new nonce, the same msgid
    assert first["infcode"] == again["infcode"] == 0
    entries = [
        (r.actor, r.action, r.outcome, r.msgid, r.detail) for r in rows(api.engine, "tx:1101")
    ]
    assert entries[1:] == [
        (f"inst:{inst.code}", "tx:1101", "ok", "m-1",
         "msgid sent again: its first answer returned (infcode 0)"),
    ]  # fmt: skip
    assert entries[0][2:4] == ("ok", "m-1") and entries[0][4] == "person and coverage read"


def _insured_pair(api: Api, uow: UnitOfWork) -> tuple[str, int, int]:
    """A token of insured person A, the person id of B and the id of B's enrolment."""
    a = registry.add_person(uow, nid(1), "甲")
    b = registry.add_person(uow, nid(3), "乙")
    e = enrolment.enrol(uow, b.label, "resident", "360100", dt.date(2024, 1, 1))
    assert a.id is not None and b.id is not None and e.id is not None
    return api.staff(Role.INSURED_PERSON, username="jia", psn_no=a.id), b.id, e.id


def test_fhir_refusals_of_records_not_yours_audited(
    api: Api, uow: UnitOfWork, engine: Engine
) -> None:
    token, other, coverage_id = _insured_pair(api, uow)
    for path in (
        f"/fhir/Patient/{other}",
        f"/fhir/Coverage?patient={other}",
        f"/fhir/Coverage/{coverage_id}",
    ):
        r = api.staff_get(token, path)
        assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome", path
    ask = {
        "resourceType": "CoverageEligibilityRequest",
        "patient": {"reference": f"Patient/{other}"},
    }
    r = api.client.post("/fhir/CoverageEligibilityRequest/$submit", json=ask,
                        headers={"authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 403
    who = employee(uow, 5)
    with uow:
        psn_no = uow.persons.require(who).id
    inst = api.institution()
    claim = {
        "resourceType": "Claim",
        "identifier": [{"value": "c-1"}],
        "use": "claim",
        "patient": {"reference": f"Patient/{psn_no}"},
        "type": {"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        "billablePeriod": {"start": "2025-05-01"},
        "total": {"value": 20000, "currency": "CNY"},
    }
    body = orjson.dumps(claim)
    path = "/fhir/Claim/$submit"
    setl_id = api.client.post(path, content=body, headers=api.signed(inst, path, body)).json()["id"]
    stranger = api.institution("H36010002")
    assert api.get(stranger, f"/fhir/ExplanationOfBenefit/{setl_id}").status_code == 403

    denied = [(r.actor, r.action, r.outcome, r.person_id, r.target) for r in rows(engine)
              if r.outcome == "denied"]  # fmt: skip
    assert denied == [
        ("staff:jia", "fhir:Patient", "denied", other, f"Patient/{other}"),
        ("staff:jia", "fhir:Coverage", "denied", other, f"Coverage?patient={other}"),
        ("staff:jia", "fhir:Coverage", "denied", other, f"Coverage/{coverage_id}"),
        ("staff:jia", "fhir:Eligibility", "denied", other, f"CoverageEligibilityRequest/{other}"),
        ("inst:H36010002", "fhir:ExplanationOfBenefit", "denied", psn_no, setl_id),
    ]


def test_refusal_answered_when_its_audit_cannot_be_written(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, other, _ = _insured_pair(api, uow)
    inst = api.institution()

    def broken(self: ApiRepository, entries: Any) -> None:
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(ApiRepository, "audits", broken)
    monkeypatch.setattr(ApiRepository, "audit", broken)
    body = api.envelope(inst.code, "1101", {"certno": nid(1)})
    assert (
        api.client.post(TX, content=body + b" ", headers=api.signed(inst, TX, body)).status_code
        == 401
    )
    assert api.staff_get("u" * 43, "/api/v1/audit").status_code == 401
    assert api.staff_get(token, f"/fhir/Patient/{other}").status_code == 403
    assert api.staff_get(token, f"/api/v1/persons/{other}").status_code == 403
    assert api.staff_get(token, "/api/v1/audit").status_code == 403  # role refused (_deny)
    r = api.client.post("/api/v1/auth/token", json={"username": "jia", "password": "wrong"})
    assert r.status_code == 401


def test_refusal_budget_counts_what_it_leaves_out() -> None:
    now = [1000.0]
    budget = RefusalBudget(3, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [0, 0, 0, None, None]
    now[0] += WINDOW - 0.5
    assert budget.take() is None  # the same minute
    now[0] += 0.5
    assert [budget.take() for _ in range(4)] == [3, 0, 0, None]  # 3 left out, then a new minute


def test_authentication_refusals_within_the_budget(api: Api) -> None:
    now = [0.0]
    api.settings._refusals = RefusalBudget(2, clock=lambda: now[0])
    for _ in range(5):
        assert api.staff_get("v" * 43, "/api/v1/audit").status_code == 401
    assert len(rows(api.engine, "auth:token")) == 2
    now[0] += WINDOW
    assert api.staff_get("v" * 43, "/api/v1/audit").status_code == 401
    last = rows(api.engine, "auth:token")[-1]
    assert last.detail is not None
    assert last.detail.endswith("(3 earlier refusal(s) over the budget not recorded)")


# ------------------------------------------------------------------ item 12: keys and tokens


def _api_cli(db_url: str, *args: str) -> Any:
    return runner.invoke(api_cli.app, [*args, "--db", db_url])


def _settle_body(api: Api, inst: Inst) -> bytes:
    claim = {"certno": nid(1), "date": "2025-05-01", "med_type": "outpatient", "total": "10.00"}
    return api.envelope(inst.code, "2207", claim)


def test_revoked_key_refused_and_audited(api: Api, db_url: str, uow: UnitOfWork) -> None:
    registry.add_person(uow, nid(1), "张三")
    inst = api.institution()
    assert api.tx(inst, "1101", {"certno": nid(1)})["infcode"] == 0
    done = _api_cli(db_url, "revoke-key", "--institution", inst.code, "--key-id", inst.key_id,
                    "--operator", "boss")  # fmt: skip
    assert done.exit_code == 0 and f"key {inst.key_id} of institution {inst.code} revoked" in (
        done.stdout
    )
    for infno in ("1101", "2207"):  # 2207: the settlement fast path and its batch
        body = api.envelope(inst.code, infno, {"certno": nid(1)}) if infno == "1101" else (
            _settle_body(api, inst))  # fmt: skip
        r = api.client.post(TX, content=body, headers=api.signed(inst, TX, body))
        assert (r.status_code, r.json()["infcode"]) == (401, 2001), infno
        assert "revoked" in r.json()["err_msg"]
    refusals = rows(api.engine, "auth:signature")
    assert len(refusals) == 2
    assert all(r.actor == f"inst:{inst.code}" and "revoked" in (r.detail or "") for r in refusals)
    again = _api_cli(db_url, "revoke-key", "--institution", inst.code, "--key-id", inst.key_id)
    assert again.exit_code == 0 and "already revoked" in again.stdout
    unknown = _api_cli(db_url, "revoke-key", "--institution", inst.code, "--key-id", "k-none")
    assert unknown.exit_code == 2 and "k-none not found: nothing revoked" in unknown.stderr
    other = _api_cli(db_url, "revoke-key", "--institution", "H-OTHER", "--key-id", inst.key_id)
    assert other.exit_code == 2  # a key id is revoked only with its own institution
    revoked = [
        (r.actor, r.role, r.target, r.detail)
        for r in rows(api.engine, "admin:institutions")
        if (r.detail or "").startswith("key revoked")
    ]
    assert revoked == [
        ("cli:boss", "cli", f"{inst.code}/{inst.key_id}", "key revoked"),
        (revoked[1][0], "cli", f"{inst.code}/{inst.key_id}", "key revoked again: it already was"),
    ]
    assert revoked[1][0].startswith("cli:")  # the OS user (or $YIBAO_OPERATOR)
    # a new key of the institution signs again
    fresh = api.institution(inst.code)
    assert api.tx(fresh, "1101", {"certno": nid(1)})["infcode"] == 0


def test_revoke_routes_are_for_administrators(api: Api, db_url: str) -> None:
    inst = api.institution()
    admin = api.staff(Role.ADMINISTRATOR, username="admin")
    clerk = api.staff(Role.ENROLMENT_CLERK, username="clerk")
    key_path = f"/api/v1/admin/institutions/{inst.code}/keys/{inst.key_id}/revoke"
    token_path = "/api/v1/admin/staff/clerk/tokens/revoke"

    def post(token: str, path: str) -> Any:
        r = api.client.post(path, headers={"authorization": f"Bearer {token}"})
        return r.status_code, r.json()

    for path in (key_path, token_path):
        status, out = post(clerk, path)
        assert (status, out["infcode"]) == (403, 2004)
    denied = [(r.actor, r.action, r.outcome) for r in rows(api.engine) if r.outcome == "denied"]
    assert denied == [("staff:clerk", "admin:institutions", "denied"),
                      ("staff:clerk", "admin:staff", "denied")]  # fmt: skip
    assert api.get(inst, "/api/v1/audit").json()["infcode"] == 2004  # the key still works

    status, out = post(admin, key_path)
    assert status == 200 and (out["code"], out["key_id"], out["newly"]) == (
        inst.code,
        inst.key_id,
        True,
    )
    status, again = post(admin, key_path)
    assert again["newly"] is False and again["revoked_at"] == out["revoked_at"]
    assert api.get(inst, "/api/v1/audit").json()["infcode"] == 2001
    status, out = post(admin, f"/api/v1/admin/institutions/{inst.code}/keys/nope/revoke")
    assert out["infcode"] == 3001 and "nothing revoked" in out["err_msg"]
    status, out = post(admin, "/api/v1/admin/institutions/H%01/keys/k/revoke")
    assert (status, out["infcode"]) == (400, 1001)

    assert post(admin, token_path)[1] == {"username": "clerk", "revoked": 1}
    r = api.staff_get(clerk, "/api/v1/audit")
    assert (r.status_code, r.json()["infcode"]) == (401, 2001)
    refused = rows(api.engine, "auth:token")[-1]
    assert refused.actor == "staff:clerk"
    assert refused.detail is not None and refused.detail.startswith("token revoked; [2001]")
    assert post(admin, token_path)[1] == {"username": "clerk", "revoked": 0}  # idempotent
    assert post(admin, "/api/v1/admin/staff/nobody/tokens/revoke")[1]["infcode"] == 3001
    # the command line: the admin's own token
    done = _api_cli(db_url, "revoke-token", "--username", "admin", "--operator", "boss")
    assert done.exit_code == 0 and "admin: 1 live token(s) revoked" in done.stdout
    assert api.staff_get(admin, "/api/v1/audit").status_code == 401
    unknown = _api_cli(db_url, "revoke-token", "--username", "nobody")
    assert unknown.exit_code == 2 and "nobody not found" in unknown.stderr
    staff = [
        (r.actor, r.role, r.target, r.detail)
        for r in rows(api.engine, "admin:staff")
        if "token" in (r.detail or "")
    ]
    assert staff == [
        ("staff:admin", "administrator", "clerk", "1 live token(s) revoked"),
        ("staff:admin", "administrator", "clerk", "0 live token(s) revoked"),
        ("cli:boss", "cli", "admin", "1 live token(s) revoked"),
    ]


def test_revoke_commands_refuse_a_bad_database(tmp_path: Any) -> None:
    bad = runner.invoke(api_cli.app, ["revoke-token", "--username", "a", "--db", "nonsense"])
    assert bad.exit_code == 2 and "--db" in bad.stderr
    empty = f"sqlite:///{tmp_path / 'none.sqlite'}"  # no tables: nothing to revoke in
    r = runner.invoke(
        api_cli.app, ["revoke-key", "--institution", "H", "--key-id", "k", "--db", empty]
    )
    assert r.exit_code == 3 and "nothing revoked" in r.stderr and "Traceback" not in r.output


@given(
    per_window=st.integers(1, 5),
    steps=st.lists(st.one_of(st.just(0.0), st.floats(0.1, 2 * WINDOW)), max_size=60),
)
def test_refusal_budget_never_loses_count(per_window: int, steps: list[float]) -> None:
    """Whatever the arrivals: at most ``per_window`` entries per window (fixed windows: so at
    most twice that in any sliding one), and every refusal is either written or counted in a
    later entry (or still pending)."""
    now = [0.0]
    budget = RefusalBudget(per_window, clock=lambda: now[0])
    written: list[float] = []
    counted = 0
    for step in steps:
        now[0] += step
        got = budget.take()
        if got is not None:
            written.append(now[0])
            counted += got
    for t in written:
        assert sum(1 for u in written if t <= u < t + WINDOW) <= 2 * per_window
    assert len(written) <= per_window * (now[0] // WINDOW + 1)
    assert len(written) + counted + budget._dropped == len(steps)
