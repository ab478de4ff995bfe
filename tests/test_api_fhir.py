"""The FHIR R4 edge: Patient (masked), Claim/$submit as predetermination and as claim, the
ExplanationOfBenefit of the stored settlement; errors as OperationOutcome. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, Inst
from tests.store_support import nid
from tests.test_api_settlement import employee
from yibao.api.roles import Role
from yibao.domain.masking import mask_national_id
from yibao.store.models import SettlementRow
from yibao.store.uow import UnitOfWork


def _post(api: Api, inst: Inst, path: str, doc: dict[str, Any]) -> Any:
    body = orjson.dumps(doc)
    return api.client.post(path, content=body, headers=api.signed(inst, path, body))


def _claim(psn_no: str, use: str, ident: str) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "identifier": [{"value": ident}],
        "use": use,
        "patient": {"reference": f"Patient/{psn_no}"},
        "type": {"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        "billablePeriod": {"start": "2025-05-01"},
        "total": {"value": 20000, "currency": "CNY"},
    }


def test_patient_claim_and_eob(api: Api, uow: UnitOfWork, engine: Engine) -> None:
    who = employee(uow)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    inst = api.institution()
    p = api.get(inst, f"/fhir/Patient/{psn_no}")
    assert p.status_code == 200, p.text
    assert p.json()["identifier"][0]["value"] == mask_national_id(who)
    clerk = api.staff(Role.ENROLMENT_CLERK)
    assert api.staff_get(clerk, f"/fhir/Patient/{psn_no}").json()["identifier"][0]["value"] == who

    preview = _post(api, inst, "/fhir/Claim/$submit", _claim(psn_no, "predetermination", "c-1"))
    assert preview.status_code == 200, preview.text
    cr = preview.json()
    assert cr["resourceType"] == "ClaimResponse" and cr["use"] == "predetermination"
    codes = {a["category"]["coding"][0]["code"] for a in cr["adjudication"]}
    assert codes == {"submitted", "eligible", "deductible", "benefit", "copay"}
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 0

    settled = _post(api, inst, "/fhir/Claim/$submit", _claim(psn_no, "claim", "c-2"))
    assert settled.status_code == 200, settled.text
    setl_id = settled.json()["id"]
    again = _post(api, inst, "/fhir/Claim/$submit", _claim(psn_no, "claim", "c-2"))
    assert again.json()["id"] == setl_id
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 1

    eob = api.get(inst, f"/fhir/ExplanationOfBenefit/{setl_id}")
    assert eob.status_code == 200, eob.text
    assert eob.json()["resourceType"] == "ExplanationOfBenefit"
    benefit = [
        a for a in eob.json()["adjudication"] if a["category"]["coding"][0]["code"] == "benefit"
    ]
    assert benefit[0]["amount"]["value"] == cr["adjudication"][3]["amount"]["value"]

    other = api.institution("H36010002")
    refused = api.get(other, f"/fhir/ExplanationOfBenefit/{setl_id}")
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    missing = api.get(inst, "/fhir/Patient/999999")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"
    bad = _post(api, inst, "/fhir/Claim/$submit", {"resourceType": "Claim"})
    assert bad.status_code in (400, 422) and bad.json()["resourceType"] == "OperationOutcome"
    assert nid(1) not in bad.text


def test_coverage_and_eligibility(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    with uow:
        psn_no = uow.persons.require(who).id
    inst = api.institution()
    bundle = api.get(inst, f"/fhir/Coverage?patient={psn_no}")
    assert bundle.status_code == 200, bundle.text
    cov = bundle.json()["entry"][0]["resource"]
    assert cov["resourceType"] == "Coverage" and cov["status"] == "active"
    assert {c["value"] for c in cov["class"]} == {"employee", "360100"}

    def ask(on: str) -> dict[str, Any]:
        doc = {
            "resourceType": "CoverageEligibilityRequest",
            "patient": {"reference": f"Patient/{psn_no}"},
            "servicedDate": on,
            "purpose": ["benefits"],
        }
        r = _post(api, inst, "/fhir/CoverageEligibilityRequest/$submit", doc)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    inforce = ask("2025-05-01")
    assert inforce["resourceType"] == "CoverageEligibilityResponse"
    ins = inforce["insurance"][0]
    assert ins["inforce"] is True
    assert any("allowedMoney" in b for i in ins["item"] for b in i["benefit"])
    # paid from 2024-01-20: still waiting in the first days
    waiting = ask("2024-01-10")
    assert waiting["insurance"][0]["inforce"] is False
