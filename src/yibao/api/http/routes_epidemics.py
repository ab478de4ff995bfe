"""Major epidemics over the API (重大疫情, ``services.epidemics``): an administrator declares and
ends one (``epidemic:declare``); fund managers and administrators list them and read the report
of the settlements one covered (``epidemic:read``); fund managers advance money to an institution
and clear the advance (``epidemic:advance``). Every change is audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from yibao.api.http import audit
from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES
from yibao.api.http.routes import _deny as deny
from yibao.api.http.tx import answer_or_raise
from yibao.policy import fen_to_yuan
from yibao.policy.money import parse_yuan
from yibao.services import epidemics
from yibao.store.repositories import AuditEntry
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["epidemics"])
AREA = r"^[0-9]{6}$"
ID = PathParam(ge=1, le=2**62, description="The epidemic's id")


class Declaration(BaseModel):
    area: str = Field(pattern=AREA)
    name: str = Field(min_length=1, max_length=100)
    starts_on: dt.date
    ends_on: dt.date | None = None
    diseases: list[str] = Field(default_factory=list, max_length=200)
    groups: list[str] = Field(default_factory=list, max_length=200)


class Ending(BaseModel):
    ends_on: dt.date


class Advance(BaseModel):
    institution: str = Field(min_length=1, max_length=40)
    amount: str = Field(description="Yuan, two decimals at most")
    on: dt.date | None = None


class Clearing(BaseModel):
    institution: str = Field(min_length=1, max_length=40)
    on: dt.date | None = None


@router.post("/api/v1/epidemics")
def declare(body: Declaration, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Declare an epidemic for an area and period (administrators; audited)."""
    deny(state, who, "epidemic:declare")
    try:
        e = epidemics.declare(
            UnitOfWork.for_engine(state.engine), body.area, body.name, body.starts_on,
            body.diseases, body.groups, body.ends_on, actor=who.actor, role=who.role.value,
        )  # fmt: skip
    except Exception as exc:
        raise answer_or_raise(exc) from None
    return epidemics.epidemic_dict(e)


@router.post("/api/v1/epidemics/{epidemic_id}/end")
def end(body: Ending, state: StateDep, who: PrincipalDep, epidemic_id: int = ID) -> dict[str, Any]:
    """End an epidemic on its last day (administrators; audited)."""
    deny(state, who, "epidemic:declare")
    try:
        e = epidemics.end(
            UnitOfWork.for_engine(state.engine), epidemic_id, body.ends_on,
            actor=who.actor, role=who.role.value,
        )  # fmt: skip
    except Exception as exc:
        raise answer_or_raise(exc) from None
    return epidemics.epidemic_dict(e)


@router.get("/api/v1/epidemics")
def listed(
    state: StateDep, who: PrincipalDep, area: str | None = Query(default=None, pattern=AREA)
) -> dict[str, Any]:
    """The declared epidemics (of one area)."""
    deny(state, who, "epidemic:read")
    try:
        found = epidemics.epidemics(UnitOfWork.for_engine(state.engine), area)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    return {"epidemics": [epidemics.epidemic_dict(e) for e in found]}


@router.get("/api/v1/epidemics/{epidemic_id}/report")
def report(state: StateDep, who: PrincipalDep, epidemic_id: int = ID) -> dict[str, Any]:
    """The settlements the epidemic covered (as ``yibao epidemic report --json``)."""
    deny(state, who, "epidemic:read")
    try:
        return epidemics.report(UnitOfWork.for_engine(state.engine), epidemic_id)
    except Exception as exc:
        raise answer_or_raise(exc) from None


def _audit(state: Any, who: Any, what: str, epidemic_id: int, detail: str) -> None:
    target = f"epidemic:{epidemic_id}"
    audit.write(
        state.engine, [AuditEntry(who.actor, who.role.value, what, target=target, detail=detail)]
    )


@router.post("/api/v1/epidemics/{epidemic_id}/advances")
def advance(
    body: Advance, state: StateDep, who: PrincipalDep, epidemic_id: int = ID
) -> dict[str, Any]:
    """Advance money to an institution before settlement (fund managers; audited)."""
    deny(state, who, "epidemic:advance")
    try:
        fen = parse_yuan(body.amount, "amount")
        txn = epidemics.advance(
            UnitOfWork.for_engine(state.engine), epidemic_id, body.institution, fen, body.on
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(state, who, "epidemic:advance", epidemic_id, f"{body.institution} {fen_to_yuan(fen)}")
    return {"epidemic": epidemic_id, "institution": body.institution,
            "amount": fen_to_yuan(fen), "transaction": txn}  # fmt: skip


@router.post("/api/v1/epidemics/{epidemic_id}/clearing")
def clearing(
    body: Clearing, state: StateDep, who: PrincipalDep, epidemic_id: int = ID
) -> dict[str, Any]:
    """Clear what the epidemic advanced to an institution, once (fund managers; audited)."""
    deny(state, who, "epidemic:advance")
    try:
        txn, fen = epidemics.clear_advance(
            UnitOfWork.for_engine(state.engine), epidemic_id, body.institution, body.on
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(state, who, "epidemic:clear", epidemic_id, f"{body.institution} {fen_to_yuan(fen)}")
    return {"epidemic": epidemic_id, "institution": body.institution,
            "amount": fen_to_yuan(fen), "transaction": txn}  # fmt: skip
