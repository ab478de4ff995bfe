"""HL7 FHIR R4 edge (``/fhir``), a first part: Patient read, Claim/$submit → ClaimResponse
(``use = predetermination`` previews through 2206, the Claim's items with it, nothing stored;
``claim`` uploads the items (2204) and settles through 2207), and
ExplanationOfBenefit read of a stored settlement, Coverage and CoverageEligibilityRequest/$submit.
The resources themselves are built (and checked) in ``fhir.resources``.

A Claim/$submit goes through the same transaction path as ``POST /api/v1/tx`` (idempotency by
``Claim.identifier[0].value`` as msgid, audit, roles, institution scoping).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from fhir.resources.R4B.patient import Patient
from pydantic import BaseModel, Field, ValidationError

from yibao.api.fhir.inputs import ClaimBody, EligibilityBody
from yibao.api.fhir.resources import (
    NATIONAL_ID_SYSTEM,
    claim_bill,
    claim_input,
    claim_response,
    coverage_resource,
    eligibility_response,
    explanation_of_benefit_resource,
    operation_resource,
    patient_no,
)
from yibao.api.http import errors, inputs
from yibao.api.http.auth import Principal
from yibao.api.http.context import TxContext
from yibao.api.http.deps import PrincipalDep, RawBodyDep, StateDep
from yibao.api.http.errors import ApiError
from yibao.api.http.handlers_settlement import owner_or_not_yours, present
from yibao.api.http.handlers_statements import entitlement
from yibao.api.http.routes import _audit, _deny, not_yours
from yibao.api.http.tx import TxRequest, answer_or_raise, run_tx
from yibao.domain.errors import NotFound
from yibao.domain.ids import NotStored
from yibao.domain.roles import Role
from yibao.services import clock
from yibao.services import settlement as svc
from yibao.services.common import find_person
from yibao.services.person_file import enrolment_on
from yibao.store.repositories import AuditEntry
from yibao.store.uow import UnitOfWork


class FhirJSONResponse(JSONResponse):
    """FHIR's own media type (R4 http.html#mime-type): what FHIR clients ask for in Accept."""

    media_type = "application/fhir+json"


class OperationOutcomeAnswer(BaseModel):
    """A refusal under ``/fhir``: one issue whose ``details`` code is the infcode."""

    resourceType: Literal["OperationOutcome"]  # FHIR's field name
    issue: list[dict[str, Any]] = Field(min_length=1)


# app.py sends refusals as application/json (not yet application/fhir+json): declared as sent
_OUTCOME = {"content": {"application/json": {"schema": OperationOutcomeAnswer.model_json_schema()}}}
router = APIRouter(
    prefix="/fhir",
    tags=["fhir"],
    default_response_class=FhirJSONResponse,
    responses={
        "4XX": {**_OUTCOME, "description": "refused: an OperationOutcome says why"},
        500: {**_OUTCOME, "description": "internal error: nothing stored, send again"},
    },
)

_OWN = "an insured person sees only their own file"


@router.get("/Patient/{psn_no}")
def patient(
    state: StateDep,
    who: PrincipalDep,
    psn_no: int = Path(ge=1, le=2**62),
) -> dict[str, Any]:
    """The insured person (identifier = national ID, masked unless the role may see it)."""
    action = "person:read" if who.role is not Role.INSTITUTION else "tx:1101"
    _deny(state, who, action, target=f"Patient/{psn_no}")
    if who.role is Role.INSURED_PERSON and psn_no != who.person_id:
        raise not_yours(state.engine, who, "fhir:Patient", psn_no, f"Patient/{psn_no}", _OWN)
    ctx = TxContext(state.engine, state.settings, who, "-", "fhir", "")
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            p = find_person(uow, psn_no)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    ident = ctx.identity(p.id, p.label, p.name)
    shown = who.sees_identity(p.id)
    resource = {
        "resourceType": "Patient",
        "id": str(p.id),
        "identifier": [{"system": NATIONAL_ID_SYSTEM, "value": ident["certno"]}],
        "name": [{"text": ident["psn_name"]}],
        "gender": "male" if p.sex.value == "M" else "female",
    }
    if shown:
        resource["birthDate"] = p.birth_date.isoformat()
    if p.phone:
        resource["telecom"] = [{"system": "phone", "value": ctx.phone(p.id, p.phone)}]
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, "fhir:Patient", person_id=p.id, target=str(p.id)),
    )
    return Patient.model_validate(resource).model_dump(mode="json", exclude_none=True)


