"""Certified chronic and special diseases (门诊慢特病认定) over the API: staff who may certify
(``chronic:certify``: the enrolment clerk, the settlement auditor, the administrator) certify a
person for a listed disease, renew or end a certification; ``chronic:read`` lists a person's.
As ``yibao chronic`` does; every change and refusal is audited (and the certification keeps its
own trail of actions)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from yibao.api.http import audited, inputs
from yibao.api.http.deps import PrincipalDep, StateDep
from yibao.api.http.routes import ERROR_RESPONSES
from yibao.services import chronic
from yibao.services.chronic import CertificationView
from yibao.store.uow import UnitOfWork

router = APIRouter(responses=ERROR_RESPONSES, tags=["benefits"])

CERTIFY, READ = "chronic:certify", "chronic:read"


class CertifyRequest(BaseModel):
    """A certification: the person (national ID or person number), the disease's code on the
    area's list, and the first day (default today; not in the past)."""

    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=40)
    disease: str = Field(max_length=20)
    valid_from: dt.date | None = None


class EndRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_day: dt.date | None = None
    reason: str = Field(default="", max_length=200)


def _run(state: Any, who: Any, action: str, target: str, call: Callable[[UnitOfWork], Any]) -> Any:
    return audited.run(state, who, action, target, call, (CertificationView, "chronic"))


_answer = audited.answer


@router.post("/api/v1/chronic/certifications")
def certify(state: StateDep, who: PrincipalDep, body: CertifyRequest) -> dict[str, Any]:
    """Certify a person for a listed disease, valid for the area's period."""
    made = _run(
        state,
        who,
        CERTIFY,
        body.person,
        lambda uow: chronic.certify(
            uow, inputs.person_named(body.person), body.disease, body.valid_from, actor=who.actor
        ),
    )
    return _answer(who, made.as_dict())


#: A certification's id as the store holds it (a larger number is refused, not looked up).
CertId = Annotated[int, PathParam(ge=1, le=2**62, description="The certification's id")]


@router.post("/api/v1/chronic/certifications/{cert_id}/renew")
def renew(state: StateDep, who: PrincipalDep, cert_id: CertId) -> dict[str, Any]:
    """Renew a certification for the area's period from the day after its last day."""
    made = _run(
        state, who, CERTIFY, str(cert_id), lambda uow: chronic.renew(uow, cert_id, actor=who.actor)
    )
    return _answer(who, made.as_dict())


@router.post("/api/v1/chronic/certifications/{cert_id}/end")
def end(state: StateDep, who: PrincipalDep, cert_id: CertId, body: EndRequest) -> dict[str, Any]:
    """End a certification on its last day (default today; not in the past)."""
    made = _run(
        state,
        who,
        CERTIFY,
        str(cert_id),
        lambda uow: chronic.end(uow, cert_id, body.last_day, actor=who.actor, reason=body.reason),
    )
    return _answer(who, made.as_dict())


@router.get("/api/v1/chronic/certifications")
def listing(state: StateDep, who: PrincipalDep, person: str = audited.PERSON) -> dict[str, Any]:
    """A person's certifications, oldest first."""

    found = _run(state, who, READ, person, audited.person_records(person, chronic.listing)).found
    return _answer(who, {"certifications": [c.as_dict() for c in found]})
