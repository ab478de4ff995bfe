"""The staff console in a real browser: Debian's chromium driven by Playwright, against the
application served by uvicorn on a free port over a small SQLite database. A clerk signs in,
finds a person, enrols them and records a payment; an auditor opens a settlement and reverses it
(confirmation and reason); an administrator, who may not reverse, neither sees nor reaches the
reversal; a post without the CSRF token is refused; a fund manager hovers over the charts; each
signs out. Screenshots of the main pages go to ``$YIBAO_SCREENSHOTS`` (else a temporary folder);
``docs/screenshots/`` holds a set for the README."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.api_support import SECRET, make_api, nid
from tests.console_support import PASSWORD, make_staff, settled_person
from yibao.api.http.app import create_app
from yibao.api.http.settings import Settings
from yibao.domain.roles import Role
from yibao.services import registry
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # in a thread: leave the signals alone
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'console.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    api = make_api(url, engine)
    uow = UnitOfWork.for_engine(engine)
    person_id, setl_id = settled_person(api, uow)
    settled_person(api, uow, 2)  # stays in force: the layers chart has bars after the reversal
    newcomer = registry.add_person(uow, nid(42), "赵小明", phone="13900001111", region="360100")
    roles = (Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR, Role.FUND_MANAGER, Role.ADMINISTRATOR)
    names = {role: make_staff(api, role, role.value) for role in roles}
    settings = Settings(api_secret=SECRET, database_url=url)  # type: ignore[arg-type]
    port = _free_port()
    server = _Server(uvicorn.Config(create_app(settings, engine=engine), port=port,
                                    log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(6000):  # the compiled kernel is warmed before the first request: slow
        if server.started:  # on a loaded machine
            break
        time.sleep(0.05)
    assert server.started, "the console's server did not start in 300 s"
    yield {
        "base": f"http://127.0.0.1:{port}/console",
        "settled": person_id,
        "setl_id": setl_id,
        "newcomer": newcomer,
        "names": names,
    }
    server.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: ./dev test installs it (apt-get)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("YIBAO_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/persons")
    expect(page).to_have_url(f"{base}/signin?next=/console/persons")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.keyboard.press("Enter")  # keyboard: the form is sent from the password field
    expect(page.get_by_role("heading", name="查找参保人")).to_be_visible()


def _sign_out(page: Page, base: str) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{base}/signin")
    page.goto(f"{base}/persons")
    expect(page).to_have_url(f"{base}/signin?next=/console/persons")


def test_clerk_finds_enrols_and_records_a_payment(
    browser: Browser, site: dict[str, Any], shots: Path
) -> None:
    base, who = site["base"], site["newcomer"]
    page = _page(browser)
    page.goto(f"{base}/signin")
    page.screenshot(path=shots / "signin.png")
    _sign_in(page, base, site["names"][Role.ENROLMENT_CLERK])
    page.get_by_label("身份证号、人员编号或姓名").fill("赵小")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("cell", name=who.label)).to_be_visible()  # clerks see identities
    page.screenshot(path=shots / "search.png")
    page.get_by_role("link", name=str(who.id), exact=True).click()
    expect(
        page.get_by_role("heading", name=f"参保人档案: 赵小明 (人员编号 {who.id})")
    ).to_be_visible()
    page.get_by_role("link", name="参保登记").click()
    page.get_by_label("统筹区").fill("3601")
    page.get_by_role("button", name="参保登记").click()
    expect(page.locator("#area-error")).to_contain_text("6-digit")  # next to the field
    expect(page.get_by_label("统筹区")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=shots / "enrol-error.png")
    page.get_by_label("统筹区").fill("360100")
    page.get_by_role("button", name="参保登记").click()
    expect(page.get_by_role("status")).to_have_text("已参保登记。")
    page.get_by_role("link", name="缴费登记").click()
    page.get_by_role("button", name="记录缴费").click()
    expect(page.get_by_role("status")).to_have_text("缴费已记录。")
    expect(page.get_by_role("cell", name="城乡居民医保").first).to_be_visible()
    page.screenshot(path=shots / "person.png", full_page=True)
    # a clerk does not read settlements: no link, and the page itself refused
    assert page.get_by_role("link", name="基金").count() == 0
    page.goto(f"{base}/settlements/{site['setl_id']}")
    expect(page.get_by_role("alert")).to_have_text("您的角色无权进行此操作。")
    page.goto(f"{base}/persons")
    _sign_out(page, base)


def test_auditor_reverses_with_confirmation_and_reason(
    browser: Browser, site: dict[str, Any], shots: Path
) -> None:
    base = site["base"]
    page = _page(browser)
    _sign_in(page, base, site["names"][Role.SETTLEMENT_AUDITOR])
    page.get_by_label("身份证号、人员编号或姓名").fill(str(site["settled"]))
    page.keyboard.press("Enter")
    expect(page.get_by_role("cell", name="职*")).to_be_visible()  # masked for auditors
    page.get_by_role("link", name=str(site["settled"]), exact=True).click()
    page.get_by_role("link", name=site["setl_id"]).click()
    expect(page.get_by_role("cell", name="职工基本医疗保险统筹基金")).to_be_visible()
    page.screenshot(path=shots / "settlement.png", full_page=True)
    page.get_by_label("原因").fill("重复结算")
    page.get_by_role("button", name="冲正").click()  # not confirmed: refused, said so
    expect(page.locator("#confirm-error")).to_have_text("请勾选以确认冲正。")
    page.get_by_label("我确认").check()
    page.get_by_role("button", name="冲正").click()
    expect(page.get_by_role("status")).to_have_text("已冲正。")
    expect(page.get_by_role("button", name="冲正")).to_have_count(0)
    _sign_out(page, base)


def test_a_role_that_may_not_reverse_neither_sees_nor_reaches_it(
    browser: Browser, site: dict[str, Any], shots: Path
) -> None:
    base = site["base"]
    page = _page(browser)
    _sign_in(page, base, site["names"][Role.ADMINISTRATOR])
    page.goto(f"{base}/settlements/{site['setl_id']}")
    expect(page.get_by_role("heading", name="分段支付（setldetail）")).to_be_visible()
    expect(page.locator("#reverse-form")).to_have_count(0)
    url = f"/console/settlements/{site['setl_id']}/reverse"
    csrf = page.locator("input[name=csrf]").first.input_value()
    status = page.evaluate(
        """([url, csrf]) => fetch(url, {method: "POST", headers: {"content-type":
        "application/x-www-form-urlencoded"}, body: "reason=xx&confirm=yes&csrf=" + csrf})
        .then(r => r.status)""",
        [url, csrf],
    )
    assert status == 403  # the role, even with the session's token
    page.goto(f"{base}/institutions")
    expect(page.get_by_role("heading", name="定点医药机构及其密钥")).to_be_visible()
    page.screenshot(path=shots / "institutions.png")
    _sign_out(page, base)


def test_a_post_without_csrf_is_refused(browser: Browser, site: dict[str, Any]) -> None:
    base, who = site["base"], site["newcomer"]
    page = _page(browser)
    _sign_in(page, base, site["names"][Role.ENROLMENT_CLERK])
    status = page.evaluate(
        """(url) => fetch(url, {method: "POST", headers: {"content-type":
        "application/x-www-form-urlencoded"}, body: "kind=resident&period=2026&on=2026-01-02"})
        .then(r => r.status)""",
        f"/console/persons/{who.id}/pay",
    )
    assert status == 403
    _sign_out(page, base)


def test_fund_manager_sees_the_funds_as_charts_in_both_languages(
    browser: Browser, site: dict[str, Any], shots: Path
) -> None:
    base = site["base"]
    page = _page(browser)
    page.goto(f"{base}/signin")
    page.get_by_label("用户名").fill(site["names"][Role.FUND_MANAGER])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="基金").click()
    expect(page.locator("#ledger-ok")).to_be_visible()
    point = page.locator("circle.pt").last
    point.hover()
    tip = page.locator(".chart .tip").first
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("元")
    page.screenshot(path=shots / "funds.png", full_page=True)
    bar = page.locator("rect.pt").first
    bar.focus()  # keyboard: the value is shown on focus too
    expect(page.locator(".chart .tip").nth(1)).to_contain_text("元")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Fund balances at each month's end")).to_be_visible()
    page.screenshot(path=shots / "funds-en.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_clerk_certifies_a_chronic_disease_with_the_error_next_to_its_field(
    browser: Browser, site: dict[str, Any], shots: Path
) -> None:
    base, settled = site["base"], site["settled"]
    page = _page(browser)
    _sign_in(page, base, site["names"][Role.ENROLMENT_CLERK])
    page.goto(f"{base}/persons/{settled}")
    page.get_by_role("link", name="慢特病认定").click()
    page.get_by_role("button", name="认定", exact=True).click()  # no disease chosen
    expect(page.locator("#disease-error")).to_contain_text("a disease code is required")
    field = page.get_by_label("病种（本统筹区门诊慢特病目录）")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.select_option("E11")
    page.get_by_role("button", name="认定", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("已认定。")
    expect(page.get_by_role("button", name="续期")).to_be_visible()
    page.screenshot(path=shots / "chronic.png", full_page=True)
    page.get_by_role("link", name=str(settled), exact=True).click()
    expect(page.get_by_role("cell", name="E11 糖尿病")).to_be_visible()
    _sign_out(page, base)


def test_fund_manager_reaches_epidemics_and_the_cross_region_clearing(
    browser: Browser, site: dict[str, Any], shots: Path
) -> None:
    base = site["base"]
    page = _page(browser)
    page.goto(f"{base}/signin")
    page.get_by_label("用户名").fill(site["names"][Role.FUND_MANAGER])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="异地就医清算").click()
    expect(page.get_by_role("heading", name="异地就医清算")).to_be_visible()
    page.get_by_label("月份（YYYY-MM）").fill("2025-13")
    page.get_by_role("button", name="显示").click()
    expect(page.locator("#month-error")).to_contain_text("YYYY-MM")
    page.screenshot(path=shots / "cross-region.png", full_page=True)
    page.get_by_role("link", name="重大疫情").click()
    expect(page.get_by_text("尚未宣布重大疫情。")).to_be_visible()
    expect(page.locator("#declare-form")).to_have_count(0)  # declared by administrators
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{base}/signin")
