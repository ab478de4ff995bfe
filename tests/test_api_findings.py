"""Supervision findings over the API for auditors, on SQLite and PostgreSQL: the auditor lists
and reads findings with their evidence and works one to recovery; other roles are refused what
the auditor role alone may do; every read is audited (docs/supervision.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_store_supervision import AREA, YEAR, evidence
from yibao.domain.roles import Role
from yibao.services.supervision import findings
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork


def test_an_auditor_works_a_finding_to_recovery(api: Api) -> None:
    findings.record(UnitOfWork.for_engine(api.engine), evidence(), AREA, YEAR)
    auditor = api.staff(Role.SETTLEMENT_AUDITOR, "auditor-wang")
    listed = api.staff_get(auditor, f"/api/v1/findings?area={AREA}&year={YEAR}&status=open")
    assert listed.status_code == 200, listed.text
    split = next(f for f in listed.json() if f["rule"] == "split_admission")
    one = api.staff_get(auditor, f"/api/v1/findings/{split['id']}").json()
    assert one["evidence"] == [{"line": None, "other_claim": "9", "amount": 80000}]
    assert "national_id" not in one and "name" not in one
    h = {"authorization": f"Bearer {auditor}"}
    bad = api.client.post(
        f"/api/v1/findings/{split['id']}/confirm", json={"recovery": "1.001"}, headers=h
    )
    assert bad.json()["infcode"] == 1003 and "recovery" in bad.json()["err_msg"], bad.text
    early = api.client.post(f"/api/v1/findings/{split['id']}/recover", json={}, headers=h)
    assert early.json()["infcode"] != 0 and "open to recovered" in early.json()["err_msg"]
    ok = api.client.post(
        f"/api/v1/findings/{split['id']}/confirm", json={"recovery": "800.00"}, headers=h
    )
    assert ok.status_code == 200, ok.text
    done = api.client.post(
        f"/api/v1/findings/{split['id']}/recover", json={"on": "2026-02-01"}, headers=h
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "recovered"
    assert [a["by"] for a in done.json()["actions"]] == ["staff:auditor-wang"] * 2
    scores = api.staff_get(auditor, f"/api/v1/findings/scores?area={AREA}&year={YEAR}").json()
    assert scores == {"H1": 100, "H2": 90}
    with Session(api.engine) as s:
        actions = set(
            s.scalars(select(AuditRow.action).where(AuditRow.actor == "staff:auditor-wang"))
        )
    assert {"findings:read", "findings:work"} <= actions


def test_other_roles_cannot_reach_findings(api: Api) -> None:
    findings.record(UnitOfWork.for_engine(api.engine), evidence(), AREA, YEAR)
    first = findings.list_findings(UnitOfWork.for_engine(api.engine))[0]
    for role in (Role.ENROLMENT_CLERK, Role.FUND_MANAGER):
        token = api.staff(role)
        r = api.staff_get(token, "/api/v1/findings")
        assert r.status_code == 403, (role, r.text)
        r = api.client.post(
            f"/api/v1/findings/{first.id}/confirm",
            json={"recovery": "1"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 403, (role, r.text)
    admin = api.staff(Role.ADMINISTRATOR)
    assert api.staff_get(admin, "/api/v1/findings").status_code == 200
    r = api.client.post(
        f"/api/v1/findings/{first.id}/dismiss",
        json={"reason": "no"},
        headers={"authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 403
    inst = api.institution()
    assert api.get(inst, "/api/v1/findings").status_code == 403
    assert findings.show(UnitOfWork.for_engine(api.engine), first.id).status == "open"


def test_an_id_beyond_64_bits_is_a_field_error_not_a_500(api: Api) -> None:
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    r = api.staff_get(auditor, "/api/v1/findings/969170830000604839936")
    assert r.status_code < 500 and r.json()["infcode"] != -1, r.text
    assert api.staff_get(auditor, "/api/v1/findings/42").json()["infcode"] == 3001


def test_recovery_amount_and_day_are_checked_and_a_refusal_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recovery is a yuan amount as everywhere (``policy.money.parse_yuan``): exponent
    notation, full-width digits and digit separators are refused naming ``recovery``; the day
    recovered is not after today nor before the finding's year (a ledger posting dated 9999 was
    made); a refused recovery leaves the finding confirmed and posts nothing."""
    monkeypatch.setenv("YIBAO_TODAY", "2026-03-01")
    findings.record(UnitOfWork.for_engine(api.engine), evidence(), AREA, YEAR)
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    h = {"authorization": f"Bearer {auditor}"}
    fid = api.staff_get(auditor, "/api/v1/findings").json()[0]["id"]
    for amount in ("1E+2", "１", "1_0", "1e300", "-5", "NaN"):
        bad = api.client.post(
            f"/api/v1/findings/{fid}/confirm", json={"recovery": amount}, headers=h
        )
        assert bad.json()["infcode"] == 1003, (amount, bad.text)
        assert bad.json()["err_msg"].startswith("recovery: "), bad.text
    assert findings.show(UnitOfWork.for_engine(api.engine), fid).status == "open"
    ok = api.client.post(f"/api/v1/findings/{fid}/confirm", json={"recovery": "15.50"}, headers=h)
    assert ok.json()["recovery"] == 1550, ok.text
    for day in ("9999-12-31", "2026-03-02", "1800-01-01", f"{YEAR - 1}-12-31"):
        r = api.client.post(f"/api/v1/findings/{fid}/recover", json={"on": day}, headers=h)
        assert r.json()["infcode"] == 1003 and r.json()["err_msg"].startswith("on: "), r.text
    after = findings.show(UnitOfWork.for_engine(api.engine), fid)
    assert (after.status, len(after.actions)) == ("confirmed", 1)
    done = api.client.post(f"/api/v1/findings/{fid}/recover", json={"on": "2026-03-01"}, headers=h)
    assert done.json()["status"] == "recovered", done.text


def test_an_unknown_status_or_rule_filter_is_refused_naming_it(api: Api) -> None:
    auditor = api.staff(Role.SETTLEMENT_AUDITOR)
    for query, field in (("status=%27", "status"), ("rule=x%27--", "rule")):
        r = api.staff_get(auditor, f"/api/v1/findings?{query}").json()
        assert r["infcode"] == 1003 and r["err_msg"].startswith(f"{field}: "), r
        assert "open" in r["err_msg"] if field == "status" else "split_admission" in r["err_msg"]
