"""Fund management over the API (the fund manager's role, ``funds:analysis``): the operation
analysis, the stored risk warnings and the budgets against the ledger, read-only JSON (the
warnings are evaluated by ``yibao funds warnings``); and (``funds:cross_region``) the monthly
clearing between pooling areas (异地就医清算): the pairs' statements, and clearing a month."""

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
from yibao.domain.funds import FIRST_YEAR, LAST_YEAR
from yibao.services import cross_region, fund_analysis, fund_budgets, fund_warnings
from yibao.store.repositories import AuditEntry
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["funds"])

ACTION = "funds:analysis"
AREA = r"^[0-9]{6}$"


@router.get("/api/v1/funds/analysis")
def analysis(
    state: StateDep,
    who: PrincipalDep,
    year: int = Query(ge=FIRST_YEAR, le=LAST_YEAR),
    area: str | None = Query(default=None, pattern=AREA),
) -> dict[str, Any]:
    """Each fund's monthly income, expenditure, balance and reserve months of ``year`` (of one
    pooling area, or every area), growth against last year and the projected year-end balance
    (as ``yibao funds analysis --json``)."""
    deny(state, who, ACTION)
    try:
        return fund_analysis.analyse(UnitOfWork.for_engine(state.engine), year, area).as_dict()
    except Exception as exc:
        raise answer_or_raise(exc) from None


@router.get("/api/v1/funds/warnings")
def warnings(
    state: StateDep,
    who: PrincipalDep,
    year: int = Query(ge=FIRST_YEAR, le=LAST_YEAR),
    area: str | None = Query(default=None, pattern=AREA),
) -> dict[str, Any]:
    """The risk warnings stored for ``year`` with their evidence, by month."""
    deny(state, who, ACTION)
    try:
        found = fund_warnings.stored(UnitOfWork.for_engine(state.engine), year, area)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    return {"year": year, "area": area, "warnings": [fund_warnings.warning_dict(w) for w in found]}


@router.get("/api/v1/funds/budgets")
def budgets(
    state: StateDep,
    who: PrincipalDep,
    year: int = Query(ge=FIRST_YEAR, le=LAST_YEAR),
    area: str | None = Query(default=None, pattern=AREA),
) -> dict[str, Any]:
    """The budgets of ``year`` against the ledger's actuals, month by month."""
    deny(state, who, ACTION)
    try:
        found = fund_budgets.compare(UnitOfWork.for_engine(state.engine), year, area)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    return {"year": year, "area": area, "budgets": [c.as_dict() for c in found]}


CROSS = "funds:cross_region"
MONTH = r"^[0-9]{4}-[0-9]{2}$"


@router.get("/api/v1/funds/cross-region/{month}")
def cross_region_statements(
    state: StateDep,
    who: PrincipalDep,
    month: str = PathParam(pattern=MONTH, description="YYYY-MM"),
    insured_area: str | None = Query(default=None, pattern=AREA),
    treating_area: str | None = Query(default=None, pattern=AREA),
    lines: bool = Query(default=False, description="Each pair's settlements and reversals"),
) -> dict[str, Any]:
    """The month's cross-region clearing (as ``yibao funds cross-region --json``): per pair of
    areas, what the insured area owes the treating area for the month's cross-region
    settlements less the reversals in it, and the clearing if posted."""
    deny(state, who, CROSS)
    try:
        found = cross_region.statements(
            UnitOfWork.for_engine(state.engine), month, insured_area, treating_area, lines=lines
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    return {"month": month, "statements": [s.as_dict() for s in found]}


class CrossRegionClearing(BaseModel):
    """Clear a month between pairs of areas: optionally one insured and/or treating area, and
    the date (default today; after the month's end, not after today)."""

    insured_area: str | None = Field(default=None, pattern=AREA)
    treating_area: str | None = Field(default=None, pattern=AREA)
    on: dt.date | None = None


@router.post("/api/v1/funds/cross-region/{month}/clearing")
def cross_region_clearing(
    body: CrossRegionClearing,
    state: StateDep,
    who: PrincipalDep,
    month: str = PathParam(pattern=MONTH, description="YYYY-MM"),
) -> dict[str, Any]:
    """Post the month's clearing of each pair (once per pair and month: a pair cleared before
    is answered with its clearing, ``posted`` false). Audited."""
    deny(state, who, CROSS)
    target = f"cross_region:{body.insured_area or '*'}:{body.treating_area or '*'}:{month}"
    try:
        done = cross_region.pay(
            UnitOfWork.for_engine(state.engine),
            month,
            body.insured_area,
            body.treating_area,
            on=body.on,
        )
    except Exception as exc:
        raise answer_or_raise(exc) from None
    posted = [c.statement.reference for c in done if c.posted]
    audit.write(
        state.engine,
        [
            AuditEntry(
                who.actor,
                who.role.value,
                CROSS,
                target=target,
                detail=f"cleared {len(posted)} pairs: {', '.join(posted)}"[:500],
            )
        ],
    )
    return {"month": month, "statements": [c.as_dict() for c in done]}
