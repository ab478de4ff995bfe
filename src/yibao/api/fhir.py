"""HL7 FHIR R4 edge (``/fhir``), a first part: Patient read, Claim/$submit → ClaimResponse
(``use = predetermination`` previews through 2206, ``claim`` settles through 2207), and
ExplanationOfBenefit read of a stored settlement. Resources are checked with ``fhir.resources``
(R4B models, wire-compatible with R4 for these resources) at this edge only.

A Claim/$submit goes through the same transaction path as ``POST /api/v1/tx`` (idempotency by
``Claim.identifier[0].value`` as msgid, audit, roles, institution scoping).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.patient import Patient
from pydantic import BaseModel, Field, ValidationError

from yibao.api import errors, inputs
from yibao.api.auth import Principal
from yibao.api.context import TxContext
from yibao.api.deps import PrincipalDep, RawBodyDep, StateDep
from yibao.api.errors import ApiError
from yibao.api.fhir_inputs import ClaimBody, EligibilityBody
from yibao.api.handlers_settlement import entitlement, owner_or_not_yours, present
from yibao.api.roles import Role
from yibao.api.routes import _audit, _deny, not_yours
from yibao.api.tx import TxRequest, run_tx, translate
from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import NotFound
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, parse_yuan
from yibao.services import clock
from yibao.services import settlement as svc
from yibao.services.common import find_person
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

NATIONAL_ID_SYSTEM = "urn:oid:2.16.156.10011.1.1"  # 居民身份证
MED_TYPE_SYSTEM = "urn:yibao:med-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
FUND_SYSTEM = "urn:yibao:fund-pay-type"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"


def _money(yuan: str | None) -> dict[str, Any]:
    return {"value": float(yuan or 0), "currency": "CNY"}


def _resource(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """The resource an operation was given: sent as itself, or in the operation's
    ``Parameters`` form (``parameter[name = resource].resource``)."""
    if doc.get("resourceType") == "Parameters":
        for p in doc.get("parameter") or []:
            if isinstance(p, dict) and p.get("name") == "resource":
                inner = p.get("resource")
                if isinstance(inner, dict):
                    return inner
        raise ApiError(errors.MALFORMED, f"Parameters: no parameter 'resource' holding a {kind}")
    return doc


def _patient_no(ref: str, field: str) -> int:
    """``Patient/123`` or ``123`` as a person number."""
    number = ref[8:] if ref.startswith("Patient/") else ref
    if not number.isdigit() or len(number) > 19 or not 1 <= int(number) <= 2**62:
        raise ApiError(errors.INVALID_FIELD, f"{field}: Patient/<psn_no>")
    return int(number)


_OWN = "an insured person sees only their own file"


def _fail(exc: Exception) -> ApiError:
    err = translate(exc)
    if err is None:
        raise exc
    return err


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
        raise _fail(exc) from None
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


def _claim_input(claim: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(use, msgid, 2206/2207 input) from a FHIR Claim."""
    if claim.get("resourceType") != "Claim":
        raise ApiError(errors.MALFORMED, "resourceType: must be Claim")
    use = claim.get("use", "claim")
    if use not in ("claim", "predetermination"):
        raise ApiError(errors.INVALID_FIELD, "Claim.use: claim or predetermination")
    ref = str((claim.get("patient") or {}).get("reference", ""))
    if not ref.startswith("Patient/") or not ref[8:].isdigit():
        raise ApiError(errors.INVALID_FIELD, "Claim.patient.reference: Patient/<psn_no>")
    total = (claim.get("total") or {}).get("value")
    if total is None:
        raise ApiError(errors.INVALID_FIELD, "Claim.total.value: missing (yuan)")
    codings = ((claim.get("type") or {}).get("coding")) or [{}]
    med_type = codings[0].get("code") if isinstance(codings[0], dict) else None
    period = claim.get("billablePeriod") or {}
    on = period.get("start") or claim.get("created") or clock.today().isoformat()
    identifiers = claim.get("identifier") or []
    msgid = None
    if identifiers and isinstance(identifiers[0], dict):
        msgid = identifiers[0].get("value")
    data: dict[str, Any] = {
        "psn_no": ref[8:],
        "total": _yuan(total, "Claim.total.value"),
        "date": str(on)[:10],
        "med_type": med_type,
    }
    for ext in claim.get("extension") or []:
        if isinstance(ext, dict) and str(ext.get("url", "")).startswith("urn:yibao:"):
            name = str(ext["url"])[len("urn:yibao:") :]
            if name in ("fully_self_paid", "over_limit", "category_b", "mdtrt_id"):
                money = ext.get("valueMoney")
                if isinstance(money, dict) and name != "mdtrt_id":
                    where = f"Claim.extension[{ext['url']}].valueMoney.value"
                    data[name] = _yuan(money.get("value"), where)
                else:
                    value = (money if isinstance(money, dict) else {}).get(
                        "value", ext.get("valueString")
                    )
                    data[name] = str(value)
    return use, str(msgid or f"fhir-{uuid.uuid4().hex}"), data


