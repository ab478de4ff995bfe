"""Fixtures for the store tests: every test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL: one fresh database ``yibao_test_<random>`` per test session, created through the
``test`` database on 127.0.0.1:5432 and dropped at exit. If the server is down the tests fail;
they are never skipped. Between tests every table is emptied (migrations run once per backend).

Test modules import the fixtures: ``from tests.store_support import *``.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from yibao.domain.identity import make_national_id
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.models import Base
from yibao.store.uow import UnitOfWork

ADMIN_URL = os.environ.get("YIBAO_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")

_engines: dict[str, Engine] = {}
_urls: dict[str, str] = {}


def _drop_pg(name: str) -> None:
    for engine in _engines.values():
        engine.dispose()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create(backend: str) -> str:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="yibao_test_"))
        atexit.register(shutil.rmtree, folder, True)
        return f"sqlite:///{folder / 'yibao.sqlite'}"
    name = f"yibao_test_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop_pg, name)
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def backend_url(backend: str) -> str:
    """The migrated database of a backend (created once per test session)."""
    if backend not in _urls:
        url = _create(backend)
        upgrade(url)
        _urls[backend] = url
        _engines[backend] = make_engine(url)
    return _urls[backend]


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url = backend_url(request.param)
    _empty(_engines[request.param])
    yield url


@pytest.fixture
def engine(db_url: str) -> Engine:
    return _engines["sqlite" if db_url.startswith("sqlite") else "postgresql"]


@pytest.fixture
def pg_engine() -> Engine:
    """PostgreSQL only (for what only PostgreSQL has, e.g. the deferred balance trigger)."""
    backend_url("postgresql")
    _empty(_engines["postgresql"])
    return _engines["postgresql"]


@pytest.fixture
def uow(engine: Engine) -> UnitOfWork:
    return UnitOfWork.for_engine(engine)


def nid(n: int, birth: dt.date = dt.date(1985, 6, 15), area: str = "360426") -> str:
    """The n-th checksum-valid national ID (odd n = male)."""
    return make_national_id(area, birth, n % 1000)


__all__ = ["backend_url", "db_url", "engine", "nid", "pg_engine", "uow"]
