"""The comparison's worklists over the API (SQLite and PostgreSQL): a clerk lists findings with
evidence and acts on them; an auditor reads them masked and may not act; an institution is
refused; every call is audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.compare.compare_support import AREA, ON
from tests.compare.test_compare_store import UNINSURED, setup_registry, sources
from yibao.domain.roles import Role
from yibao.services.compare.run import run_store
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork


def test_a_clerk_works_the_worklist(api: Api, tmp_path: Path) -> None:
    uow = UnitOfWork.for_engine(api.engine)
    setup_registry(uow)
    run_store(uow, sources(tmp_path), area=AREA, by="clerk1", on=ON)
    clerk = api.staff(Role.ENROLMENT_CLERK, "clerk-li")
    listed = api.staff_get(clerk, "/api/v1/compare/findings?kind=uninsured")
    assert listed.status_code == 200, listed.text
    rows = listed.json()["findings"]
    mine = next(f for f in rows if f["id_no"] == UNINSURED)  # a clerk sees IDs in full
    auditor = api.staff(Role.SETTLEMENT_AUDITOR, "auditor-wang")
    masked = api.staff_get(auditor, f"/api/v1/compare/findings/{mine['id']}").json()
    assert masked["id_no"] != UNINSURED and "*" in masked["id_no"]
    h = {"authorization": f"Bearer {auditor}"}
    refused = api.client.post("/api/v1/compare/act", json={"findings": [mine["id"]]}, headers=h)
    assert refused.status_code == 403, refused.text
    h = {"authorization": f"Bearer {clerk}"}
    done = api.client.post(
        "/api/v1/compare/act", json={"findings": [mine["id"]], "on": "2026-01-05"}, headers=h
    )
    assert done.status_code == 200, done.text
    assert done.json()[0]["action"] == "enrol"
    again = api.client.post("/api/v1/compare/act", json={"findings": [mine["id"]]}, headers=h)
    assert again.json()["infcode"] != 0 and "already acted" in again.json()["err_msg"]
    summary = api.staff_get(clerk, "/api/v1/compare/run").json()
    assert summary["findings"]["uninsured"] == {"acted": 1, "open": 1}
    assert api.staff_get(api.staff(Role.FUND_MANAGER), "/api/v1/compare/run").status_code == 403
    with Session(api.engine) as s:
        done_by = set(s.scalars(select(AuditRow.action).where(AuditRow.actor == "staff:clerk-li")))
    assert {"compare:read", "compare:work"} <= done_by


def test_a_worklist_offset_beyond_64_bits_is_a_field_error(api: Api, tmp_path: Path) -> None:
    """An offset no database takes (beyond 64 bits) is refused naming it (SQLite answered an
    internal error, PostgreSQL a message about a NUL character)."""
    uow = UnitOfWork.for_engine(api.engine)
    setup_registry(uow)
    run_store(uow, sources(tmp_path), area=AREA, by="clerk1", on=ON)
    clerk = api.staff(Role.ENROLMENT_CLERK)
    r = api.staff_get(clerk, "/api/v1/compare/findings?offset=99999999999999999999")
    assert r.status_code == 400 and "offset" in r.json()["err_msg"], r.text


def test_an_unknown_kind_or_status_filter_is_refused_naming_it(api: Api, tmp_path: Path) -> None:
    """A worklist filtered by a kind or status no finding has was an empty list, as if the run
    had none; now refused naming the field and the values."""
    uow = UnitOfWork.for_engine(api.engine)
    setup_registry(uow)
    run_store(uow, sources(tmp_path), area=AREA, by="clerk1", on=ON)
    clerk = api.staff(Role.ENROLMENT_CLERK)
    for query, field, known in (
        ("kind=uninsure", "kind", "uninsured"),
        ("status=done", "status", "acted"),
    ):
        r = api.staff_get(clerk, f"/api/v1/compare/findings?{query}").json()
        assert r["infcode"] == 1003 and r["err_msg"].startswith(f"{field}: "), r
        assert known in r["err_msg"]
    assert api.staff_get(clerk, "/api/v1/compare/findings?kind=uninsured&status=open").json()[
        "findings"
    ]
