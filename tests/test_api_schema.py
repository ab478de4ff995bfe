"""Schemathesis over the OpenAPI schema, on SQLite and on PostgreSQL (a few examples per
operation): whatever is sent, no answer is a 500, every answer conforms to the schema its
operation declares (status, content type and body, schemathesis' own checks), and every error
is the answer envelope (or an OperationOutcome under ``/fhir``)."""

from __future__ import annotations

import json
import time
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from tests.api_support import SECRET
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine)
from yibao.api.http.app import create_app
from yibao.api.http.settings import Settings
from yibao.domain.roles import Role
from yibao.services.accounts import NewStaff, create_staff
from yibao.store.uow import UnitOfWork

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _app(db_url: str, engine: Engine) -> tuple[Any, str]:
    app = create_app(Settings(api_secret=SECRET, database_url=db_url), engine=engine)  # type: ignore[arg-type]
    create_staff(
        UnitOfWork.for_engine(engine),
        NewStaff(username="fuzz-admin", role=Role.ADMINISTRATOR, password="pw-0123456789"),
    )
    r = TestClient(app).post(
        "/api/v1/auth/token", json={"username": "fuzz-admin", "password": "pw-0123456789"}
    )
    assert r.status_code == 200, r.text
    return app, str(r.json()["access_token"])


def test_no_request_gets_a_500_and_answers_match_the_schema(db_url: str, engine: Engine) -> None:
    app, token = _app(db_url, engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: set[int] = set()

    def check(case: Any) -> None:
        for auth in ({"authorization": f"Bearer {token}"}, {}):
            response = case.call(headers=auth)
            seen.add(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=auth)
            if response.status_code >= 400:
                body = response.json()
                if body.get("resourceType") != "OperationOutcome":
                    assert set(body) == {"infcode", "inf_refmsgid", "err_msg", "output"}

    for operation in operations:
        run = settings(
            max_examples=6,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )(given(case=operation.as_strategy())(check))
        run()
    assert {200, 400, 401} <= seen  # the fuzzing reached past authentication and validation


def test_nul_in_text_is_refused(db_url: str, engine: Engine) -> None:
    """Found by this fuzzing on PostgreSQL: a NUL character in a text field reaches the database,
    which refuses it (psycopg DataError). Every backend now refuses it at the edge with a 400
    that says so."""
    app, token = _app(db_url, engine)
    r = TestClient(app, raise_server_exceptions=False).post(
        "/api/v1/admin/institutions",
        json={"code": "H1", "name": "bad\u0000name", "level": 1, "area": "360100"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["infcode"] == 1001 and "NUL" in r.json()["err_msg"]


def test_fhir_bodies_are_fuzzed_as_an_institution(db_url: str, engine: Engine) -> None:
    """The FHIR operations that take a body, fuzzed from their declared shapes, both well
    formed (positive) and not (negative: wrong types, missing elements), sent signed by an
    institution so that they reach the settlement handlers: never a 500, every refusal an
    OperationOutcome with a 4xx."""
    from yibao.api.http.security import signed_headers
    from yibao.services.accounts import NewInstitution, issue_institution

    app, _ = _app(db_url, engine)
    inst = issue_institution(
        UnitOfWork.for_engine(engine),
        SECRET,
        NewInstitution(code="H1", name="h", level=2, area="360100"),
    )
    client = TestClient(app, raise_server_exceptions=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path.startswith("/fhir") and op.method.upper() == "POST"
    ]
    assert {op.path for op in operations} == {
        "/fhir/Claim/$submit",
        "/fhir/CoverageEligibilityRequest/$submit",
    }
    seen: set[int] = set()

    def check(case: Any) -> None:
        raw = case.body
        body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()  # any integer
        now = int(time.time())
        headers = signed_headers(inst.code, inst.key_id, inst.key, "POST", case.path, body, now)
        r = client.post(
            case.path, content=body, headers={"content-type": "application/json", **headers}
        )
        seen.add(r.status_code)
        assert r.status_code < 500, (case.body, r.text)
        if r.status_code >= 400:
            assert r.json()["resourceType"] == "OperationOutcome", r.text

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = settings(
                max_examples=25,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                database=None,
            )(given(case=operation.as_strategy(mode))(check))
            run()
    assert {400, 422} <= seen  # past the shapes, into the handlers
