"""Helpers of the console tests: sign in through the pages, read a form's CSRF token, a person
with a settlement to look at (through the API's 2207, as an institution sends it)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from fastapi.testclient import TestClient

from tests.api_support import Api
from tests.test_api_settlement import CLAIM, employee
from yibao.domain.roles import Role
from yibao.services.accounts import NewStaff, create_staff
from yibao.store.uow import UnitOfWork

PASSWORD = "console-pw-0123"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_PRE = re.compile(r'name="pre" value="([^"]+)"')


def make_staff(api: Api, role: Role, username: str | None = None) -> str:
    name = username or f"{role.value}-{uuid.uuid4().hex[:6]}"
    create_staff(
        UnitOfWork.for_engine(api.engine), NewStaff(username=name, role=role, password=PASSWORD)
    )
    return name


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the page reached after it (its HTML)."""
    page = client.get("/console/signin")
    pre = _PRE.search(page.text)
    assert pre, page.text
    r = client.post(
        "/console/signin",
        data={"username": username, "password": password, "pre": pre.group(1), "next": ""},
    )
    return r.text


def signed_in(api: Api, role: Role) -> tuple[TestClient, str]:
    """A fresh client signed in with a new account of ``role``, and the account's name."""
    client = TestClient(api.client.app, raise_server_exceptions=False, base_url="http://testserver")
    name = make_staff(api, role)
    sign_in(client, name)
    return client, name


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html
    return found.group(1)


def settled_person(api: Api, uow: UnitOfWork, n: int = 1) -> tuple[int, str]:
    """Employee ``n`` with one settlement in force: (person number, setl_id)."""
    who = employee(uow, n)
    inst = api.institution(f"H3601000{n}")
    answer = api.tx(inst, "2207", {"certno": who, "level": 2, **CLAIM})
    assert answer["infcode"] == 0, answer
    with uow:
        person = uow.persons.require(who)
    assert person.id is not None
    return person.id, answer["output"]["setl_id"]


TODAY = dt.date.today()
