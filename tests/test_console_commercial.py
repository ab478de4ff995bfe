"""The console's supplementary commercial insurance (惠民保) pages over the application as served,
on SQLite and PostgreSQL: a person's purchases with the buy form (the products on sale in their
area) and cancel, and the month's statement per insurer with the insurer's payment recorded by a
fund manager. A role without the action gets no form
or link and is refused (403) if it posts anyway; a form without its CSRF token is refused and
changes nothing; a refusal is shown next to the field it names; every read and write is audited
as ``staff:<user>``; Chinese first, English on the switch."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, nid
from tests.console_support import csrf_of, signed_in
from tests.test_commercial_store import _employee
from yibao.domain.roles import Role
from yibao.domain.settlement import Claim
from yibao.services import ledger, registry, settlement
from yibao.store.api_models import AuditRow
from yibao.store.commercial_models import CommercialActionRow, CommercialPurchaseRow
from yibao.store.uow import UnitOfWork


def audit(engine: Engine, action: str) -> list[AuditRow]:
    with Session(engine) as s:
        return list(
            s.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id))
        )


def rows(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        bought = s.scalar(select(func.count()).select_from(CommercialPurchaseRow))
        actions = s.scalar(select(func.count()).select_from(CommercialActionRow))
    return int(bought or 0), int(actions or 0)


def person_id(uow: UnitOfWork, label: str) -> int:
    with uow:
        found = uow.persons.require(label).id
    assert found is not None
    return found


def error_of(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error" role="alert">([^<]*)<', html)
    assert found, html
    return found.group(1)


def main(html: str) -> str:
    return html.split("<main")[1]


def nav(html: str) -> str:
    return html.split("<main")[0]


def test_clerk_buys_and_cancels_on_the_file(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on 2025-12-01 the shipped HMB-DEMO is sold for 2026 (2025-11-01 to 2026-03-31), not 2025
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    pid = person_id(uow, _employee(uow, 3))
    clerk, name = signed_in(api, Role.ENROLMENT_CLERK)
    file = clerk.get(f"/console/persons/{pid}").text
    assert f'href="/console/persons/{pid}/commercial"' in file and "惠民保" in file
    page = clerk.get(f"/console/persons/{pid}/commercial").text
    assert "无投保记录。" in page and 'id="buy-form"' in page
    assert re.search(
        r'<option value="HMB-DEMO">HMB-DEMO 惠民保（示例） · DEMO-INSURER · 2026 ', page
    )
    assert "起付线 20000.00" in page and " · 70% · " in page and "封顶线 1000000.00" in page
    token = csrf_of(page)
    url = f"/console/persons/{pid}/commercial/buy"
    # no CSRF token, or another's: refused, nothing stored
    assert clerk.post(url, data={"product": "HMB-DEMO"}).status_code == 403
    assert clerk.post(url, data={"product": "HMB-DEMO", "csrf": "0" * 64}).status_code == 403
    assert rows(api.engine) == (0, 0)
    r = clerk.post(url, data={"csrf": token, "product": "HMB-DEMO", "year": "26"})
    assert r.status_code == 422 and "is not a year" in error_of(r.text, "year")
    assert 'aria-describedby="year-error"' in r.text
    r = clerk.post(url, data={"csrf": token, "product": "GOLD", "year": ""})
    assert r.status_code == 422
    assert error_of(r.text, "product").startswith("product: GOLD is not a product sold in 360100")
    r = clerk.post(url, data={"csrf": token, "product": "HMB-DEMO", "year": "2025"})
    assert r.status_code == 422
    assert "sold for 2025 from 2024-11-01 to 2025-03-31" in error_of(r.text, "year")
    r = clerk.post(url, data={"csrf": token, "product": "", "year": ""})
    assert r.status_code == 422 and "a product code is required" in error_of(r.text, "product")
    r = clerk.post(url, data={"csrf": token, "product": "HMB\u202e", "year": ""})
    assert r.status_code == 422 and "product" in error_of(r.text, "product")
    assert rows(api.engine) == (0, 0)
    # bought: for 2026 (the year on sale), covering from its first day
    r = clerk.post(url, data={"csrf": token, "product": "HMB-DEMO", "year": ""},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].endswith("commercial?done=bought")
    page = clerk.get(r.headers["location"]).text
    assert "已投保。" in page
    row = re.search(r"<tr><td>#(\d+)</td><td>HMB-DEMO 惠民保（示例）</td>(.*?)</tr>", page)
    assert row, page
    first = int(row.group(1))
    assert row.group(2) == (
        "<td>DEMO-INSURER</td><td>2026</td><td>360100</td><td>2025-12-01</td>"
        "<td>2026-01-01</td><td>有效</td>"
    )
    assert f"投保 · staff:{name} · HMB-DEMO for 2026 from 2026-01-01" in page
    r = clerk.post(url, data={"csrf": token, "product": "HMB-DEMO", "year": "2026"})
    assert r.status_code == 422 and "already exists" in error_of(r.text, "general")
    # another person's purchase is not found through this person's page; nothing changed
    other = person_id(uow, _employee(uow, 4))
    r = clerk.post(f"/console/persons/{other}/commercial/{first}/cancel",
                   data={"csrf": token, "reason": "x"})  # fmt: skip
    assert r.status_code == 404
    cancel = f"/console/persons/{pid}/commercial/{first}/cancel"
    assert clerk.post(cancel, data={"reason": "moved"}).status_code == 403  # no CSRF
    assert "有效" in clerk.get(f"/console/persons/{pid}/commercial").text
    # before it covers: cancelled
    r = clerk.post(cancel, data={"csrf": token, "reason": "moved away"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=cancelled")
    page = clerk.get(r.headers["location"]).text
    assert "已退保。" in page and "<td>已撤销 2025-12-01</td>" in page
    assert "退保 · staff:" in page and "cancelled on 2025-12-01: moved away" in page
    assert f'id="cancel-{first}"' not in page
    r = clerk.post(cancel, data={"csrf": token, "reason": ""})
    assert r.status_code == 422 and "is cancelled" in error_of(r.text, f"cancel{first}")
    # bought again, then past its cover's start and its 15 cooling-off days: refused beside it
    r = clerk.post(url, data={"csrf": token, "product": "HMB-DEMO", "year": ""},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    second = max(
        int(i) for i in re.findall(r"<tr><td>#(\d+)</td>", clerk.get(r.headers["location"]).text)
    )
    monkeypatch.setenv("YIBAO_TODAY", "2026-01-17")
    r = clerk.post(f"/console/persons/{pid}/commercial/{second}/cancel",
                   data={"csrf": token, "reason": "too dear"})  # fmt: skip
    assert r.status_code == 422
    said = error_of(r.text, f"cancel{second}")
    assert "covers since 2026-01-01 and its 15 cooling-off days after 2025-12-01 are over" in said
    assert 'value="too dear"' in r.text
    assert rows(api.engine) == (2, 3)
    # audited as the clerk, with the person
    writes = audit(api.engine, "commercial:buy")
    assert [a.detail for a in writes] == [
        "console; buy HMB-DEMO for 2026 from 2026-01-01",
        "console; cancel HMB-DEMO for 2026",
        "console; buy HMB-DEMO for 2026 from 2026-01-01",
    ]
    assert {(a.actor, a.person_id) for a in writes} == {(f"staff:{name}", pid)}
    assert [a.target for a in writes] == [f"commercial:{first}"] * 2 + [f"commercial:{second}"]
    reads = audit(api.engine, "commercial:read")
    assert reads and {a.person_id for a in reads} == {pid}
    assert reads[0].detail == "console; 0 purchases"


def test_not_insured_unknown_and_in_english(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    lone = registry.add_person(uow, nid(8), "李四").id
    admin, _ = signed_in(api, Role.ADMINISTRATOR)
    page = admin.get(f"/console/persons/{lone}/commercial").text
    assert 'id="no-offer"' in page and "<select" not in main(page)
    r = admin.post(f"/console/persons/{lone}/commercial/buy",
                   data={"csrf": csrf_of(page), "product": "HMB-DEMO", "year": ""})  # fmt: skip
    assert r.status_code == 422 and "has no enrolment: not insured" in error_of(r.text, "general")
    assert admin.get("/console/persons/999999/commercial").status_code == 404
    assert admin.post("/console/persons/999999/commercial/1/cancel",
                      data={"csrf": csrf_of(page)}).status_code == 404  # fmt: skip
    assert admin.get("/console/persons/0/commercial").status_code == 404
    pid = person_id(uow, _employee(uow, 5))
    admin.get("/console/lang/en")
    page = admin.get(f"/console/persons/{pid}/commercial").text
    assert "Supplementary commercial insurance" in page and "Buy a product" in page
    assert "deductible 20000.00" in page and "No purchase." in page
    assert "Commercial insurance statement" in nav(page)
    page = admin.get("/console/commercial/statement?month=2025-11").text
    assert "Owed by the insurers" in page and "No product paid a settlement in this month." in page


def test_roles(api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    pid = person_id(uow, _employee(uow, 6))
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    page = clerk.get(f"/console/persons/{pid}/commercial").text
    token = csrf_of(page)
    url = f"/console/persons/{pid}/commercial/buy"
    clerk.post(url, data={"csrf": token, "product": "HMB-DEMO", "year": ""})
    bought = rows(api.engine)
    assert bought == (1, 1)
    purchase = int(
        re.findall(r"<tr><td>#(\d+)</td>", clerk.get(f"/console/persons/{pid}/commercial").text)[0]
    )
    # the clerk reads and sells, but not the statement
    assert "/console/commercial/statement" not in nav(page)
    assert clerk.get("/console/commercial/statement").status_code == 403
    # the auditor and the fund manager read the purchases: no buy or cancel form, refused if posted
    for role in (Role.SETTLEMENT_AUDITOR, Role.FUND_MANAGER):
        other, _ = signed_in(api, role)
        page = other.get(f"/console/persons/{pid}/commercial").text
        assert "HMB-DEMO" in page and 'id="buy-form"' not in page and "/cancel" not in page
        forms = {"csrf": csrf_of(page), "product": "HMB-DEMO", "year": "", "reason": "x"}
        assert other.post(url, data=forms).status_code == 403
        cancel = f"/console/persons/{pid}/commercial/{purchase}/cancel"
        assert other.post(cancel, data=forms).status_code == 403
    assert rows(api.engine) == bought
    # the auditor's person file links to the purchases; the fund manager has no person file
    auditor, _ = signed_in(api, Role.SETTLEMENT_AUDITOR)
    assert f"/console/persons/{pid}/commercial" in auditor.get(f"/console/persons/{pid}").text
    assert auditor.get("/console/commercial/statement").status_code == 403
    manager, _ = signed_in(api, Role.FUND_MANAGER)
    assert "/console/commercial/statement" in nav(manager.get("/console/funds").text)
    # signed out: to the sign-in page
    anonymous = api.client
    r = anonymous.get(f"/console/persons/{pid}/commercial", follow_redirects=False)
    assert r.status_code in (303, 307) and "/console/signin" in r.headers["location"]


def test_statement_of_a_month(api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
    # bought on 2025-01-10 for 2025 (sold from 2024-11-01 to 2025-03-31): covers from 2025-01-11
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 7)
    pid = person_id(uow, who)
    clerk, _ = signed_in(api, Role.ENROLMENT_CLERK)
    page = clerk.get(f"/console/persons/{pid}/commercial").text
    r = clerk.post(f"/console/persons/{pid}/commercial/buy",
                   data={"csrf": csrf_of(page), "product": "HMB-DEMO", "year": ""},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    monkeypatch.setenv("YIBAO_TODAY", "2025-07-31")
    # employee, inpatient, level 2: deductible 500, 85 %. 50000 with 30000 fully self-paid, all
    # of it on the product's list: basic (20000 − 500) × 85 % = 16575; the product on the
    # in-scope remainder 3425 and the listed 30000: (33425 − 20000) × 70 % = 9397.50
    claim = Claim(person=who, date=dt.date(2025, 3, 1), total=5000000, med_type="inpatient",
                  level=2, use_account=False, fixmedins_code="H36010001",
                  fully_self_paid=3000000, listed_self_paid=3000000)  # fmt: skip
    paid = settlement.settle(uow, claim).answer
    assert [paid.amounts[k] for k in ("hifp_pay", "commercial_pay", "psn_cash_pay")] == [
        1657500,
        939750,
        2402750,  # 50000 − 16575 − 9397.50
    ]
    manager, name = signed_in(api, Role.FUND_MANAGER)
    page = manager.get("/console/commercial/statement").text  # last month: 2025-06, nothing
    assert 'value="2025-06"' in page and "本月无产品支付的结算。" in page
    page = manager.get("/console/commercial/statement?month=2025-03").text
    assert "惠民保结算单" in page and "承保公司 DEMO-INSURER: 9397.50 元" in page
    totals = (
        r"<dd class=\"num\">9397.50 元</dd>\s*<dt>已记入应收承保公司账户</dt>"
        r"<dd class=\"num\">9397.50 元</dd>\s*<dt>账实相符</dt><dd>是</dd>"
    )
    assert re.search(totals, page)
    assert ("<tr><td>360100</td><td>HMB-DEMO</td><td class=\"num\">1</td><td class=\"num\">"
            "9397.50</td><td class=\"num\">0</td><td class=\"num\">0.00</td>"
            "<td class=\"num\">9397.50</td></tr>") in page  # fmt: skip
    for bad in ("2025-3", "2025-13", "03-2025", "2025-03\u200b"):
        r = manager.get("/console/commercial/statement", params={"month": bad})
        assert r.status_code == 422 and "month" in error_of(r.text, "month")
    r = manager.get("/console/commercial/statement", params={"month": "9999-01"})
    assert r.status_code == 422 and "must be a year from 2000 to 2100" in error_of(r.text, "month")
    assert [a.detail for a in audit(api.engine, "commercial:statement")] == [
        "console; 2025-06; 0 insurers; total 0.00",
        "console; 2025-03; 1 insurers; total 9397.50",
    ]
    assert {a.actor for a in audit(api.engine, "commercial:statement")} == {f"staff:{name}"}
    # the purchase paid: past its cooling-off days, it is not cancelled
    page = clerk.get(f"/console/persons/{pid}/commercial").text
    purchase = re.findall(r"<tr><td>#(\d+)</td>", page)[0]
    r = clerk.post(f"/console/persons/{pid}/commercial/{purchase}/cancel",
                   data={"csrf": csrf_of(page), "reason": ""})  # fmt: skip
    assert r.status_code == 422 and "cooling-off days" in error_of(r.text, f"cancel{purchase}")
    assert ledger.reconcile(uow).ok

    # the fund manager records the insurer's payment of March: once, into the area's cash
    page = manager.get("/console/commercial/statement?month=2025-03").text
    assert 'id="collect-1"' in page and "承保公司已付 0.00 元 · 承保公司尚欠 9397.50 元" in page
    admin, _ = signed_in(api, Role.ADMINISTRATOR)  # reads the statement, records no payment
    seen = admin.get("/console/commercial/statement?month=2025-03").text
    assert "承保公司尚欠 9397.50 元" in seen and 'id="collect-1"' not in seen
    form = {"csrf": csrf_of(page), "month": "2025-03", "insurer": "DEMO-INSURER", "on": ""}
    assert admin.post("/console/commercial/statement/collect", data=form).status_code == 403
    for bad, said in (
        ("2025-13-01", "on: '2025-13-01' is not a date (YYYY-MM-DD)"),
        ("2025-08-01", "on: 2025-08-01 is after today (2025-07-31)"),
        ("2025-03-31", "month: 2025-03 is not over on 2025-03-31"),
    ):
        r = manager.post("/console/commercial/statement/collect", data={**form, "on": bad})
        assert r.status_code == 422 and unescape(error_of(r.text, "collect")).startswith(said), bad
        assert f'value="{bad}"' in r.text  # the form keeps what was typed
    r = manager.post("/console/commercial/statement/collect", data={**form, "on": "2025-04-10"},
                     follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].endswith("month=2025-03&done=collected")
    page = manager.get(r.headers["location"]).text
    assert "承保公司付款已登记。" in page and 'id="collect-1"' not in page
    assert "承保公司已付 9397.50 元 · 承保公司尚欠 0.00 元" in page
    assert [a.detail for a in audit(api.engine, "commercial:collect")] == [
        "console; DEMO-INSURER 2025-03: 1 posted, 9397.50"
    ]
    assert ledger.reconcile(uow).ok
