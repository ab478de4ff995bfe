"""``yibao db``: the database schema (Alembic migrations, the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from yibao.cli.common import DbOpt, JsonOpt, emit, fail, safe_url
from yibao.store.migrate import upgrade as run_upgrade

app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations)")


@app.command("upgrade")
def db_upgrade(
    db: DbOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    as_json: JsonOpt = False,
) -> None:
    """Create or migrate the schema (same migrations on SQLite and PostgreSQL)."""
    try:
        now = run_upgrade(db, revision)
    except OperationalError as exc:
        fail(f"database {safe_url(db)}: {exc.orig}", as_json, 3)
    emit(
        {"database": safe_url(db), "revision": now},
        as_json,
        f"{safe_url(db)} is at revision {now}",
    )