def _yuan(value: object, element: str) -> str:
    """A FHIR Money value (yuan) checked by ``policy.money.parse_yuan``, as a yuan string."""
    try:
        return fen_to_yuan(parse_yuan(value, element))
    except AmountError as exc:
        raise ApiError(errors.INVALID_FIELD, f"{element}: {exc.reason}") from None


def claim_response(out: dict[str, Any], use: str, request_ref: str | None) -> dict[str, Any]:
    adjudication = [
        {"category": {"coding": [{"system": ADJUDICATION, "code": code}]}, "amount": _money(out[f])}
        for code, f in (
            ("submitted", "medfee_sumamt"),
            ("eligible", "inscp_scp_amt"),
            ("deductible", "act_pay_dedc"),
            ("benefit", "fund_pay_sumamt"),
            ("copay", "psn_part_amt"),
        )
    ]
    items = [
        {
            "itemSequence": i + 1,
            "adjudication": [
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "eligible"}]},
                    "reason": {
                        "coding": [{"system": FUND_SYSTEM, "code": d["fund_pay_type"]}],
                        "text": d["fund_name"],
                    },
                    "amount": _money(d["base"]),
                },
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                    "reason": {
                        "coding": [{"system": FUND_SYSTEM, "code": d["fund_pay_type"]}],
                        "text": d["fund_name"],
                    },
                    "amount": _money(d["fund_payamt"]),
                },
            ],
        }
        for i, d in enumerate(out.get("setldetail", []))
    ]
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": {"coding": [{"system": MED_TYPE_SYSTEM, "code": out.get("med_type")}]},
        "use": use,
        "patient": {"reference": f"Patient/{out['psn_no']}"},
        "created": dt.date.today().isoformat(),
        "insurer": {"display": "yibao"},
        "outcome": "complete",
        "disposition": "; ".join(out.get("reasons", [])) or "settled",
        "adjudication": adjudication,
        "total": [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": c}]},
                "amount": _money(out[f]),
            }
            for c, f in (("submitted", "medfee_sumamt"), ("benefit", "fund_pay_sumamt"))
        ],
        "payment": {
            "type": {"coding": [{"system": PAYMENT_TYPE, "code": "complete"}]},
            "amount": _money(out["fund_pay_sumamt"]),
        },
    }
    if items:
        resource["item"] = items
    if out.get("setl_id"):
        resource["id"] = out["setl_id"]
        resource["identifier"] = [{"system": "urn:yibao:setl_id", "value": out["setl_id"]}]
    if request_ref:
        resource["request"] = {"identifier": {"value": request_ref}}
    return ClaimResponse.model_validate(resource).model_dump(mode="json", exclude_none=True)


@router.post("/Claim/$submit")
def submit(
    state: StateDep,
    who: PrincipalDep,
    raw: RawBodyDep,
    claim: ClaimBody,
) -> dict[str, Any]:
    """Settle a Claim (``use = claim``, 2207) or preview it (``predetermination``, 2206)."""
    use, msgid, data = _claim_input(_resource(claim.model_dump(exclude_unset=True), "Claim"))
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
    return claim_response(answer["output"], use, msgid)


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
    except ApiError:
        raise
    except Exception as exc:
        raise _fail(exc) from None
    cr = claim_response(out, "claim", None)
    resource = {
        "resourceType": "ExplanationOfBenefit",
        "id": setl_id,
        "status": "cancelled" if out.get("status") == "reversed" else "active",
        "type": cr["type"],
        "use": "claim",
        "patient": cr["patient"],
        "created": out.get("setl_time") or dt.date.today().isoformat(),
        "insurer": cr["insurer"],
        "provider": {"identifier": {"value": code}},
        "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"display": out.get("scheme", "")}}],
        "adjudication": cr["adjudication"],
        "total": cr["total"],
        "payment": cr["payment"],
    }
    if "item" in cr:
        resource["item"] = [
            {
                "sequence": it["itemSequence"],
                "productOrService": it["adjudication"][0]["reason"],
                "adjudication": it["adjudication"],
            }
            for it in cr["item"]
        ]
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
    return ExplanationOfBenefit.model_validate(resource).model_dump(mode="json", exclude_none=True)


# ---------------------------------------------------------------- coverage and eligibility

PLAN = "http://terminology.hl7.org/CodeSystem/coverage-class"


