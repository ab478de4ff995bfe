"""The FHIR edge driven by an independent client library (``fhirpy``) over real HTTP: uvicorn
serves the application on a loopback port, on SQLite and on PostgreSQL.

Staff calls carry a bearer token through fhirpy's ``authorization`` option. Claims are
institution transactions (only an institution may settle), so the institution's client signs
each request with a ``requests`` auth hook written here from the documented scheme (docs/api.md),
not with the server's own helpers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome, ResourceNotFound
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, Inst
from tests.server_support import serve
from tests.test_api_settlement import employee
from yibao.domain.roles import Role
from yibao.store.models import SettlementRow
from yibao.store.uow import UnitOfWork

ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"


class InstitutionSignature(requests.auth.AuthBase):
    """Signs a request as docs/api.md says: HMAC-SHA256 over
    ``timestamp\\nnonce\\nMETHOD\\npath[?query]\\nsha256(body)``."""

    def __init__(self, inst: Inst) -> None:
        self.inst = inst

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(r.url or "")
        path = unquote(parts.path) + (f"?{parts.query}" if parts.query else "")
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        digest = hashlib.sha256(body).hexdigest()
        text = f"{ts}\n{nonce}\n{(r.method or 'GET').upper()}\n{path}\n{digest}"
        signature = hmac.new(self.inst.key.encode(), text.encode(), hashlib.sha256).hexdigest()
        r.headers.update(
            {
                "X-Yibao-Institution": self.inst.code,
                "X-Yibao-Key-Id": self.inst.key_id,
                "X-Yibao-Timestamp": ts,
                "X-Yibao-Nonce": nonce,
                "X-Yibao-Signature": signature,
            }
        )
        return r


@pytest.fixture
def base_url(api: Api) -> Iterator[str]:
    with serve(api.client.app) as url:
        yield url


def staff_client(api: Api, base_url: str, role: Role) -> SyncFHIRClient:
    return SyncFHIRClient(f"{base_url}/fhir", authorization=f"Bearer {api.staff(role)}")


def hospital_and_patient(
    api: Api, uow: UnitOfWork, base_url: str
) -> tuple[str, Inst, SyncFHIRClient, Any]:
    """An insured employee's psn_no, a hospital with its fhirpy client, and the Patient resource
    as the hospital reads it."""
    who = employee(uow)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    inst = api.institution()
    hospital = institution_client(base_url, inst)
    return psn_no, inst, hospital, hospital.reference("Patient", psn_no).to_resource()


def institution_client(base_url: str, inst: Inst) -> SyncFHIRClient:
    return SyncFHIRClient(
        f"{base_url}/fhir", requests_config={"auth": InstitutionSignature(inst), "timeout": 30}
    )


def money(value: Any) -> Decimal:
    """A FHIR Money value as exact yuan (the wire carries JSON numbers)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def amounts(adjudication: list[Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for a in adjudication:
        coding = a["category"]["coding"][0]
        assert coding["system"] == ADJUDICATION
        assert a["amount"]["currency"] == "CNY"
        out[coding["code"]] = money(a["amount"]["value"])
    return out


def claim(client: SyncFHIRClient, patient: Any, use: str, ident: str) -> Any:
    return client.resource(
        "Claim",
        identifier=[{"value": ident}],
        status="active",
        use=use,
        patient=patient.to_reference(),
        type={"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        billablePeriod={"start": "2025-05-01"},
        total={"value": 20000, "currency": "CNY"},
    )


def settlements(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(SettlementRow)) or 0)


def test_patient_coverage_and_eligibility(api: Api, uow: UnitOfWork, base_url: str) -> None:
    who = employee(uow)
    with uow:
        psn_no = str(uow.persons.require(who).id)
    clerk = staff_client(api, base_url, Role.ENROLMENT_CLERK)

    patient = clerk.reference("Patient", psn_no).to_resource()
    assert patient.resourceType == "Patient" and patient.id == psn_no
    assert patient["identifier"][0]["value"] == who  # a clerk sees the full number
    assert patient["birthDate"] == "1985-06-15" and patient["gender"] == "male"
    inst = api.institution()
    masked = institution_client(base_url, inst).reference("Patient", psn_no).to_resource()
    assert masked["identifier"][0]["value"] == who[:6] + "********" + who[-4:]
    assert "birthDate" not in masked

    # search by number and by reference (what fhirpy sends for a resource)
    by_number = clerk.resources("Coverage").search(patient=psn_no).fetch()
    by_reference = clerk.resources("Coverage").search(patient=patient).fetch()
    assert [c.id for c in by_number] == [c.id for c in by_reference] and len(by_number) == 1
    assert clerk.resources("Coverage").search(patient=psn_no).count() == 1
    coverage = by_number[0]
    assert coverage.resourceType == "Coverage" and coverage["status"] == "active"
    assert coverage["beneficiary"]["reference"] == f"Patient/{psn_no}"
    assert {c["value"] for c in coverage["class"]} == {"employee", "360100"}
    assert coverage["period"]["start"] == "2024-01-01"
    read = clerk.reference("Coverage", coverage.id).to_resource()
    assert read.serialize() == coverage.serialize()

    request = clerk.resource(
        "CoverageEligibilityRequest",
        status="active",
        purpose=["benefits"],
        patient=patient.to_reference(),
        servicedDate="2025-05-01",
        created="2025-05-01",
        insurer={"display": "yibao"},
    )
    answer = clerk.resources("CoverageEligibilityRequest").execute(
        "$submit", data=request.serialize()
    )
    assert answer["resourceType"] == "CoverageEligibilityResponse"
    assert answer["patient"]["reference"] == f"Patient/{psn_no}"
    insurance = answer["insurance"][0]
    assert insurance["inforce"] is True
    assert clerk.reference(reference=insurance["coverage"]["reference"]).to_resource().id == (
        coverage.id
    )
    caps = [b for i in insurance["item"] for b in i["benefit"] if "allowedMoney" in b]
    assert caps and all(money(b["usedMoney"]["value"]) == 0 for b in caps)
    early = request.serialize() | {"servicedDate": "2024-01-10"}  # still waiting then
    waiting = clerk.resources("CoverageEligibilityRequest").execute("$submit", data=early)
    assert waiting["insurance"][0]["inforce"] is False

    with pytest.raises(ResourceNotFound):
        clerk.reference("Patient", "999999").to_resource()
    with pytest.raises(ResourceNotFound):
        clerk.reference("Coverage", "999999").to_resource()
    # a fund manager may not read person files: refused, as an OperationOutcome
    manager = staff_client(api, base_url, Role.FUND_MANAGER)
    with pytest.raises(ForbiddenError) as refused:
        manager.reference("Patient", psn_no).to_resource()
    assert "OperationOutcome" in str(refused.value) and who not in str(refused.value)


def test_claim_submit_and_explanation_of_benefit(
    api: Api, uow: UnitOfWork, engine: Engine, base_url: str
) -> None:
    psn_no, inst, hospital, patient = hospital_and_patient(api, uow, base_url)
    claims = hospital.resources("Claim")

    preview = claims.execute("$submit", data=claim(hospital, patient, "predetermination", "p-1"))
    assert preview["resourceType"] == "ClaimResponse"
    assert preview["use"] == "predetermination" and "id" not in preview
    assert settlements(engine) == 0  # a preview stores nothing
    previewed = amounts(preview["adjudication"])
    assert set(previewed) == {"submitted", "eligible", "deductible", "benefit", "copay"}
    # an employee at level 2: (20000 - 500 deductible) x 85% = 16575.00; the person 3425.00
    assert previewed == {
        "submitted": money(20000),
        "eligible": money(20000),
        "deductible": money(500),
        "benefit": money(16575),
        "copay": money(3425),
    }

    settled = claims.execute("$submit", data=claim(hospital, patient, "claim", "c-1"))
    assert settled["resourceType"] == "ClaimResponse" and settled["use"] == "claim"
    assert settled["request"]["identifier"]["value"] == "c-1"
    setl_id = settled["id"]
    assert settlements(engine) == 1
    again = claims.execute("$submit", data=claim(hospital, patient, "claim", "c-1"))
    assert again["id"] == setl_id and settlements(engine) == 1  # same identifier: settled once
    response = amounts(settled["adjudication"])
    assert response == previewed  # the preview announced what the claim settled

    auditor = staff_client(api, base_url, Role.SETTLEMENT_AUDITOR)
    for reader in (hospital, auditor):
        eob = reader.reference("ExplanationOfBenefit", setl_id).to_resource()
        assert eob.resourceType == "ExplanationOfBenefit" and eob.id == setl_id
        assert eob["status"] == "active" and eob["outcome"] == "complete"
        assert eob["patient"]["reference"] == f"Patient/{psn_no}"
        assert eob["provider"]["identifier"]["value"] == inst.code
        adjudicated = amounts(eob["adjudication"])
        totals = amounts(eob["total"])
        assert adjudicated == response and totals["benefit"] == response["benefit"]
        # what the EOB presents adds up: total = benefits + the patient's part
        assert totals["submitted"] == adjudicated["benefit"] + adjudicated["copay"]
        assert (adjudicated["benefit"], adjudicated["copay"]) == (money(16575), money(3425))
        assert money(eob["payment"]["amount"]["value"]) == adjudicated["benefit"]
        by_fund = sum(
            (amounts([a])["benefit"] for it in eob["item"] for a in it["adjudication"][1:]),
            Decimal(0),
        )
        assert by_fund == adjudicated["benefit"]  # the funds' lines add up to the benefit
    stored = api.get(inst, f"/api/v1/settlements/{setl_id}").json()
    assert money(stored["fund_pay_sumamt"]) == response["benefit"]
    assert money(stored["psn_part_amt"]) == response["copay"]

    other = institution_client(base_url, api.institution("H36010002"))
    with pytest.raises(ForbiddenError):
        other.reference("ExplanationOfBenefit", setl_id).to_resource()
    with pytest.raises(OperationOutcome) as bad:
        claims.execute("$submit", data={"resourceType": "Claim", "use": "claim"})
    assert "Claim.patient.reference" in str(bad.value)
    # an enrolment clerk may not settle: the role is checked behind the FHIR edge too
    clerk = staff_client(api, base_url, Role.ENROLMENT_CLERK)
    with pytest.raises(ForbiddenError):
        clerk.resources("Claim").execute("$submit", data=claim(clerk, patient, "claim", "c-clerk"))
    assert settlements(engine) == 1


def test_fhir_content_type_and_parameters(api: Api, uow: UnitOfWork, base_url: str) -> None:
    """Answers are ``application/fhir+json``; ``$submit`` also takes the operation's
    ``Parameters`` form (``resource`` = the Claim)."""
    psn_no, inst, hospital, patient = hospital_and_patient(api, uow, base_url)
    r = requests.get(
        f"{base_url}/fhir/Patient/{psn_no}",
        headers={"accept": "application/fhir+json"},
        auth=InstitutionSignature(inst),
        timeout=30,
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/fhir+json")
    wrapped = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": claim(hospital, patient, "predetermination", "w-1")}
        ],
    }
    preview = hospital.resources("Claim").execute("$submit", data=wrapped)
    assert preview["resourceType"] == "ClaimResponse" and preview["use"] == "predetermination"
    assert money(preview["adjudication"][0]["amount"]["value"]) == money(20000)
