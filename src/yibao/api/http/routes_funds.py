"""Fund management over the API (the fund manager's role, ``funds:analysis``): the operation
analysis, the stored risk warnings and the budgets against the ledger. Read-only JSON; the
warnings are evaluated by ``yibao funds warnings``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES
from yibao.api.http.routes import _deny as deny
from yibao.api.http.tx import answer_or_raise
from yibao.domain.funds import FIRST_YEAR, LAST_YEAR
from yibao.services import fund_analysis, fund_budgets, fund_warnings
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
