"""The maternity allowance (生育津贴) over the API: staff who may pay benefits (``benefit:pay``:
the settlement auditor, the administrator) apply it for an insured employee, as ``yibao
maternity allowance --json`` does, or apply for a birth in one step with its medical expenses
(``yibao maternity birth``) and undo that (``yibao maternity undo``). Refused and done
applications are audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from yibao.api.http import audit, inputs
from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES
from yibao.api.http.routes import _deny as deny
from yibao.api.http.tx import refusal
from yibao.domain.masking import mask_ids_deep
from yibao.policy.money import parse_yuan
from yibao.rules.maternity import MAX_BABIES, Birth
from yibao.services import maternity, settlement
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
        wage = _wage(body.wage)
        birth = Birth(body.birth_date, body.difficult, body.babies)
        uow = UnitOfWork.for_engine(state.engine)
        paid = maternity.pay_allowance(uow, inputs.person_named(body.person), birth, wage=wage)
    except Exception as exc:
        raise _refused(state, who, exc) from None
    entry = AuditEntry(
        who.actor, who.role.value, ACTION, "ok", person_id=paid.person_id, target=paid.reference
    )
    audit.write(state.engine, [entry])
    answer = paid.as_dict()
    return answer if who.sees_identity(None) else mask_ids_deep(answer)


def _wage(text: str | None) -> int | None:
    return parse_yuan(text, "wage") if text is not None else None


def _refused(state: StateDep, who: PrincipalDep, exc: Exception) -> Exception:
    """The API error of a refusal (audited), or ``exc`` itself when it is no refusal."""
    err = refusal(who, exc)
    if err is None:
        return exc
    entry = AuditEntry(who.actor, who.role.value, ACTION, "refused", detail=err.message)
    audit.write(state.engine, [entry])
    return err


class BirthClaim(BaseModel):
    """The birth's medical claim (med type maternity), amounts in yuan: as 2207's input, the
    claim's date defaulting to the birth date."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = None
    level: int | None = Field(default=None, ge=1, le=3)
    total: str | None = Field(default=None, max_length=20)
    fully_self_paid: str | None = Field(default=None, max_length=20)
    over_limit: str | None = Field(default=None, max_length=20)
    category_b: str | None = Field(default=None, max_length=20)
    fixmedins_code: str | None = Field(default=None, max_length=32)
    mdtrt_id: str | None = Field(default=None, max_length=64)
    use_account: bool = True


class BirthRequest(AllowanceRequest):
    """A birth applied for in one step: the allowance's fields and the medical claim."""

    claim: BirthClaim


@router.post("/api/v1/maternity/birth")
def birth(state: StateDep, who: PrincipalDep, body: BirthRequest) -> dict[str, Any]:
    """Settle the birth's medical expenses and pay the allowance in one transaction: both or
    neither (a second application for the birth is a conflict)."""
    deny(state, who, ACTION)
    try:
        wage = _wage(body.wage)
        doc = body.claim.model_dump(exclude_none=True)
        person = inputs.person_named(body.person)
        doc["date"] = (body.claim.date or body.birth_date).isoformat()
        if body.claim.mdtrt_id is None:
            doc["med_type"] = maternity.MATERNITY
        claim = settlement.claim_from_mapping(doc, person=person)
        b = Birth(body.birth_date, body.difficult, body.babies)
        uow = UnitOfWork.for_engine(state.engine)
        done = maternity.settle_birth(uow, claim, b, wage=wage)
    except Exception as exc:
        raise _refused(state, who, exc) from None
    entry = AuditEntry(
        who.actor,
        who.role.value,
        ACTION,
        "ok",
        person_id=done.allowance.person_id,
        target=done.allowance.reference,
    )
    audit.write(state.engine, [entry])
    answer = done.as_dict()
    return answer if who.sees_identity(None) else mask_ids_deep(answer)


class UndoRequest(BaseModel):
    """The birth whose application in force is undone, and the day (default today)."""

    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=40)
    birth_date: dt.date
    on: dt.date | None = None


@router.post("/api/v1/maternity/birth/undo")
def undo(state: StateDep, who: PrincipalDep, body: UndoRequest) -> dict[str, Any]:
    """Undo a birth's application: its settlement reversed and its allowance taken back, in one
    transaction."""
    deny(state, who, ACTION)
    try:
        uow = UnitOfWork.for_engine(state.engine)
        done = maternity.undo_birth(
            uow, inputs.person_named(body.person), body.birth_date, on=body.on
        )
    except Exception as exc:
        raise _refused(state, who, exc) from None
    entry = AuditEntry(who.actor, who.role.value, ACTION, "ok", target=f"undo:{done.reference}")
    audit.write(state.engine, [entry])
    answer = done.as_dict()
    return answer if who.sees_identity(None) else mask_ids_deep(answer)
