"""FHIR R4 resources built from the API's answers, and FHIR requests read into them: Claim →
the 2206/2207 input, answers → ClaimResponse, ExplanationOfBenefit, Coverage and
CoverageEligibilityResponse. Each resource is checked with ``fhir.resources`` (R4B models,
wire-compatible with R4 for these resources) before it is sent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit

from yibao.api.http import errors
from yibao.api.http.errors import ApiError
from yibao.domain.enrolment import Enrolment
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, parse_yuan
from yibao.services import clock

NATIONAL_ID_SYSTEM = "urn:oid:2.16.156.10011.1.1"  # 居民身份证
MED_TYPE_SYSTEM = "urn:yibao:med-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
FUND_SYSTEM = "urn:yibao:fund-pay-type"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
#: The parts of a fee line's amount HL7's adjudication codes do not name, and why.
YIBAO_ADJUDICATION = "urn:yibao:adjudication"
LINE_REASON_SYSTEM = "urn:yibao:line-reason"


def money(yuan: str | None) -> dict[str, Any]:
    return {"value": float(yuan or 0), "currency": "CNY"}


def operation_resource(doc: dict[str, Any], kind: str) -> dict[str, Any]:
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


def patient_no(ref: str, field: str) -> int:
    """``Patient/123`` or ``123`` as a person number."""
    number = ref[8:] if ref.startswith("Patient/") else ref
    if not number.isdigit() or len(number) > 19 or not 1 <= int(number) <= 2**62:
        raise ApiError(errors.INVALID_FIELD, f"{field}: Patient/<psn_no>")
    return int(number)


def claim_input(claim: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
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
    if total is None and not claim.get("item"):
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
        "date": str(on)[:10],
        "med_type": med_type,
    }
    if total is not None:
        data["total"] = _yuan(total, "Claim.total.value")
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


def _code(concept: object) -> object:
    """The first coding's code of a CodeableConcept (None when absent)."""
    codings = (concept or {}).get("coding") if isinstance(concept, dict) else None
    first = codings[0] if isinstance(codings, list) and codings else None
    return first.get("code") if isinstance(first, dict) else None


def _flagged(types: object, code: str) -> str:
    """'1' when one of the CodeableConcepts ``types`` holds ``code``, else '0'."""
    listed = types if isinstance(types, list) else []
    return "1" if any(_code(t) == code for t in listed) else "0"


def claim_bill(claim: dict[str, Any], on: str) -> dict[str, Any] | None:
    """The 2204 input (without ``mdtrt_id``) a Claim's items, diagnoses and procedures make:
    each item a fee detail line (``feedetl_sn`` its sequence, ``med_list_codg`` the
    productOrService code, ``cnt`` quantity, ``pric`` unitPrice, ``det_item_fee_sumamt`` net,
    ``fee_ocur_time`` servicedDate or the claim's day); None when it has none."""
    items = claim.get("item") or []
    diagnoses = claim.get("diagnosis") or []
    procedures = claim.get("procedure") or []
    if not items:
        if diagnoses or procedures:
            raise ApiError(
                errors.INVALID_FIELD, "Claim.item: diagnoses and procedures come with the lines"
            )
        return None
    lines = []
    for i, it in enumerate(items):
        it = it if isinstance(it, dict) else {}
        line = {
            "feedetl_sn": str(it.get("sequence") or i + 1),
            "med_list_codg": _code(it.get("productOrService")),
            "cnt": (it.get("quantity") or {}).get("value"),
            "pric": (it.get("unitPrice") or {}).get("value"),
            "fee_ocur_time": it.get("servicedDate") or on,
        }
        net = (it.get("net") or {}).get("value")
        if net is not None:
            line["det_item_fee_sumamt"] = _yuan(net, f"Claim.item[{i}].net.value")
        lines.append(line)
    return {
        "feedetail": lines,
        "diseinfo": [
            {
                "diag_code": _code(d.get("diagnosisCodeableConcept")),
                "maindiag_flag": _flagged(d.get("type"), "principal"),
            }
            for d in diagnoses
            if isinstance(d, dict)
        ],
        "oprninfo": [
            {
                "oprn_oprt_code": _code(p.get("procedureCodeableConcept")),
                "oprn_date": p.get("date"),
                "main_oprn_flag": _flagged(p.get("type"), "primary"),
            }
            for p in procedures
            if isinstance(p, dict)
        ],
    }


def _yuan(value: object, element: str) -> str:
    """A FHIR Money value (yuan) checked by ``policy.money.parse_yuan``, as a yuan string."""
    try:
        return fen_to_yuan(parse_yuan(value, element))
    except AmountError as exc:
        raise ApiError(errors.INVALID_FIELD, f"{element}: {exc.reason}") from None


