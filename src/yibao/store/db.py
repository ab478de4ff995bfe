"""Engines and sessions from a URL.

The URL comes from the caller, else ``YIBAO_DATABASE_URL``, else an embedded SQLite file
``./yibao.sqlite``. ``postgresql://`` URLs are run through psycopg 3 (``postgresql+psycopg://``).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_VAR = "YIBAO_DATABASE_URL"
DEFAULT_PATH = "yibao.sqlite"


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, the environment, or the default SQLite file."""
    chosen = url or os.environ.get(ENV_VAR) or f"sqlite:///{DEFAULT_PATH}"
    parsed = make_url(chosen)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, emit BEGIN (savepoints and transactional DDL
    # work that way), and turn on what SQLite leaves off by default.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA busy_timeout = 10000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    full = database_url(url)
    # JSON columns (settlement answers, states) through orjson: several times json's speed
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    engine = create_engine(full, **kwargs)
    if is_sqlite(engine):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """The engine's session factory, made once per engine and kept on it: a ``sessionmaker``
    makes a new ``Session`` subclass, whose events SQLAlchemy sets up at its first transaction
    (~80 µs of CPU for every unit of work that made its own)."""
    found: sessionmaker[Session] | None = engine.__dict__.get(_SESSIONS)
    if found is None:
        found = engine.__dict__[_SESSIONS] = sessionmaker(bind=engine, expire_on_commit=False)
    return found


_SESSIONS = "_yibao_session_factory"


def utcnow() -> dt.datetime:
    """Naive UTC (the tables store naive UTC timestamps)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
