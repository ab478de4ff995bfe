"""Commands of the API service (Typer): ``serve``, and ``api`` for institutions, accounts and
signing a request (``api sign``, the headers for curl), revoking keys and tokens
(``api revoke-key``, ``api revoke-token``).

Standalone: ``python -m yibao.cli.api serve``. Settings come from the environment
(``YIBAO_DATABASE_URL``, ``YIBAO_API_SECRET``, see ``yibao.api.http.settings``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from yibao.api.http.security import signed_headers
from yibao.api.http.settings import Settings
from yibao.cli.options import PolicyDirOpt, checked_policy_dir
from yibao.domain.credentials import institution_key
from yibao.domain.roles import Role

if TYPE_CHECKING:
    from yibao.store.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True, help="The institution API: keys and staff accounts")


def _settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg]  # from the environment
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        typer.echo(
            f"settings refused ({fields}): set YIBAO_API_SECRET (at least 16 characters) "
            "and YIBAO_DATABASE_URL in the environment",
            err=True,
        )
        raise typer.Exit(2) from None


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (each with its own socket on the port)")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request")] = True,
    policy_dir: PolicyDirOpt = None,
) -> None:
    """Serve the API with uvicorn (docs at /docs)."""
    from yibao.api.serving.server import serve as run
    from yibao.policy import POLICY_DIR_ENV
    from yibao.policy import policy_dir as policy_dir_in_use

    # the workers (and uvicorn's app factory) read the folder from the environment
    folder = checked_policy_dir(policy_dir or policy_dir_in_use())
    if folder is not None:
        os.environ[POLICY_DIR_ENV] = str(folder)
    _settings()  # refuse to start without the secret
    run(host, port, workers, log_level=log_level, access_log=access_log)


@app.command("add-institution")
def add_institution(
    code: str,
    name: Annotated[str, typer.Option(help="Name of the institution")],
    level: Annotated[int | None, typer.Option(help="Hospital level 1-3")] = None,
    area: Annotated[str | None, typer.Option(help="6-digit area code")] = None,
    kind: Annotated[
        str, typer.Option(help="hospital | village_clinic | pharmacy (定点医药机构类别)")
    ] = "hospital",
) -> None:
    """Register an institution (or add a key to it) and print its key id and key, once. A
    village clinic or pharmacy is registered at its kind's level (1 by default)."""
    from yibao.domain.errors import RecordError
    from yibao.services.accounts import NewInstitution, issue_institution
    from yibao.store.db import make_engine
    from yibao.store.uow import UnitOfWork

    s = _settings()
    engine = make_engine(s.database_url)
    try:
        issued = issue_institution(
            UnitOfWork.for_engine(engine),
            s.api_secret.get_secret_value(),
            NewInstitution.model_validate(
                {"code": code, "name": name, "level": level, "area": area, "kind": kind}
            ),
        )
    except (RecordError, ValidationError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"institution {issued.code}\nkey_id {issued.key_id}\nkey {issued.key}")


