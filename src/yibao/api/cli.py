"""Commands of the API service (Typer): ``serve``, and ``api`` for institutions and accounts.

Mount on the main command line with ``yibao.api.cli.register(app)``; standalone:
``python -m yibao.api.cli serve``. Settings come from the environment (``YIBAO_DATABASE_URL``,
``YIBAO_API_SECRET``, see ``yibao.api.settings``).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from pydantic import ValidationError

from yibao.api.errors import ApiError
from yibao.api.roles import Role
from yibao.api.settings import Settings

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
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API with uvicorn (docs at /docs)."""
    import uvicorn

    _settings()  # refuse to start without the secret
    uvicorn.run(
        "yibao.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        server_header=False,
    )


@app.command("add-institution")
def add_institution(
    code: str,
    name: Annotated[str, typer.Option(help="Name of the institution")],
    level: Annotated[int | None, typer.Option(help="Hospital level 1-3")] = None,
    area: Annotated[str | None, typer.Option(help="6-digit area code")] = None,
) -> None:
    """Register an institution (or add a key to it) and print its key id and key, once."""
    from yibao.api.routes import NewInstitution, issue_institution
    from yibao.store.db import make_engine

    s = _settings()
    engine = make_engine(s.database_url)
    try:
        issued = issue_institution(
            engine,
            s.api_secret.get_secret_value(),
            NewInstitution(code=code, name=name, level=level, area=area),
            None,
        )
    except (ApiError, ValidationError) as exc:
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
    from yibao.api.routes import NewStaff, create_staff
    from yibao.store.db import make_engine

    s = _settings()
    password = os.environ.get("YIBAO_NEW_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    engine = make_engine(s.database_url)
    try:
        made = create_staff(
            engine, NewStaff(username=username, role=role, password=password, psn_no=psn_no), None
        )
    except (ApiError, ValidationError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"account {made['username']} ({made['role']}) created")


def register(main: typer.Typer) -> None:
    """Add ``serve`` and the ``api`` group to the main command line."""
    main.command("serve")(serve)
    main.add_typer(app, name="api")


app.command("serve")(serve)

if __name__ == "__main__":
    app()