def _coverage(e: Enrolment, psn_no: int) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": str(e.id),
        "status": "active" if e.is_open else "cancelled",
        "beneficiary": {"reference": f"Patient/{psn_no}"},
        "payor": [{"display": f"medical insurance fund, pooling area {e.pooling_area}"}],
        "period": {
            "start": e.start_date.isoformat(),
            **({"end": e.end_date.isoformat()} if e.end_date else {}),
        },
        "type": {"text": f"{e.scheme.value} basic medical insurance"},
        "class": [
            {
                "type": {"coding": [{"system": PLAN, "code": "plan"}]},
                "value": e.scheme.value,
                "name": e.kind.value,
            },
            {
                "type": {"coding": [{"system": PLAN, "code": "group"}]},
                "value": e.pooling_area,
                "name": "pooling area",
            },
        ],
    }
    return Coverage.model_validate(resource).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


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
    psn_no = _patient_no(patient, "patient")
    _coverage_allowed(state, who, psn_no, f"Coverage?patient={psn_no}")
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            p = find_person(uow, psn_no)
            assert p.id is not None
            entries = [_coverage(e, p.id) for e in uow.enrolments.history(p.id)]
    except Exception as exc:
        raise _fail(exc) from None
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
        raise _fail(exc) from None
    if who.role is Role.INSURED_PERSON and e.person_id != who.person_id:
        target = f"Coverage/{e.id}"
        raise not_yours(state.engine, who, "fhir:Coverage", e.person_id, target, _OWN)
    _audit(
        state.engine,
        AuditEntry(
            who.actor, who.role.value, "fhir:Coverage", person_id=e.person_id, target=str(e.id)
        ),
    )
    return _coverage(e, e.person_id)


@router.post("/CoverageEligibilityRequest/$submit")
def eligibility(
    state: StateDep,
    who: PrincipalDep,
    body: EligibilityBody,
) -> dict[str, Any]:
    """Entitlement on ``servicedDate``: in force or in a waiting period, and the remaining caps
    (``benefit.allowedMoney`` / ``usedMoney``)."""
    request = _resource(body.model_dump(exclude_unset=True), "CoverageEligibilityRequest")
    if request.get("resourceType") != "CoverageEligibilityRequest":
        raise ApiError(errors.MALFORMED, "resourceType: must be CoverageEligibilityRequest")
    ref = str((request.get("patient") or {}).get("reference", ""))
    if not ref.startswith("Patient/") or len(ref) > 26:
        raise ApiError(errors.INVALID_FIELD, "patient.reference: Patient/<psn_no>")
    psn_no = _patient_no(ref, "patient.reference")
    on = inputs.date({"servicedDate": request.get("servicedDate")}, "servicedDate", clock.today())
    _coverage_allowed(state, who, psn_no, f"CoverageEligibilityRequest/{psn_no}")
    try:
        with UnitOfWork.for_engine(state.engine) as uow:
            p = find_person(uow, psn_no)
            assert p.id is not None
            ent = entitlement(uow, p, on)
            enrolment = next((e for e in uow.enrolments.history(p.id) if e.covers(on)), None)
    except Exception as exc:
        raise _fail(exc) from None
    insurance: list[dict[str, Any]] = []
    if enrolment is not None:
        items = []
        for cap in ent.get("caps", []):
            benefit: dict[str, Any] = {"type": {"text": "annual cap"}}
            if cap["annual_cap"] is not None:
                benefit["allowedMoney"] = _money(cap["annual_cap"])
            benefit["usedMoney"] = _money(cap["used"])
            label = cap["fund"] + (f" ({cap['cap_group']})" if "cap_group" in cap else "")
            items.append({"category": {"text": label}, "benefit": [benefit]})
        insurance.append(
            {
                "coverage": {"reference": f"Coverage/{enrolment.id}"},
                "inforce": not ent.get("in_waiting_period", True),
                "benefitPeriod": {"start": f"{on.year}-01-01", "end": f"{on.year}-12-31"},
                **({"item": items} if items else {}),
            }
        )
    rule = ent.get("waiting_rule") or ""
    since = ent.get("entitled_from")
    resource = {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": ["benefits"],
        "patient": {"reference": f"Patient/{p.id}"},
        "servicedDate": on.isoformat(),
        "created": dt.date.today().isoformat(),
        "request": {"identifier": {"value": str(request.get("id") or "-")}},
        "insurer": {"display": "yibao"},
        "outcome": "complete",
        "disposition": f"entitled from {since}: {rule}" if since else rule or "not entitled",
        **({"insurance": insurance} if insurance else {}),
    }
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, "fhir:Eligibility", person_id=p.id, target=str(p.id)),
    )
    return CoverageEligibilityResponse.model_validate(resource).model_dump(
        mode="json", exclude_none=True
    )
