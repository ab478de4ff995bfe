"""Fixtures for the API tests: the application over the store test databases (SQLite and
PostgreSQL, see ``store_support``), signed institution requests and staff tokens.

Test modules import: ``from tests.api_support import *``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.store_support import *  # noqa: F403
from tests.store_support import __all__ as _store_all
from yibao.api.http.app import create_app
from yibao.api.http.security import signed_headers
from yibao.api.http.settings import Settings
from yibao.domain.roles import Role
from yibao.services.accounts import NewInstitution, NewStaff, create_staff, issue_institution
from yibao.store.uow import UnitOfWork

SECRET = "test-master-secret-not-for-production"
TX = "/api/v1/tx"


@dataclass(frozen=True)
class Inst:
    code: str
    key_id: str
    key: str


@dataclass
class Api:
    client: TestClient
    engine: Engine
    settings: Settings

    def institution(self, code: str = "H36010001", level: int = 2) -> Inst:
        issued = issue_institution(
            UnitOfWork.for_engine(self.engine),
            SECRET,
            NewInstitution(code=code, name=f"hospital {code}", level=level, area="360100"),
        )
        return Inst(issued.code, issued.key_id, issued.key)

    def signed(
        self,
        inst: Inst,
        path: str,
        body: bytes = b"",
        method: str = "POST",
        timestamp: int | None = None,
    ) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = signed_headers(inst.code, inst.key_id, inst.key, method, path, body, ts)
        return {"content-type": "application/json", **headers}

    def envelope(
        self, inst_code: str, infno: str, data: dict[str, Any], msgid: str | None = None
    ) -> bytes:
        return orjson.dumps(
            {
                "infno": infno,
                "msgid": msgid or uuid.uuid4().hex,
                "fixmedins_code": inst_code,
                "opter": "clerk-1",
                "inf_time": "2025-05-01 10:00:00",
                "input": data,
            }
        )

    def tx(
        self, inst: Inst, infno: str, data: dict[str, Any], msgid: str | None = None
    ) -> dict[str, Any]:
        body = self.envelope(inst.code, infno, data, msgid)
        r = self.client.post(
            TX,
            content=body,
            headers={"content-type": "application/json", **self.signed(inst, TX, body)},
        )
        out: dict[str, Any] = r.json()
        out["_status"] = r.status_code
        return out

    def get(self, inst: Inst, path: str) -> Any:
        return self.client.get(path, headers=self.signed(inst, path, b"", "GET"))

    def staff(self, role: Role, username: str | None = None, psn_no: int | None = None) -> str:
        """A bearer token for a new account with ``role``."""
        name = username or f"{role.value}-{uuid.uuid4().hex[:6]}"
        create_staff(
            UnitOfWork.for_engine(self.engine),
            NewStaff(username=name, role=role, password="pw-0123456789", psn_no=psn_no),
        )
        r = self.client.post(
            "/api/v1/auth/token", json={"username": name, "password": "pw-0123456789"}
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    def staff_get(self, token: str, path: str) -> Any:
        return self.client.get(path, headers={"authorization": f"Bearer {token}"})

    def staff_tx(
        self, token: str, infno: str, data: dict[str, Any], code: str = "H36010001"
    ) -> dict[str, Any]:
        r = self.client.post(
            TX,
            content=self.envelope(code, infno, data),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        out: dict[str, Any] = r.json()
        out["_status"] = r.status_code
        return out


def route_only(api: Api) -> Api:
    """The same database through an application without the settlement fast path: no batcher
    (``batch_max=1``), so every 2207 goes through the ``POST /api/v1/tx`` route."""
    settings = Settings(api_secret=SECRET, database_url=api.settings.database_url, batch_max=1)  # type: ignore[arg-type]
    app = create_app(settings, engine=api.engine)
    return Api(TestClient(app, raise_server_exceptions=False), api.engine, settings)


def fast_path_settled(api: Api) -> int:
    """How many 2207s the application's settlement fast path (its batcher) has taken."""
    batcher = api.client.app.state.yibao.batcher  # type: ignore[attr-defined]
    return 0 if batcher is None else int(batcher.submitted)


#: The two ways a 2207 reaches the settlement service (``api.serving.fastpath`` and the route).
PATHS = ("fast path", "route")


def make_api(db_url: str, engine: Engine) -> Api:
    """The application as served (settlement fast path included) over the test database."""
    settings = Settings(api_secret=SECRET, database_url=db_url)  # type: ignore[arg-type]
    app = create_app(settings, engine=engine)
    return Api(TestClient(app, raise_server_exceptions=False), engine, settings)


@pytest.fixture
def api(db_url: str, engine: Engine) -> Api:
    return make_api(db_url, engine)


@pytest.fixture(params=PATHS)
def api_paths(request: pytest.FixtureRequest, db_url: str, engine: Engine) -> Api:
    """The application through each path a 2207 can take: the settlement fast path, then the
    route alone. A module that overrides ``api`` with it runs every test through both."""
    served = make_api(db_url, engine)
    return served if request.param == "fast path" else route_only(served)


__all__ = [
    *_store_all,
    "PATHS",
    "SECRET",
    "TX",
    "Api",
    "Inst",
    "api",
    "api_paths",
    "fast_path_settled",
    "make_api",
    "route_only",
]
