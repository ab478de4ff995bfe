"""Alembic environment: used by ``yibao.store.migrate`` (a connection is handed in) or by the
``alembic`` command with ``-x url=...`` / ``YIBAO_DATABASE_URL``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from yibao.store.db import make_engine
from yibao.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) mode is not supported; give a database URL")
run_migrations_online()
