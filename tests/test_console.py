"""The staff console (``/console``) over the application as served, on SQLite and PostgreSQL:
sign-in, sessions, CSRF, each route's role, masking, and the audit entries of reads and writes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, nid
from tests.console_support import (
    PASSWORD,
    csrf_of,
    make_staff,
    settled_person,
    sign_in,
    signed_in,
)
from yibao.domain.roles import Role
from yibao.services import registry
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork
from yibao.web import i18n
from yibao.web.session import SESSION_COOKIE, read_session, session_value


def audit(engine: Engine, action: str) -> list[AuditRow]:
    with Session(engine) as s:
        return list(
            s.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id))
        )


def test_pages_need_a_session(api: Api) -> None:
    client = TestClient(api.client.app, raise_server_exceptions=False)
    paths = ("persons", "persons/1", "funds", "institutions", "settlements/X", "")
    for path in (f"/console/{p}" for p in paths):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/signin?next=")
    r = client.post("/console/persons/1/enrol", data={"kind": "resident"}, follow_redirects=False)
    assert r.status_code == 403


def test_sign_in_cookie_and_refusals_audited(api: Api) -> None:
    name = make_staff(api, Role.ENROLMENT_CLERK)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    page = sign_in(client, name, "wrong-password-1")
    assert "用户不存在" in page  # Chinese by default
    assert SESSION_COOKIE not in client.cookies
    denied = audit(api.engine, "auth:login")
    assert denied[-1].outcome == "denied" and denied[-1].actor == f"staff:{name}"
    assert "wrong-password" not in (denied[-1].detail or "")
    # without the form's pre-session value the sign-in is refused outright
    r = client.post("/console/signin", data={"username": name, "password": PASSWORD})
    assert r.status_code == 403
    client.get("/console/signin")
    r = client.post("/console/signin", data={"username": name, "password": PASSWORD, "pre": "x"})
    assert r.status_code == 403
    sign_in(client, name)
    set_cookie = [h for k, h in client.get("/console/persons").headers.items() if k == "set-cookie"]
    assert any("httponly" in h.lower() and "samesite=strict" in h.lower() for h in set_cookie)
    assert audit(api.engine, "auth:login")[-1].outcome == "ok"


def test_insured_persons_and_institutions_do_not_sign_in(api: Api, uow: UnitOfWork) -> None:
    p = registry.add_person(uow, nid(7), "李四")
    from yibao.services.accounts import NewStaff, create_staff

    create_staff(uow, NewStaff(username="ip", role=Role.INSURED_PERSON, password=PASSWORD,
                               psn_no=p.id))  # fmt: skip
    client = TestClient(api.client.app, raise_server_exceptions=False)
    sign_in(client, "ip")
    assert client.get("/console/persons", follow_redirects=False).status_code == 303
    assert audit(api.engine, "auth:login")[-1].detail == "console; role"


def test_idle_session_is_signed_out() -> None:
    value = session_value("s" * 20, "t" * 30, now=1000)
    assert read_session("s" * 20, value, 900, now=1800) is not None
    assert read_session("s" * 20, value, 900, now=1901) is None
    assert read_session("x" * 20, value, 900, now=1000) is None  # another secret
    token, seen, mac = value.split(".")
    assert read_session("s" * 20, f"{token}.{int(seen) + 500}.{mac}", 900, now=1500) is None


def test_search_masked_by_role_and_audited(api: Api, uow: UnitOfWork) -> None:
    p = registry.add_person(uow, nid(1), "张三", phone="13812345678")
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    auditor, _ = signed_in(api, Role.SETTLEMENT_AUDITOR)
    shown = clerk.get("/console/persons", params={"q": p.label}).text
    assert p.label in shown and "张三" in shown
    for q in (p.label, str(p.id), "张"):
        masked = auditor.get("/console/persons", params={"q": q}).text.split("<table")[1]
        assert p.label not in masked and "张*" in masked and "360426********" in masked
    searches = audit(api.engine, "person:search")
    assert len(searches) == 4 and p.label not in " ".join(str(s.target) for s in searches)
    fund, _ = signed_in(api, Role.FUND_MANAGER)
    assert fund.get("/console/persons", params={"q": "张"}).status_code == 403


def test_person_file_read_audited_and_masked(api: Api, uow: UnitOfWork) -> None:
    person_id, setl_id = settled_person(api, uow)
    clerk, clerk_name = signed_in(api, Role.ENROLMENT_CLERK)
    page = clerk.get(f"/console/persons/{person_id}").text
    assert "职工1" in page and "参保登记" in page and setl_id not in page  # clerks: no settlements
    auditor, _ = signed_in(api, Role.SETTLEMENT_AUDITOR)
    page = auditor.get(f"/console/persons/{person_id}").text
    assert "职*" in page and setl_id in page and "职工1" not in page
    reads = audit(api.engine, "person:read")
    assert [r.person_id for r in reads] == [person_id, person_id]
    assert reads[0].actor == f"staff:{clerk_name}" and reads[0].detail == "console; identity shown"
    assert reads[1].detail == "console; identity masked"
    assert clerk.get("/console/persons/999999").status_code == 404
    for absurd in ("99999999999999999999999", "-1", "x"):
        assert clerk.get(f"/console/persons/{absurd}").status_code == 404
    hits = clerk.get("/console/persons", params={"q": "张\x00\u202e"})
    assert hits.status_code == 200


def test_enrol_and_pay_forms(api: Api, uow: UnitOfWork) -> None:
    p = registry.add_person(uow, nid(2), "王五")
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    form = clerk.get(f"/console/persons/{p.id}/enrol").text
    token = csrf_of(form)
    url = f"/console/persons/{p.id}/enrol"
    # no CSRF token: refused, nothing stored
    r = clerk.post(url, data={"kind": "resident", "area": "360100", "on": "2025-01-01"})
    assert r.status_code == 403
    r = clerk.post(
        url, data={"csrf": "0" * 40, "kind": "resident", "area": "360100", "on": "2025-01-01"}
    )
    assert r.status_code == 403
    with uow:
        assert uow.enrolments.latest_for(p.id or 0) is None
    # errors next to the field
    r = clerk.post(url, data={"csrf": token, "kind": "resident", "area": "36", "on": "2025-01-01"})
    assert r.status_code == 422 and 'id="area-error"' in r.text
    r = clerk.post(
        url, data={"csrf": token, "kind": "resident", "area": "360100", "on": "2025-13-01"}
    )
    assert r.status_code == 422 and 'id="on-error"' in r.text
    r = clerk.post(
        url, data={"csrf": token, "kind": "martian", "area": "360100", "on": "2025-01-01"}
    )
    assert r.status_code == 422 and 'id="kind-error"' in r.text
    good = {"csrf": token, "kind": "resident", "area": "360100", "on": "2025-01-01"}
    r = clerk.post(url, data=good, follow_redirects=False)
    assert r.status_code == 303
    r = clerk.post(
        url, data={"csrf": token, "kind": "resident", "area": "360100", "on": "2025-02-01"}
    )
    assert r.status_code == 422 and "kind-error" in r.text  # already enrolled: named
    pay = f"/console/persons/{p.id}/pay"
    r = clerk.post(pay, data={"csrf": token, "kind": "employee", "period": "2025-01",
                              "amount": "１００", "on": "2025-01-20"})  # fmt: skip
    assert r.status_code == 422 and 'id="amount-error"' in r.text
    r = clerk.post(
        pay, data={"csrf": token, "kind": "resident", "period": "20x5", "on": "2025-01-20"}
    )
    assert r.status_code == 422 and 'id="period-error"' in r.text
    good = {"csrf": token, "kind": "resident", "period": "2025", "on": "2025-01-20"}
    r = clerk.post(pay, data=good, follow_redirects=False)
    assert r.status_code == 303
    with uow:
        paid = uow.contributions.for_person(p.id or 0)
    assert [c.kind.value for c in paid] == ["resident"]
    assert [a.action for a in audit(api.engine, "person:enrol")] == ["person:enrol"]
    assert len(audit(api.engine, "person:pay")) == 1
    # an auditor may neither enrol nor pay
    auditor, _ = signed_in(api, Role.SETTLEMENT_AUDITOR)
    assert auditor.get(f"/console/persons/{p.id}/enrol").status_code == 403
    page = auditor.get(f"/console/persons/{p.id}").text
    assert f"/console/persons/{p.id}/pay" not in page
    token = csrf_of(page)
    r = auditor.post(
        pay, data={"csrf": token, "kind": "resident", "period": "2026", "on": "2026-01-20"}
    )
    assert r.status_code == 403


def test_settlement_and_reversal(api: Api, uow: UnitOfWork) -> None:
    person_id, setl_id = settled_person(api, uow)
    admin, _ = signed_in(api, Role.ADMINISTRATOR)
    page = admin.get(f"/console/settlements/{setl_id}")
    assert page.status_code == 200 and "310100" in page.text
    assert "reverse-form" not in page.text  # administrators do not reverse (tx:2208)
    forged = {"csrf": csrf_of(page.text), "reason": "x y", "confirm": "yes"}
    r = admin.post(f"/console/settlements/{setl_id}/reverse", data=forged)
    assert r.status_code == 403
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    assert clerk.get(f"/console/settlements/{setl_id}").status_code == 403
    auditor, name = signed_in(api, Role.SETTLEMENT_AUDITOR)
    page = auditor.get(f"/console/settlements/{setl_id}").text
    assert "reverse-form" in page
    url = f"/console/settlements/{setl_id}/reverse"
    assert auditor.post(url, data={"reason": "duplicate bill", "confirm": "yes"}).status_code == 403
    r = auditor.post(url, data={"csrf": csrf_of(page), "reason": "duplicate bill"})
    assert r.status_code == 422 and 'id="confirm-error"' in r.text
    r = auditor.post(url, data={"csrf": csrf_of(page), "reason": "", "confirm": "yes"})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    r = auditor.post(
        url, data={"csrf": csrf_of(page), "reason": "duplicate bill", "confirm": "yes"}
    )
    assert r.status_code == 200 and "已冲正" in r.text
    with uow:
        stored = uow.settlements.get(setl_id)
    assert stored is not None and stored.status.value == "reversed"
    done = audit(api.engine, "tx:2208")
    assert len(done) == 1 and done[0].actor == f"staff:{name}"
    assert done[0].detail == "console; reason: duplicate bill"
    reads = audit(api.engine, "settlement:read")
    assert {r.person_id for r in reads} == {person_id}
    r = auditor.post(url, data={"csrf": csrf_of(page), "reason": "again", "confirm": "yes"})
    assert r.status_code == 422 and "already reversed" in r.text


def test_funds_page_and_roles(api: Api, uow: UnitOfWork) -> None:
    settled_person(api, uow)
    manager, _ = signed_in(api, Role.FUND_MANAGER)
    page = manager.get("/console/funds").text
    assert 'id="ledger-ok"' in page and "<svg" in page and 'data-tip="' in page
    assert "310100" in page and "/console/persons" not in page.split("<main")[0]
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    assert clerk.get("/console/funds").status_code == 403


def test_institutions_are_for_administrators(api: Api) -> None:
    inst = api.institution("H36019999")
    auditor, _ = signed_in(api, Role.SETTLEMENT_AUDITOR)
    assert auditor.get("/console/institutions").status_code == 403
    admin, name = signed_in(api, Role.ADMINISTRATOR)
    page = admin.get("/console/institutions").text
    assert inst.key_id in page and "定点医疗机构" in page  # its kind (定点医药机构类别)
    url = f"/console/institutions/{inst.code}/keys/{inst.key_id}/revoke"
    assert admin.post(url, data={}).status_code == 403
    page_token = csrf_of(page)
    assert auditor.post(url, data={"csrf": page_token}).status_code == 403  # another session's
    r = admin.post(url, data={"csrf": page_token})
    assert r.status_code == 200 and "已吊销" in r.text
    revoked = audit(api.engine, "admin:institutions")
    assert revoked[-1].actor == f"staff:{name}" and revoked[-1].detail == "key revoked"


def test_sign_out_ends_the_session(api: Api) -> None:
    clerk, name = signed_in(api, Role.ENROLMENT_CLERK)
    page = clerk.get("/console/persons").text
    cookie = clerk.cookies.get(SESSION_COOKIE)
    assert clerk.post("/console/signout", data={}).status_code == 403  # CSRF
    r = clerk.post("/console/signout", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    replay = TestClient(api.client.app, raise_server_exceptions=False)
    replay.cookies.set(SESSION_COOKIE, cookie or "", path="/console")
    assert replay.get("/console/persons", follow_redirects=False).status_code == 303
    assert audit(api.engine, "auth:logout")[-1].actor == f"staff:{name}"


def test_english_and_chinese(api: Api) -> None:
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    assert "查找参保人" in clerk.get("/console/persons").text
    clerk.get("/console/lang/en?next=/console/persons")
    assert "Find an insured person" in clerk.get("/console/persons").text
    r = clerk.get("/console/lang/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/console/"


def test_every_console_text_has_its_chinese() -> None:
    import re
    from pathlib import Path

    web = Path(i18n.__file__).parent
    zh = i18n.translations("zh")
    texts = set()
    for f in [*web.glob("templates/*.html"), *web.glob("*.py")]:
        for m in re.finditer(
            r"""_\(\s*"([^"]+)"\s*\)|_\(\s*'((?:[^'\\]|\\.)+)'\s*\)""", f.read_text()
        ):
            texts.add(m.group(1) or m.group(2).replace("\\'", "'"))
    assert len(texts) > 100
    assert [t for t in texts if zh.gettext(t) == t] == []
