"""The DIP year-end over the API on SQLite and PostgreSQL: fund managers and administrators read
it, institutions and other staff are refused (and audited); a year not settled is not found
(infcode 3001)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_store_dip_year import AREA, TABLE, year_2025
from yibao.domain.roles import Role
from yibao.services import dip_year
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

PATH = f"/api/v1/dip/2025?area={AREA}"


def test_fund_manager_reads_the_year_end_others_refused(api: Api, uow: UnitOfWork) -> None:
    manager = api.staff(Role.FUND_MANAGER)
    missing = api.staff_get(manager, PATH)
    assert missing.json()["infcode"] == 3001 and "not found" in missing.json()["err_msg"]
    year_2025(uow)
    dip_year.settle(uow, AREA, 2025, TABLE, budget=4_000_000, ratio=Decimal("0.8"))
    body = api.staff_get(manager, PATH).json()
    assert body["point_value"] == "6.575487" and body["total_points"] == "7604.0000"
    assert [(i["institution"], i["settlement"]) for i in body["institutions"]] == [
        ("H1", "-7122.56"),
        ("H2", "3122.57"),
    ]
    assert api.staff_get(api.staff(Role.ADMINISTRATOR), PATH).json() == body
    for role in (Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR):
        assert api.staff_get(api.staff(role), PATH).status_code == 403
    refused = api.get(api.institution("H1"), PATH)
    assert refused.status_code == 403
    with Session(api.engine) as s:
        denied = s.scalars(
            select(AuditRow).where(AuditRow.action == "dip:read", AuditRow.outcome == "denied")
        ).all()
    assert len(denied) == 3
    bad = api.staff_get(manager, "/api/v1/dip/2025?area=36A100")
    assert bad.status_code in (400, 422) and "area" in bad.text
