"""The maternity allowance (生育津贴) over the API: staff who may pay benefits (``benefit:pay``:
the settlement auditor, the administrator) apply it for an insured employee, as ``yibao
maternity allowance --json`` does. Refused and paid applications are audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from yibao.api.http import audit
from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES
from yibao.api.http.routes import _deny as deny
from yibao.api.http.tx import refusal
from yibao.domain.errors import InvalidField
from yibao.domain.masking import mask_ids_deep
from yibao.policy.money import AmountError, parse_yuan
from yibao.rules.maternity import MAX_BABIES, Birth
from yibao.services import maternity
from yibao.store.repositories.api import AuditEntry
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["benefits"])

ACTION = "benefit:pay"


class AllowanceRequest(BaseModel):
    """An application: the person (national ID or person number), the birth, and optionally the
    employer's average monthly wage of last year in yuan (default: from the store)."""

    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=40)
    birth_date: dt.date
    difficult: bool = False
    babies: int = Field(default=1, ge=1, le=MAX_BABIES)
    wage: str | None = Field(default=None, max_length=20)


@router.post("/api/v1/maternity/allowance")
def allowance(state: StateDep, who: PrincipalDep, body: AllowanceRequest) -> dict[str, Any]:
    """Pay the maternity allowance of one birth (one ledger transaction; a second application
    for the same birth is a conflict)."""
    deny(state, who, ACTION)
    try:
        try:
            wage = parse_yuan(body.wage, "wage") if body.wage is not None else None
        except AmountError as exc:
            raise InvalidField(exc.field, exc.reason) from None
        birth = Birth(body.birth_date, body.difficult, body.babies)
        uow = UnitOfWork.for_engine(state.engine)
        paid = maternity.pay_allowance(uow, body.person, birth, wage=wage)
    except Exception as exc:
        err = refusal(who, exc)
        if err is None:
            raise
        entry = AuditEntry(who.actor, who.role.value, ACTION, "refused", detail=err.message)
        audit.write(state.engine, [entry])
        raise err from None
    entry = AuditEntry(who.actor, who.role.value, ACTION, "ok", target=paid.reference)
    audit.write(state.engine, [entry])
    answer = paid.as_dict()
    return answer if who.sees_identity(None) else mask_ids_deep(answer)
