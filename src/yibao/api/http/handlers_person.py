"""1101 (person and coverage) and the person-file presentation shared by the staff routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.api.http import errors, inputs
from yibao.api.http.auth import Principal
from yibao.api.http.context import TxContext
from yibao.api.http.errors import ApiError
from yibao.api.http.tx import handler
from yibao.domain.ids import NotStored
from yibao.domain.registry import Person
from yibao.domain.roles import Role
from yibao.policy import fen_to_yuan
from yibao.services import ledger
from yibao.services.common import find_person
from yibao.services.person_file import enrolment_on
from yibao.store.uow import UnitOfWork

#: The one answer an insured person gets for anyone but themselves, registered or not.
NOT_OWN_FILE = "an insured person sees only their own file"


def require_own(
    uow: UnitOfWork, principal: Principal, ref: str | int, message: str = NOT_OWN_FILE
) -> None:
    """An insured person names only themselves (by person number or national ID): anyone else
    is refused with 2005 before anything is looked up, registered or not, so that the answer
    does not tell whether someone is registered. Other roles pass."""
    if principal.role is not Role.INSURED_PERSON:
        return
    if isinstance(ref, int):
        mine = ref == principal.person_id
    else:
        me = uow.persons.get(principal.person_id) if principal.person_id is not None else None
        mine = me is not None and me.label == ref.strip().upper()
    if not mine:
        raise ApiError(errors.NOT_YOURS, message)


def baseinfo(ctx: TxContext, p: Person, on: dt.date) -> dict[str, Any]:
    shown = ctx.principal.sees_identity(p.id)
    return {
        "psn_no": str(p.id),
        **ctx.identity(p.id, p.label, p.name),
        "gend": p.sex.value,
        "brdy": p.birth_date.isoformat() if shown else None,
        "age": p.age_on(on),
        "tel": ctx.phone(p.id, p.phone),
        "region": p.region,
    }


def coverage(uow: UnitOfWork, p: Person, on: dt.date) -> dict[str, Any]:
    if p.id is None:
        raise NotStored("person")
    enrolments = uow.enrolments.history(p.id)
    years = uow.coverage.history(p.id)
    current = enrolment_on(enrolments, on)
    return {
        "insuinfo": [
            {
                "enrolment_id": e.id,
                "insutype": e.scheme.value,
                "psn_type": e.kind.value,
                "insuplc_admdvs": e.pooling_area,
                "psn_insu_stas": e.status.value,
                "begndate": e.start_date.isoformat(),
                "enddate": e.end_date.isoformat() if e.end_date else None,
                "emp_no": e.employer_code,
            }
            for e in enrolments
        ],
        "covered_on_date": current is not None and current.status.value == "active",
        "coverage_years": [
            {
                "year": c.year,
                "status": c.status.value,
                "repaired": c.repaired,
                "continuous_years": c.continuous_years,
                "fund_paid": fen_to_yuan(c.fund_paid),
            }
            for c in years
        ],
    }


@handler("1101", "person and coverage: schemes, status, waiting period, remaining caps")
def person_info(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    who = inputs.person_ref(data)
    on = inputs.date(data, "date", default=ctx.today)
    with ctx.read_uow() as uow:
        p = find_person(uow, who)
        ctx.audit(person_id=p.id, target=f"person:{p.id}", detail="person and coverage read")
        out = {"baseinfo": baseinfo(ctx, p, on), **coverage(uow, p, on)}
        out.update(entitlement(uow, p, on))
        balance = ledger.personal_balance(uow, p.id) if p.id is not None else 0
        out["balc"] = fen_to_yuan(balance)  # 个人账户余额
    return out


def entitlement(uow: UnitOfWork, p: Person, on: dt.date) -> dict[str, Any]:
    """Waiting period and remaining caps; filled in from the settlement service when present."""
    from yibao.api.http import handlers_statements

    return handlers_statements.entitlement(uow, p, on)
