"""The console's benefit pages over the application as served, on SQLite and PostgreSQL:
chronic-disease certifications on a person's file, major epidemics, the cross-region clearing
and the maternity allowance. Each page and form is refused (403) to a role without its action and
has no link for it; a form without its CSRF token is refused and changes nothing; a refusal is
shown next to the field it names; every read and write is audited as ``staff:<user>``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, nid
from tests.console_support import csrf_of, signed_in
from tests.test_chronic import _employee as chronic_employee
from tests.test_cross_region import settled_months
from tests.test_epidemics import _inpatient
from tests.test_maternity import _employee as maternity_employee
from tests.test_store_settlement import resident
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.domain.roles import Role
from yibao.services import ledger, registry, settlement
from yibao.store.api_models import AuditRow
from yibao.store.chronic_models import ChronicCertificationRow
from yibao.store.models import LedgerTransactionRow
from yibao.store.uow import UnitOfWork


def audit(engine: Engine, action: str) -> list[AuditRow]:
    with Session(engine) as s:
        return list(
            s.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id))
        )


def nav(html: str) -> str:
    return html.split("<main")[0]


def person_id(uow: UnitOfWork, label: str) -> int:
    with uow:
        found = uow.persons.require(label).id
    assert found is not None
    return found


def transactions(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(LedgerTransactionRow)) or 0)


def error_of(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error" role="alert">([^<]*)<', html)
    assert found, html
    return found.group(1)


# ------------------------------------------------------------------ chronic and special diseases


def test_chronic_certify_renew_end_on_the_file(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    pid = person_id(uow, chronic_employee(uow, 3))
    clerk, name = signed_in(api, Role.ENROLMENT_CLERK)
    page = clerk.get(f"/console/persons/{pid}").text
    assert "门诊慢特病" in page and f"/console/persons/{pid}/chronic/certify" in page
    form = clerk.get(f"/console/persons/{pid}/chronic/certify").text
    assert '<option value="E11">E11 糖尿病</option>' in form  # the area's list
    token = csrf_of(form)
    url = f"/console/persons/{pid}/chronic/certify"
    # no CSRF token: refused, nothing stored
    assert clerk.post(url, data={"disease": "E11"}).status_code == 403
    with Session(api.engine) as s:
        assert s.scalar(select(func.count()).select_from(ChronicCertificationRow)) == 0
    r = clerk.post(url, data={"csrf": token, "disease": "", "valid_from": "2025-01-10"})
    assert r.status_code == 422
    assert error_of(r.text, "disease").startswith("disease: a disease code is required")
    r = clerk.post(url, data={"csrf": token, "disease": "E11", "valid_from": "2025-01-09"})
    assert r.status_code == 422 and "is in the past" in error_of(r.text, "valid_from")
    r = clerk.post(url, data={"csrf": token, "disease": "E11", "valid_from": "2025-02-30"})
    assert r.status_code == 422 and "not a date" in error_of(r.text, "valid_from")
    r = clerk.post(url, data={"csrf": token, "disease": "ZZ9", "valid_from": ""})
    assert r.status_code == 422 and "is not on the list" in error_of(r.text, "disease")
    r = clerk.post(
        url, data={"csrf": token, "disease": "E11", "valid_from": ""}, follow_redirects=False
    )
    assert r.status_code == 303
    cert_url = r.headers["location"].split("?")[0]
    cert_id = int(cert_url.rsplit("/", 1)[1])
    # the area's validity is 24 months: 2025-01-10 to 2027-01-09
    page = clerk.get(r.headers["location"]).text
    assert "已认定。" in page and "2025-01-10" in page and "2027-01-09" in page
    r = clerk.post(url, data={"csrf": token, "disease": "E11", "valid_from": ""})
    assert r.status_code == 422 and "already exists" in error_of(r.text, "general")
    # renewed for 24 months more from the day after its last day: to 2029-01-09
    r = clerk.post(f"{cert_url}/renew", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "2029-01-09" in clerk.get(cert_url).text
    end = f"{cert_url}/end"
    r = clerk.post(end, data={"csrf": token, "last_day": "2025-01-01", "reason": "x"})
    assert r.status_code == 422 and "is in the past" in error_of(r.text, "last_day")
    r = clerk.post(end, data={"csrf": token, "last_day": "2025-02-28", "reason": "cured"},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    page = clerk.get(cert_url).text
    assert "2025-02-28" in page and "已终止" in page and 'id="renew-form"' not in page
    r = clerk.post(f"{cert_url}/renew", data={"csrf": token})
    assert r.status_code == 422 and "is ended" in error_of(r.text, "renew")
    assert [a.detail for a in audit(api.engine, "chronic:certify")] == [
        "console; certify E11 2025-01-10 to 2027-01-09 (active)",
        "console; renew E11 2025-01-10 to 2029-01-09 (active)",
        "console; end E11 2025-01-10 to 2025-02-28 (ended)",
    ]
    assert {a.actor for a in audit(api.engine, "chronic:certify")} == {f"staff:{name}"}
    reads = audit(api.engine, "chronic:read")
    assert reads and {r.person_id for r in reads} == {pid}
    # the auditor reads and certifies (masked identity); the fund manager neither
    auditor, _ = signed_in(api, Role.SETTLEMENT_AUDITOR)
    page = auditor.get(f"/console/persons/{pid}").text
    assert f"/console/chronic/{cert_id}" in page
    r = auditor.post(url, data={"csrf": csrf_of(page), "disease": "E11", "valid_from": ""})
    assert r.status_code == 422 and "360426********" in error_of(r.text, "general")  # masked
    # a person never enrolled: no list to choose from, and refused as not insured
    lone = registry.add_person(uow, nid(8), "李四").id
    form = clerk.get(f"/console/persons/{lone}/chronic/certify").text
    assert "<select" not in form.split("<main")[1]
    r = clerk.post(f"/console/persons/{lone}/chronic/certify",
                   data={"csrf": token, "disease": "E11", "valid_from": ""})  # fmt: skip
    assert r.status_code == 422 and "not insured" in error_of(r.text, "general")
    manager, _ = signed_in(api, Role.FUND_MANAGER)
    assert manager.get(cert_url).status_code == 403
    assert manager.get(url).status_code == 403
    page = manager.get("/console/funds").text
    assert manager.post(f"{cert_url}/renew", data={"csrf": csrf_of(page)}).status_code == 403
    assert clerk.get("/console/chronic/999999").status_code == 404
    assert clerk.get("/console/chronic/0").status_code == 404


# ------------------------------------------------------------------------------ epidemics


def test_epidemics_declare_advance_clear_end(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-15")
    admin, admin_name = signed_in(api, Role.ADMINISTRATOR)
    page = admin.get("/console/epidemics").text
    assert "/console/epidemics" in nav(page) and 'id="declare-form"' in page
    token = csrf_of(page)
    good = {"csrf": token, "area": "360100", "name": "COVID-19", "starts_on": "2025-05-01",
            "ends_on": "", "diseases": "u07， J12", "groups": ["student"]}  # fmt: skip
    assert admin.post("/console/epidemics", data={**good, "csrf": ""}).status_code == 403
    for field, bad, says in (
        ("area", "36", "6-digit"),
        ("name", " ", "missing"),
        ("starts_on", "2025-06-16", "after today"),
        ("ends_on", "2025-04-30", "before the epidemic starts"),
        ("diseases", "U0", "ICD-10"),
    ):
        r = admin.post("/console/epidemics", data={**good, field: bad})
        assert r.status_code == 422 and says in error_of(r.text, field), (field, r.text)
    r = admin.post("/console/epidemics", data={**good, "diseases": "", "groups": []})
    assert r.status_code == 422 and "at least one" in error_of(r.text, "diseases")
    r = admin.post("/console/epidemics", data={**good, "groups": ["martians"]})
    assert r.status_code == 422 and "must be among" in error_of(r.text, "groups")
    r = admin.post("/console/epidemics", data=good, follow_redirects=False)
    assert r.status_code == 303
    ep_url = r.headers["location"].split("?")[0]
    page = admin.get(r.headers["location"]).text
    assert "已宣布。" in page and "U07, J12" in page and "学生" in page
    assert 'id="end-form"' in page and 'id="advance-form"' not in page  # advances: fund managers

    # R, U07.1 (listed), 10000.00 inpatient: scope 10000 − 500 over the price limit = 9500.00,
    # (9500 − 400) × 75% = 6825.00 from the fund, 2000.00 moved into scope by the exemption
    r_ = resident(uow, 3)
    covered = settlement.settle(uow, _inpatient(uow, r_, dt.date(2025, 5, 10), "U07.1", "c"), "r")
    assert covered.amounts["hifp_pay"] == 6_825_00

    manager, manager_name = signed_in(api, Role.FUND_MANAGER)
    page = manager.get(ep_url).text
    assert 'id="advance-form"' in page and 'id="end-form"' not in page
    assert covered.setl_id is not None and covered.setl_id in page
    report = page.split('id="report"')[1]
    assert "6825.00" in report and "2000.00" in report
    token = csrf_of(page)
    assert manager.post("/console/epidemics", data={**good, "csrf": token}).status_code == 403
    adv = f"{ep_url}/advance"
    api.institution("H1")
    before = transactions(api.engine)
    for field, value, says in (
        ("institution", "H404", "not a registered institution"),
        ("amount", "-1", "amount"),
        ("amount", "１００", "amount"),
        ("amount", "0", "more than 0"),
        ("institution", "", "required"),
        ("on", "2025-04-30", "outside"),
        ("on", "2025-06-16", "after today"),
    ):
        data = {"csrf": token, "institution": "H1", "amount": "500.00", "on": "2025-05-02"}
        r = manager.post(adv, data={**data, field: value})
        assert r.status_code == 422 and says in error_of(r.text, f"adv_{field}"), (field, value)
    assert transactions(api.engine) == before
    data = {"csrf": token, "institution": "H1", "amount": "500.00", "on": "2025-05-02"}
    assert manager.post(adv, data=data, follow_redirects=False).status_code == 303
    with uow:
        account = uow.ledger.account(AccountRef.fund(AccountKind.EPIDEMIC_ADVANCE, "360100"))
    assert account is not None and account.natural_balance == 500_00
    clear = f"{ep_url}/clear"
    r = manager.post(clear, data={"csrf": token, "institution": "H2", "on": "2025-06-01"})
    assert r.status_code == 422 and "nothing was advanced" in error_of(r.text, "general")
    r = manager.post(clear, data={"csrf": token, "institution": "H1", "on": "2025-06-01"},
                     follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    r = manager.post(clear, data={"csrf": token, "institution": "H1", "on": "2025-06-02"})
    assert r.status_code == 422 and "cleared before" in error_of(r.text, "general")
    assert [a.detail for a in audit(api.engine, "epidemic:advance")] == ["console; H1 500.00"]
    assert [a.actor for a in audit(api.engine, "epidemic:clear")] == [f"staff:{manager_name}"]
    assert manager.post(f"{ep_url}/end", data={"csrf": token, "ends_on": "2025-06-10"}
                        ).status_code == 403  # fmt: skip

    token = csrf_of(admin.get(ep_url).text)
    r = admin.post(f"{ep_url}/end", data={"csrf": token, "ends_on": "2025-04-01"})
    assert r.status_code == 422 and "before the epidemic starts" in error_of(r.text, "ends_on")
    r = admin.post(f"{ep_url}/end", data={"csrf": token, "ends_on": "2025-06-10"},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert 'id="end-form"' not in admin.get(ep_url).text
    r = admin.post(f"{ep_url}/end", data={"csrf": token, "ends_on": "2025-06-11"})
    assert r.status_code == 422 and "ended on 2025-06-10" in error_of(r.text, "general")
    assert [a.actor for a in audit(api.engine, "epidemic:end")] == [f"staff:{admin_name}"]
    reads = audit(api.engine, "epidemic:read")
    assert {r.actor for r in reads} == {f"staff:{admin_name}", f"staff:{manager_name}"}
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    assert "/console/epidemics" not in nav(clerk.get("/console/persons").text)
    assert clerk.get("/console/epidemics").status_code == 403
    assert clerk.get(ep_url).status_code == 403
    assert admin.get("/console/epidemics/999999").status_code == 404
    assert ledger.reconcile(uow).ok


# -------------------------------------------------------------------- cross-region clearing


def test_cross_region_statements_and_clearing(api: Api) -> None:
    settled_months(UnitOfWork.for_engine(api.engine))
    manager, name = signed_in(api, Role.FUND_MANAGER)
    page = manager.get("/console/funds").text
    assert "/console/cross-region" in nav(page)
    page = manager.get("/console/cross-region", params={"month": "2025-05"}).text
    table = page.split('id="statements"')[1].split("</table>")[0]
    # Beijing: R and E, owed 6450 + 300 + 700 (account) = 7450.00; Hefei: R4 14700 less R3's
    # reversed April settlement 7200 = 7500.00
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>.*?</tr>", table)
    assert rows == [("360100", "110100"), ("360100", "340100")]
    assert "7450.00" in table and "7500.00" in table and "未清算" in table
    lines = manager.get(
        "/console/cross-region", params={"month": "2025-05", "treating_area": "110100",
                                         "lines": "true"}
    ).text  # fmt: skip
    assert "x-r" not in lines and lines.count("/console/settlements/") == 2
    r = manager.get("/console/cross-region", params={"month": "2025-13"})
    assert r.status_code == 422 and "YYYY-MM" in error_of(r.text, "month")
    r = manager.get(
        "/console/cross-region",
        params={"month": "2025-05", "insured_area": "360100", "treating_area": "360100"},
    )
    assert r.status_code == 422 and "two areas" in error_of(r.text, "treating_area")
    token = csrf_of(page)
    before = transactions(api.engine)
    assert manager.post("/console/cross-region/clear", data={"month": "2025-05"}).status_code == 403
    r = manager.post(
        "/console/cross-region/clear", data={"csrf": token, "month": "2025-05", "on": "2025-05-30"}
    )
    assert r.status_code == 422 and "is not over" in error_of(r.text, "month")
    assert transactions(api.engine) == before
    r = manager.post(
        "/console/cross-region/clear",
        data={"csrf": token, "month": "2025-05", "on": "2025-06-03"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "done=2" in r.headers["location"]
    page = manager.get(r.headers["location"]).text
    assert "7450.00 于 2025-06-03" in page and "本次清算的地区对数: 2" in page
    forged = manager.get("/console/cross-region", params={"month": "2025-05", "done": "all!"})
    assert "本次清算的地区对数" not in forged.text  # only a count is shown
    assert transactions(api.engine) == before + 2
    r = manager.post(
        "/console/cross-region/clear",
        data={"csrf": token, "month": "2025-05", "on": "2025-06-04"},
        follow_redirects=False,
    )
    assert "done=0" in r.headers["location"] and transactions(api.engine) == before + 2
    cleared = [a for a in audit(api.engine, "funds:cross_region") if "cleared" in (a.detail or "")]
    assert [a.actor for a in cleared] == [f"staff:{name}"] * 2
    assert (
        cleared[0].detail is not None and "cross_region:360100:110100:2025-05" in cleared[0].detail
    )
    for role in (Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR, Role.ADMINISTRATOR):
        other, _ = signed_in(api, role)
        assert other.get("/console/cross-region").status_code == 403
        home = other.get("/console/", follow_redirects=True).text
        assert "/console/cross-region" not in nav(home)
    assert ledger.reconcile(UnitOfWork.for_engine(api.engine)).ok


# --------------------------------------------------------------------- maternity allowance


def test_maternity_allowance_applied_and_shown(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = maternity_employee(uow, 2, [700000])
    pid = person_id(uow, mother)
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    assert f"/console/persons/{pid}/maternity" not in clerk.get(f"/console/persons/{pid}").text
    assert clerk.get(f"/console/persons/{pid}/maternity").status_code == 403
    auditor, name = signed_in(api, Role.SETTLEMENT_AUDITOR)
    page = auditor.get(f"/console/persons/{pid}").text
    assert f"/console/persons/{pid}/maternity" in page
    url = f"/console/persons/{pid}/maternity"
    token = csrf_of(auditor.get(url).text)
    good = {"csrf": token, "birth_date": "2025-05-01", "difficult": "yes", "babies": "2",
            "wage": ""}  # fmt: skip
    before = transactions(api.engine)
    assert auditor.post(url, data={**good, "csrf": ""}).status_code == 403
    for field, bad, says in (
        ("babies", "0", "1 to 9"),
        ("babies", "２", "1 to 9"),
        ("wage", "abc", "wage"),
        ("birth_date", "2025-06-02", "is in the future"),
        ("birth_date", "tomorrow", "not a date"),
    ):
        r = auditor.post(url, data={**good, field: bad})
        assert r.status_code == 422 and says in error_of(r.text, field), (field, r.text)
    assert transactions(api.engine) == before
    r = auditor.post(url, data=good)
    assert r.status_code == 200
    shown = r.text.split('id="allowance"')[1]
    # 98 days + 15 for a difficult birth + 15 for the second baby = 128 days;
    # 7000.00 ÷ 30 × 128 = 29866.666… → 29866.67 yuan, the wage from last year's contributions
    assert '<dd class="num">128</dd>' in shown and "29866.67" in shown and "7000.00" in shown
    assert mother not in r.text and mother[:6] in shown  # the auditor sees the ID masked
    assert transactions(api.engine) == before + 1
    again = auditor.post(url, data=good)
    assert again.status_code == 422 and "is paid" in error_of(again.text, "general")
    other = person_id(uow, resident(uow, 5))
    before = transactions(api.engine)
    r = auditor.post(f"/console/persons/{other}/maternity", data=good)
    assert r.status_code == 422 and "employer-enrolled" in error_of(r.text, "general")
    assert "********" in error_of(r.text, "general")  # the ID in the refusal masked too
    assert transactions(api.engine) == before
    paid = audit(api.engine, "benefit:pay")
    assert [(a.actor, a.person_id) for a in paid] == [(f"staff:{name}", pid)]
    assert paid[0].target == f"maternity:{pid}:2025-05-01"
    assert auditor.post("/console/persons/999999/maternity", data=good).status_code == 404
    assert ledger.reconcile(uow).ok


@pytest.fixture
def anonymous(api: Api) -> TestClient:
    return TestClient(api.client.app, raise_server_exceptions=False)


def test_benefit_pages_need_a_session(anonymous: TestClient) -> None:
    """Without a session a page redirects to the sign-in and a form is refused."""
    for path in ("epidemics", "epidemics/1", "cross-region", "chronic/1", "persons/1/maternity",
                 "persons/1/chronic/certify"):  # fmt: skip
        r = anonymous.get(f"/console/{path}", follow_redirects=False)
        assert r.status_code == 303 and "/console/signin" in r.headers["location"]
    for path in ("epidemics", "epidemics/1/advance", "cross-region/clear", "chronic/1/renew",
                 "persons/1/maternity"):  # fmt: skip
        assert anonymous.post(f"/console/{path}", data={}).status_code == 403


def test_benefit_pages_in_english(api: Api) -> None:
    manager, _ = signed_in(api, Role.FUND_MANAGER)
    assert "重大疫情" in manager.get("/console/epidemics").text
    manager.get("/console/lang/en?next=/console/epidemics")
    assert "Major epidemics" in manager.get("/console/epidemics").text
    page = manager.get("/console/cross-region", params={"month": "2025-05"}).text
    assert "Cross-region clearing" in page and "No cross-region settlement" in page