@router.post("/Claim/$submit")
def submit(
    state: StateDep,
    who: PrincipalDep,
    raw: RawBodyDep,
    claim: ClaimBody,
) -> dict[str, Any]:
    """Settle a Claim (``use = claim``, 2207) or preview it (``predetermination``, 2206)."""
    resource = operation_resource(claim.model_dump(exclude_unset=True), "Claim")
    use, msgid, data = claim_input(resource)
    bill = claim_bill(resource, data["date"])
    lines = None
    if bill is not None:
        if not data.get("mdtrt_id"):
            raise ApiError(
                errors.INVALID_FIELD,
                "Claim.item: lines need the registered visit (extension urn:yibao:mdtrt_id)",
            )
        if use == "predetermination":  # previewed with the lines, nothing stored (2206)
            data = data | bill
        else:  # the Claim's lines first (2204, under a msgid of their own)
            uploaded = _run(
                state, who, raw, "2204", f"{msgid}.lines", bill | {"mdtrt_id": data["mdtrt_id"]}
            )
            lines = uploaded["result"]
    infno = "2206" if use == "predetermination" else "2207"
    try:
        envelope = TxRequest(
            infno=infno,
            msgid=msgid,
            fixmedins_code=who.institution or "-",
            opter="fhir",
            inf_time=dt.datetime.now(dt.UTC).isoformat()[:19],
            input=data,
        )
    except ValidationError:
        raise ApiError(errors.INVALID_FIELD, "Claim.identifier: 1-64 of A-Za-z0-9_.:-") from None
    answer = run_tx(state.engine, state.settings, who, envelope, raw)
    if answer["infcode"] != errors.OK:
        raise ApiError(answer["infcode"], answer["err_msg"] or "refused")
    output = answer["output"]
    return claim_response(output, use, msgid, output.get("result", lines))


def _run(
    state: Any, who: Principal, raw: bytes, infno: str, msgid: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Run one transaction for a FHIR operation; its refusal as the operation's."""
    try:
        envelope = TxRequest(
            infno=infno,
            msgid=msgid,
            fixmedins_code=who.institution or "-",
            opter="fhir",
            inf_time=dt.datetime.now(dt.UTC).isoformat()[:19],
            input=data,
        )
    except ValidationError:
        raise ApiError(errors.INVALID_FIELD, "Claim.identifier: 1-58 of A-Za-z0-9_.:-") from None
    answer = run_tx(state.engine, state.settings, who, envelope, raw)
    if answer["infcode"] != errors.OK:
        raise ApiError(answer["infcode"], answer["err_msg"] or "refused")
    output: dict[str, Any] = answer["output"]
    return output


@router.get("/ExplanationOfBenefit/{setl_id}")
def explanation_of_benefit(setl_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """A stored settlement read back."""
    _deny(state, who, "settlement:read", target=setl_id)
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            code, person_id = owner_or_not_yours(uow, who, setl_id[:40])
        if (who.role is Role.INSTITUTION and code != who.institution) or (
            who.role is Role.INSURED_PERSON and person_id != who.person_id
        ):
            message = f"settlement {setl_id} is not yours"
            action = "fhir:ExplanationOfBenefit"
            raise not_yours(state.engine, who, action, person_id, setl_id[:80], message)
        out = present(svc.settlement_of(UnitOfWork.for_engine(state.engine), setl_id), person_id)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    resource = explanation_of_benefit_resource(out, setl_id, code)
    _audit(
        state.engine,
        AuditEntry(
            who.actor,
            who.role.value,
            "fhir:ExplanationOfBenefit",
            person_id=person_id,
            target=setl_id,
        ),
    )
    return resource


# ---------------------------------------------------------------- coverage and eligibility


def _coverage_allowed(state: Any, who: Principal, psn_no: int, action: str) -> None:
    _deny(state, who, "person:read" if who.role is not Role.INSTITUTION else "tx:1101", action)
    if who.role is Role.INSURED_PERSON and psn_no != who.person_id:
        kind = "fhir:Eligibility" if action.startswith("CoverageEligibility") else "fhir:Coverage"
        raise not_yours(state.engine, who, kind, psn_no, action, _OWN)


@router.get("/Coverage")
def coverages(
    state: StateDep,
    who: PrincipalDep,
    patient: str = Query(
        pattern=r"^(Patient/)?[0-9]{1,19}$",
        description="the person: psn_no or Patient/<psn_no>",
    ),
) -> dict[str, Any]:
    """A Bundle of the person's Coverage resources, one per scheme enrolment."""
    psn_no = patient_no(patient, "patient")
    _coverage_allowed(state, who, psn_no, f"Coverage?patient={psn_no}")
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            p = find_person(uow, psn_no)
            if p.id is None:
                raise NotStored("person")
            entries = [coverage_resource(e, p.id) for e in uow.enrolments.history(p.id)]
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, "fhir:Coverage", person_id=p.id, target=str(p.id)),
    )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": [{"resource": r} for r in entries],
    }


