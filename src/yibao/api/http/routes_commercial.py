"""Supplementary commercial insurance (惠民保) over the API: the products sold in an area for a
year and a person's purchases (``commercial:read``), a purchase bought or cancelled
(``commercial:buy``: the enrolment clerk, the administrator), the monthly statement per insurer
(``commercial:statement``: fund managers, the administrator) and its collection from the insurers
(``commercial:collect``: fund managers). As ``yibao commercial`` does;
every change and refusal is audited (and a purchase keeps its own trail of actions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from yibao.api.http import audited, inputs
from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES
from yibao.services import commercial
from yibao.services.commercial import PurchaseView
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["benefits"])

READ, BUY, STATEMENT = "commercial:read", "commercial:buy", "commercial:statement"
COLLECT = "commercial:collect"
ID = PathParam(ge=1, le=2**62, description="The purchase's id")


class BuyRequest(BaseModel):
    """A purchase: the person (national ID or person number), the product's code on the list of
    the person's area, and the coverage year (default: the one on sale today)."""

    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=40)
    product: str = Field(max_length=40)
    year: int | None = None


class CollectRequest(BaseModel):
    """The insurers' payment of a month's net: one insurer (default every insurer) and the day
    it paid (default today)."""

    model_config = ConfigDict(extra="forbid")

    insurer: str | None = Field(default=None, min_length=1, max_length=100)
    on: dt.date | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=200)


def _run(state: Any, who: Any, action: str, target: str, call: Callable[[UnitOfWork], Any]) -> Any:
    return audited.run(state, who, action, target, call, (PurchaseView, "commercial"))


_answer = audited.answer


@router.get("/api/v1/commercial/products")
def product_list(
    state: StateDep,
    who: PrincipalDep,
    area: str = Query(pattern=r"^[0-9]{6}$"),
    year: int | None = None,
) -> dict[str, Any]:
    """The products sold in a pooling area for a coverage year (default this year)."""
    found = _run(state, who, READ, area, lambda _uow: commercial.product_list(area, year))
    return {"area": area, "products": [p.as_dict() for p in found]}


@router.post("/api/v1/commercial/purchases")
def buy(state: StateDep, who: PrincipalDep, body: BuyRequest) -> dict[str, Any]:
    """Buy a product for a person for a coverage year, today (within its sale period)."""
    made = _run(
        state,
        who,
        BUY,
        body.person,
        lambda uow: commercial.buy(
            uow, inputs.person_named(body.person), body.product, body.year, actor=who.actor
        ),
    )
    return _answer(who, made.as_dict())


@router.post("/api/v1/commercial/purchases/{purchase_id}/cancel")
def cancel(
    state: StateDep, who: PrincipalDep, body: CancelRequest, purchase_id: int = ID
) -> dict[str, Any]:
    """Cancel a purchase: before it covers or within its cooling-off days, unless it paid."""
    made = _run(
        state,
        who,
        BUY,
        str(purchase_id),
        lambda uow: commercial.cancel(uow, purchase_id, actor=who.actor, reason=body.reason),
    )
    return _answer(who, made.as_dict())


@router.get("/api/v1/commercial/purchases")
def listing(state: StateDep, who: PrincipalDep, person: str = audited.PERSON) -> dict[str, Any]:
    """A person's purchases, by year."""

    found = _run(state, who, READ, person, audited.person_records(person, commercial.listing)).found
    return _answer(who, {"purchases": [c.as_dict() for c in found]})


@router.get("/api/v1/commercial/statement")
def statement(
    state: StateDep, who: PrincipalDep, month: str = Query(max_length=7)
) -> dict[str, Any]:
    """The month's statement per insurer: what its products paid, net of reversals, and the
    net posted to the commercial receivable accounts (equal)."""
    found: dict[str, Any] = _run(
        state, who, STATEMENT, month, lambda uow: commercial.statement(uow, month)
    )
    return found


@router.post("/api/v1/commercial/statement/{month}/collect")
def collect(
    state: StateDep,
    who: PrincipalDep,
    body: CollectRequest,
    month: str = PathParam(max_length=7, description="YYYY-MM"),
) -> dict[str, Any]:
    """Record the insurers' payment of the month's net per area (once per insurer, area and
    month): the collections posted (or found posted before) and the month's statement."""
    found: dict[str, Any] = _run(
        state,
        who,
        COLLECT,
        month,
        lambda uow: {
            "collected": [
                c.as_dict() for c in commercial.collect(uow, month, body.insurer, on=body.on)
            ],
            "statement": commercial.statement(uow, month),
        },
    )
    return found
