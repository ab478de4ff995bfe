"""Schemathesis over the OpenAPI schema (SQLite only, a few examples per operation): whatever
is sent, no answer is a 500, and every error is the answer envelope."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from tests.api_support import SECRET
from tests.store_support import backend_url
from yibao.api.app import create_app
from yibao.api.roles import Role
from yibao.api.routes import NewStaff, create_staff
from yibao.api.settings import Settings
from yibao.store.db import make_engine

_state: dict[str, Any] = {}


def _app() -> Any:
    if "app" not in _state:
        url = backend_url("sqlite")
        engine = make_engine(url)
        app = create_app(Settings(api_secret=SECRET, database_url=url), engine=engine)  # type: ignore[arg-type]
        create_staff(
            engine,
            NewStaff(username="fuzz-admin", role=Role.ADMINISTRATOR, password="pw-0123456789"),
            None,
        )
        r = TestClient(app).post(
            "/api/v1/auth/token", json={"username": "fuzz-admin", "password": "pw-0123456789"}
        )
        _state["app"], _state["token"] = app, r.json()["access_token"]
    return _state["app"]


def _check(case: Any) -> None:
    for auth in ({"authorization": f"Bearer {_state['token']}"}, {}):
        response = case.call(headers=auth)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            body = response.json()
            if body.get("resourceType") != "OperationOutcome":
                assert set(body) == {"infcode", "inf_refmsgid", "err_msg", "output"}


def test_no_request_gets_a_500() -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        run = settings(
            max_examples=6,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )(given(case=operation.as_strategy())(_check))
        run()