@app.command("add-staff")
def add_staff(
    username: str,
    role: Annotated[Role, typer.Option(help="Role of the account")],
    psn_no: Annotated[int | None, typer.Option(help="Person number (insured_person)")] = None,
) -> None:
    """Create a staff account; the password is read from YIBAO_NEW_PASSWORD or prompted."""
    from yibao.domain.errors import RecordError
    from yibao.services.accounts import NewStaff, create_staff
    from yibao.store.db import make_engine
    from yibao.store.uow import UnitOfWork

    s = _settings()
    password = os.environ.get("YIBAO_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    engine = make_engine(s.database_url)
    try:
        made = create_staff(
            UnitOfWork.for_engine(engine),
            NewStaff(username=username, role=role, password=password, psn_no=psn_no),
        )
    except (RecordError, ValidationError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"account {made.username} ({made.role}) created")


DbOpt = Annotated[str | None, typer.Option(help="Database URL (default: $YIBAO_DATABASE_URL)")]
OperatorOpt = Annotated[
    str | None,
    typer.Option(
        envvar="YIBAO_OPERATOR", help="Who runs the command, for the audit log (default: OS user)"
    ),
]


def _engine(db: str | None) -> Engine:
    from yibao.cli.common import refuse_bad_text
    from yibao.store.db import make_engine

    refuse_bad_text(as_json=False)
    try:
        return make_engine(db)
    except ArgumentError:
        typer.echo("--db: not a database URL (sqlite:///FILE or postgresql://...)", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _revoking(db: str | None, operator: str | None) -> Iterator[tuple[UnitOfWork, str]]:
    """A unit of work and the operating actor for a revocation; an unknown key or account exits
    2, a database error 3, both with one line and nothing revoked."""
    import getpass

    from yibao.domain.errors import NotFound
    from yibao.store.uow import UnitOfWork

    engine = _engine(db)
    try:
        yield UnitOfWork.for_engine(engine), f"cli:{operator or getpass.getuser()}"
    except NotFound as exc:
        typer.echo(f"{exc}: nothing revoked", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        typer.echo(f"database: {type(exc).__name__}: nothing revoked", err=True)
        raise typer.Exit(3) from None
    finally:
        engine.dispose()


@app.command("revoke-key")
def revoke_key(
    institution: Annotated[str, typer.Option(help="Institution code")],
    key_id: Annotated[str, typer.Option(help="The key id to revoke")],
    db: DbOpt = None,
    operator: OperatorOpt = None,
) -> None:
    """Revoke an institution's signing key: its signed requests are refused from now on.
    Revoking a revoked key changes nothing (and says so); an unknown key exits 2."""
    from yibao.services.access import revoke_key as revoke

    with _revoking(db, operator) as (uow, actor):
        done = revoke(uow, institution, key_id, actor, "cli")
    when = done.revoked_at.isoformat(timespec="seconds")
    state = "revoked" if done.newly else "already revoked"
    typer.echo(f"key {done.key_id} of institution {done.code} {state} ({when} UTC)")


@app.command("revoke-token")
def revoke_token(
    username: Annotated[str, typer.Option(help="The staff account whose tokens to revoke")],
    db: DbOpt = None,
    operator: OperatorOpt = None,
) -> None:
    """Revoke every live bearer token of a staff (or insured person's) account: its requests are
    refused until it logs in again. An unknown account exits 2."""
    from yibao.services.access import revoke_tokens

    with _revoking(db, operator) as (uow, actor):
        count = revoke_tokens(uow, username, actor, "cli")
    typer.echo(f"account {username}: {count} live token(s) revoked")


def newest_key_id(database_url: str | None, code: str) -> str | None:
    """The newest active key id of the active institution ``code`` (None: no such key)."""
    from yibao.services.keys import newest_key_id as newest
    from yibao.store.db import make_engine
    from yibao.store.uow import UnitOfWork

    engine = make_engine(database_url)
    try:
        return newest(UnitOfWork.for_engine(engine), code)
    finally:
        engine.dispose()


def header_lines(headers: dict[str, str]) -> str:
    """``Name: value`` lines, the format of ``curl -H @file``."""
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


@app.command("sign")
def sign(
    institution: Annotated[str, typer.Option(help="Institution code (fixmedins_code)")],
    body: Annotated[
        str, typer.Option(help="File with the exact request body, - for standard input")
    ] = "-",
    method: Annotated[str, typer.Option(help="HTTP method")] = "POST",
    path: Annotated[str, typer.Option(help="Request path (with ?query if any)")] = "/api/v1/tx",
    key_id: Annotated[
        str | None, typer.Option(help="Key id (default: the institution's newest active key)")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="YIBAO_INSTITUTION_KEY",
            help="The institution's key; without it the key is derived from the master secret",
        ),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="Database URL (default: $YIBAO_DATABASE_URL)")
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(help="Read the master secret from this file instead of $YIBAO_API_SECRET"),
    ] = None,
) -> None:
    """Print the headers of a signed request, one ``Name: value`` a line (for ``curl -H @-``):
    ``curl --data-binary @FILE -H @<(yibao api sign --institution CODE --body FILE) URL``."""
    if body == "-":
        payload = sys.stdin.buffer.read() if method.upper() not in ("GET", "HEAD") else b""
    else:
        try:
            payload = Path(body).read_bytes()
        except OSError as exc:
            typer.echo(f"--body: cannot read {body} ({exc.strerror})", err=True)
            raise typer.Exit(2) from None
    if key is not None:
        if key_id is None:
            typer.echo("--key needs --key-id", err=True)
            raise typer.Exit(2)
        chosen_key = key
    else:
        if secret_file is not None:
            try:
                secret = secret_file.read_text().strip()
            except OSError as exc:
                typer.echo(f"--secret-file: cannot read {secret_file} ({exc.strerror})", err=True)
                raise typer.Exit(2) from None
        else:
            secret = _settings().api_secret.get_secret_value()
        if key_id is None:
            url = db or os.environ.get("YIBAO_DATABASE_URL") or None
            key_id = newest_key_id(url, institution)
            if key_id is None:
                typer.echo(
                    f"institution {institution} has no active key in the database "
                    "(yibao api add-institution)",
                    err=True,
                )
                raise typer.Exit(2)
        chosen_key = institution_key(secret, institution, key_id)
    headers = signed_headers(
        institution, key_id, chosen_key, method.upper(), path, payload, int(time.time())
    )
    if payload:
        headers = {"Content-Type": "application/json", **headers}
    typer.echo(header_lines(headers), nl=False)


app.command("serve")(serve)

if __name__ == "__main__":
    app()
