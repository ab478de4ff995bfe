"""The capitation year over the API on SQLite and PostgreSQL (``GET /api/v1/capitation/{year}``):
fund managers and administrators read what ``yibao dip capitation`` shows (nothing posted by
reading), institutions and other staff are refused and audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_store_capitation import AREA, outpatient
from tests.test_store_settlement import resident
from yibao.domain.roles import Role
from yibao.services import capitation
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

PATH = f"/api/v1/capitation/2025?area={AREA}"


def test_fund_manager_reads_the_capitation_year_others_refused(api: Api, uow: UnitOfWork) -> None:
    manager = api.staff(Role.FUND_MANAGER)
    empty = api.staff_get(manager, PATH)
    assert empty.status_code == 200
    assert empty.json() == {"area": AREA, "year": 2025, "institutions": []}
    p1, p2 = resident(uow, 3), resident(uow, 5)
    # P1: C1 twice → C1; P2: C1 once, C2 once → the tie goes to the smaller code, C1
    paid = outpatient(uow, p1, "C1", 1) + outpatient(uow, p1, "C1", 2)
    paid += outpatient(uow, p2, "C1", 3)
    outpatient(uow, p2, "C2", 4)
    body = api.staff_get(manager, PATH).json()
    # 2 residents × 120.00 due, less what the fund paid claim by claim
    due = 2 * 12_000
    assert body["institutions"] == [
        {
            "institution": "C1",
            "enrolled": 2,
            "enrolled_by_scheme": {"resident": 2},
            "due": f"{due / 100:.2f}",
            "paid_by_claim": f"{paid / 100:.2f}",
            "settlement": f"{(due - paid) / 100:.2f}",
            "transaction": None,
        }
    ]
    # reading posts nothing: the command's reconciliation still finds nothing posted
    assert capitation.reconcile(uow, AREA, 2025)[0].transaction_id is None
    assert api.staff_get(api.staff(Role.ADMINISTRATOR), PATH).json() == body
    for role in (Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR):
        assert api.staff_get(api.staff(role), PATH).status_code == 403
    assert api.get(api.institution("C1"), PATH).status_code == 403
    with Session(api.engine) as s:
        denied = s.scalars(
            select(AuditRow).where(AuditRow.action == "dip:read", AuditRow.outcome == "denied")
        ).all()
        read = s.scalars(
            select(AuditRow).where(AuditRow.action == "dip:read", AuditRow.outcome == "ok")
        ).all()
    assert len(denied) == 3 and len(read) == 3
    assert all(r.target == f"capitation:{AREA}:2025" for r in [*denied, *read])
    bad = api.staff_get(manager, "/api/v1/capitation/2025?area=36A100")
    assert bad.status_code in (400, 422) and "area" in bad.text
