"""Thin routes of the data comparison's worklists (docs/compare.md): a run's summary and
coverage, its findings with their evidence, and actions on them. Reading needs
``compare:read`` (enrolment clerks, settlement auditors, administrators), acting
``compare:work`` (enrolment clerks); IDs and names are masked for roles that do not see them;
every call is audited."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES, _audit, _deny
from yibao.api.http.tx import answer_or_raise
from yibao.domain.masking import mask_personal
from yibao.services.compare import actions
from yibao.store.repositories import AuditEntry
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["compare"])
RunId = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="a run (default: latest)")]
FindingId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="the finding's id")]


class Act(BaseModel):
    findings: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=1000)
    on: dt.date | None = None
    note: str | None = Field(default=None, max_length=500)


def _done(state: Any, who: Any, action: str, target: str, detail: str = "") -> None:
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, action, target=target, detail=detail or None),
    )


def _shown(who: Any, data: Any) -> Any:
    return data if who.sees_identity(None) else mask_personal(data)


@router.get("/api/v1/compare/run")
def run_summary(state: StateDep, who: PrincipalDep, run: RunId = None) -> Any:
    """A stored run: its sources, findings by kind and status, coverage against the targets."""
    _deny(state, who, "compare:read")
    try:
        out = actions.run_summary(UnitOfWork.for_engine(state.engine), run)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "compare:read", f"compare-run:{out['run_id']}")
    return out


@router.get("/api/v1/compare/findings")
def list_findings(
    state: StateDep,
    who: PrincipalDep,
    run: RunId = None,
    kind: str | None = Query(default=None, max_length=24),
    status: str | None = Query(default=None, max_length=10),
    limit: int = Query(default=100, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0, le=2**63 - 1),
) -> Any:
    """A worklist: a run's findings with their evidence rows."""
    _deny(state, who, "compare:read")
    try:
        run_id, found = actions.findings(
            UnitOfWork.for_engine(state.engine),
            run,
            kind=kind,
            status=status,
            limit=limit,
            offset=offset,
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "compare:read", f"compare-findings:{run_id}:{kind or '*'}")
    return _shown(who, {"run_id": run_id, "findings": [f.as_dict() for f in found]})


@router.get("/api/v1/compare/findings/{finding_id}")
def show(finding_id: FindingId, state: StateDep, who: PrincipalDep) -> Any:
    """A finding with its evidence and the actions taken on it."""
    _deny(state, who, "compare:read", target=f"compare-finding:{finding_id}")
    try:
        out = actions.finding(UnitOfWork.for_engine(state.engine), finding_id).as_dict()
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "compare:read", f"compare-finding:{finding_id}")
    return _shown(who, out)


@router.post("/api/v1/compare/act")
def act(body: Act, state: StateDep, who: PrincipalDep) -> Any:
    """Act on findings (enrol, end an enrolment on the date of death, correct the aid class,
    close with a note): all or nothing."""
    target = "compare-findings:" + ",".join(str(f) for f in body.findings[:20])
    _deny(state, who, "compare:work", target=target)
    try:
        done = actions.act(
            UnitOfWork.for_engine(state.engine),
            body.findings,
            who.actor,
            on=body.on,
            note=body.note,
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _done(state, who, "compare:work", target, f"{len(done)} acted")
    return [a.__dict__ for a in done]