@router.get("/Coverage/{coverage_id}")
def coverage_read(
    state: StateDep,
    who: PrincipalDep,
    coverage_id: int = Path(ge=1, le=2**62),
) -> dict[str, Any]:
    """One Coverage (a scheme enrolment), e.g. as referenced by a CoverageEligibilityResponse."""
    _deny(state, who, "person:read" if who.role is not Role.INSTITUTION else "tx:1101")
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            e = uow.enrolments.get(coverage_id)
    except NotFound:
        if who.role is Role.INSURED_PERSON:  # as for another person's: nothing told
            raise ApiError(errors.NOT_YOURS, "an insured person sees only their own file") from None
        raise ApiError(errors.NOT_FOUND, f"Coverage {coverage_id} not found") from None
    except Exception as exc:
        raise answer_or_raise(exc) from None
    if who.role is Role.INSURED_PERSON and e.person_id != who.person_id:
        target = f"Coverage/{e.id}"
        raise not_yours(state.engine, who, "fhir:Coverage", e.person_id, target, _OWN)
    _audit(
        state.engine,
        AuditEntry(
            who.actor, who.role.value, "fhir:Coverage", person_id=e.person_id, target=str(e.id)
        ),
    )
    return coverage_resource(e, e.person_id)


@router.post("/CoverageEligibilityRequest/$submit")
def eligibility(
    state: StateDep,
    who: PrincipalDep,
    body: EligibilityBody,
) -> dict[str, Any]:
    """Entitlement on ``servicedDate``: in force or in a waiting period, and the remaining caps
    (``benefit.allowedMoney`` / ``usedMoney``)."""
    request = operation_resource(body.model_dump(exclude_unset=True), "CoverageEligibilityRequest")
    if request.get("resourceType") != "CoverageEligibilityRequest":
        raise ApiError(errors.MALFORMED, "resourceType: must be CoverageEligibilityRequest")
    ref = str((request.get("patient") or {}).get("reference", ""))
    if not ref.startswith("Patient/") or len(ref) > 26:
        raise ApiError(errors.INVALID_FIELD, "patient.reference: Patient/<psn_no>")
    psn_no = patient_no(ref, "patient.reference")
    on = inputs.date({"servicedDate": request.get("servicedDate")}, "servicedDate", clock.today())
    _coverage_allowed(state, who, psn_no, f"CoverageEligibilityRequest/{psn_no}")
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            p = find_person(uow, psn_no)
            if p.id is None:
                raise NotStored("person")
            ent = entitlement(uow, p, on)
            enrolment = enrolment_on(uow.enrolments.history(p.id), on)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    coverage_id = enrolment.id if enrolment is not None else None
    request_id = str(request.get("id") or "-")
    resource = eligibility_response(ent, coverage_id, p.id, on, request_id)
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, "fhir:Eligibility", person_id=p.id, target=str(p.id)),
    )
    return resource