def _line_item(line: dict[str, Any]) -> dict[str, Any]:
    """A classified fee line (a 2204 result) adjudicated: submitted, eligible (in scope), and
    the yibao-coded self-paid parts, each with the line's reason."""
    reason = {
        "coding": [{"system": LINE_REASON_SYSTEM, "code": line["reason"]}],
        "text": line["memo"],
    }
    parts = [
        (ADJUDICATION, "submitted", "det_item_fee_sumamt"),
        (ADJUDICATION, "eligible", "inscp_scp_amt"),
        (YIBAO_ADJUDICATION, "fully_self_paid", "fulamt_ownpay_amt"),
        (YIBAO_ADJUDICATION, "over_limit", "overlmt_amt"),
        (YIBAO_ADJUDICATION, "category_b", "category_b"),
        (YIBAO_ADJUDICATION, "category_b_prepay", "preselfpay_amt"),
    ]
    return {
        "itemSequence": int(line["feedetl_sn"]) if line["feedetl_sn"].isdigit() else 0,
        "adjudication": [
            {
                "category": {"coding": [{"system": system, "code": code}]},
                "reason": reason,
                "amount": money(line[field]),
            }
            for system, code, field in parts
        ],
    }


def claim_response(
    out: dict[str, Any],
    use: str,
    request_ref: str | None,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A 2206/2207 answer as a ClaimResponse: the claim's adjudication, and one item per fund
    layer; with the Claim's fee lines (``lines``: the 2204 results), one item per line, and the
    fund layers as ``addItem``."""
    adjudication = [
        {"category": {"coding": [{"system": ADJUDICATION, "code": code}]}, "amount": money(out[f])}
        for code, f in (
            ("submitted", "medfee_sumamt"),
            ("eligible", "inscp_scp_amt"),
            ("deductible", "act_pay_dedc"),
            ("benefit", "fund_pay_sumamt"),
            ("copay", "psn_part_amt"),
        )
    ]
    items: list[dict[str, Any]] = [
        {
            "itemSequence": i + 1,
            "adjudication": [
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "eligible"}]},
                    "reason": {
                        "coding": [{"system": FUND_SYSTEM, "code": d["fund_pay_type"]}],
                        "text": d["fund_name"],
                    },
                    "amount": money(d["base"]),
                },
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                    "reason": {
                        "coding": [{"system": FUND_SYSTEM, "code": d["fund_pay_type"]}],
                        "text": d["fund_name"],
                    },
                    "amount": money(d["fund_payamt"]),
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
                "amount": money(out[f]),
            }
            for c, f in (("submitted", "medfee_sumamt"), ("benefit", "fund_pay_sumamt"))
        ],
        "payment": {
            "type": {"coding": [{"system": PAYMENT_TYPE, "code": "complete"}]},
            "amount": money(out["fund_pay_sumamt"]),
        },
    }
    if lines:
        resource["item"] = [_line_item(line) for line in lines]
        if items:
            resource["addItem"] = [
                {
                    "productOrService": it["adjudication"][0]["reason"],
                    "adjudication": it["adjudication"],
                }
                for it in items
            ]
    elif items:
        resource["item"] = items
    if out.get("setl_id"):
        resource["id"] = out["setl_id"]
        resource["identifier"] = [{"system": "urn:yibao:setl_id", "value": out["setl_id"]}]
    if request_ref:
        resource["request"] = {"identifier": {"value": request_ref}}
    return ClaimResponse.model_validate(resource).model_dump(mode="json", exclude_none=True)


PLAN = "http://terminology.hl7.org/CodeSystem/coverage-class"


def coverage_resource(e: Enrolment, psn_no: int) -> dict[str, Any]:
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


def explanation_of_benefit_resource(out: dict[str, Any], setl_id: str, code: str) -> dict[str, Any]:
    """A stored settlement (its 2207 answer ``out``, of institution ``code``) as an
    ExplanationOfBenefit."""
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
    return ExplanationOfBenefit.model_validate(resource).model_dump(mode="json", exclude_none=True)


def eligibility_response(
    ent: dict[str, Any], coverage_id: int | None, psn_no: int, on: dt.date, request_id: str
) -> dict[str, Any]:
    """1101's entitlement ``ent`` on ``on`` as a CoverageEligibilityResponse (``coverage_id``:
    the enrolment in force, if any)."""
    insurance: list[dict[str, Any]] = []
    if coverage_id is not None:
        items = []
        for cap in ent.get("caps", []):
            benefit: dict[str, Any] = {"type": {"text": "annual cap"}}
            if cap["annual_cap"] is not None:
                benefit["allowedMoney"] = money(cap["annual_cap"])
            benefit["usedMoney"] = money(cap["used"])
            label = cap["fund"] + (f" ({cap['cap_group']})" if "cap_group" in cap else "")
            items.append({"category": {"text": label}, "benefit": [benefit]})
        insurance.append(
            {
                "coverage": {"reference": f"Coverage/{coverage_id}"},
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
        "patient": {"reference": f"Patient/{psn_no}"},
        "servicedDate": on.isoformat(),
        "created": dt.date.today().isoformat(),
        "request": {"identifier": {"value": request_id}},
        "insurer": {"display": "yibao"},
        "outcome": "complete",
        "disposition": f"entitled from {since}: {rule}" if since else rule or "not entitled",
        **({"insurance": insurance} if insurance else {}),
    }
    return CoverageEligibilityResponse.model_validate(resource).model_dump(
        mode="json", exclude_none=True
    )
