"""Thin routes of supervision findings for auditors (稽核): list, read with evidence, confirm,
dismiss, recover, institutions' credit scores (docs/supervision.md). Reading needs
``findings:read`` and moving ``findings:work`` (``domain.roles``); every call is audited."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from yibao.api.http import errors
from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.errors import ApiError
from yibao.api.http.routes import ERROR_RESPONSES, _audit, _deny
from yibao.api.http.tx import answer_or_raise
from yibao.policy.money import AmountError, parse_yuan
from yibao.services.supervision import findings
from yibao.store.repositories import AuditEntry
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["supervision"])
_AREA = r"^[0-9]{6}$"
#: a finding's id: a positive 64-bit integer (a larger one is refused as a field, not a 500)
FindingId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="the finding's id")]


class Confirm(BaseModel):
    recovery: str = Field(description="yuan the institution pays back, at most 2 decimals")


class Dismiss(BaseModel):
    reason: str = Field(max_length=500)


class Recover(BaseModel):
    on: dt.date | None = None


def _fen(yuan: str) -> int:
    try:
        return parse_yuan(yuan, "recovery")
    except AmountError as exc:
        raise ApiError(errors.INVALID_FIELD, f"recovery: {exc.reason}") from None


def _done(state: Any, who: Any, action: str, target: str, detail: str = "") -> None:
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, action, target=target, detail=detail or None),
    )


@router.get("/api/v1/findings")
def list_findings(
    state: StateDep,
    who: PrincipalDep,
    area: str | None = Query(default=None, pattern=_AREA),
    year: int | None = Query(default=None, ge=1950, le=2100),
    status: str | None = Query(default=None, max_length=10),
    rule: str | None = Query(default=None, max_length=24),
    institution: str | None = Query(default=None, max_length=30),
) -> Any:
    """Findings, filtered (no evidence: read one for it): a list, or the refusal's envelope."""
    _deny(state, who, "findings:read")
    try:
        found = findings.list_findings(
            UnitOfWork.for_engine(state.engine), area, year, status, rule, institution
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "findings:read", f"findings:{area or '*'}:{year or '*'}")
    return [f.to_dict() for f in found]


@router.get("/api/v1/findings/scores")
def scores(
    state: StateDep,
    who: PrincipalDep,
    area: str = Query(pattern=_AREA),
    year: int = Query(ge=1950, le=2100),
) -> dict[str, Any]:
    """Institutions' credit scores for the year, from their confirmed findings."""
    _deny(state, who, "findings:read")
    got = findings.credit_scores(UnitOfWork.for_engine(state.engine), area, year)
    _done(state, who, "findings:read", f"scores:{area}:{year}")
    return dict(got)


@router.get("/api/v1/findings/{finding_id}")
def show(finding_id: FindingId, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """A finding with its evidence and who moved it when."""
    _deny(state, who, "findings:read", target=f"finding:{finding_id}")
    try:
        out = findings.show(UnitOfWork.for_engine(state.engine), finding_id).to_dict()
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "findings:read", f"finding:{finding_id}")
    return out


@router.post("/api/v1/findings/{finding_id}/confirm")
def confirm(finding_id: FindingId, body: Confirm, state: StateDep, who: PrincipalDep) -> Any:
    _deny(state, who, "findings:work", target=f"finding:{finding_id}")
    fen = _fen(body.recovery)
    try:
        out = findings.confirm(UnitOfWork.for_engine(state.engine), finding_id, fen, who.actor)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "findings:work", f"finding:{finding_id}", "confirmed")
    return out.to_dict()


@router.post("/api/v1/findings/{finding_id}/dismiss")
def dismiss(finding_id: FindingId, body: Dismiss, state: StateDep, who: PrincipalDep) -> Any:
    _deny(state, who, "findings:work", target=f"finding:{finding_id}")
    try:
        out = findings.dismiss(
            UnitOfWork.for_engine(state.engine), finding_id, body.reason, who.actor
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "findings:work", f"finding:{finding_id}", "dismissed")
    return out.to_dict()


@router.post("/api/v1/findings/{finding_id}/recover")
def recover(finding_id: FindingId, body: Recover, state: StateDep, who: PrincipalDep) -> Any:
    _deny(state, who, "findings:work", target=f"finding:{finding_id}")
    try:
        out = findings.recover(UnitOfWork.for_engine(state.engine), finding_id, who.actor, body.on)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "findings:work", f"finding:{finding_id}", "recovered")
    return out.to_dict()
