"""What every command of the system of record shares: the options ``--db``, ``--json``,
``--show-identity``, ``--operator``; printing (masked unless ``--show-identity``, audited when a
person's file is read); refusing (one line, exit 2; 3 for the database); parsing dates and
yuan amounts.

Every command takes ``--db URL`` (default: ``YIBAO_DATABASE_URL``, else ``./yibao.sqlite``)
and ``--json``. Refused input exits with status 2 and one line naming the field and the reason;
``ledger check`` exits 1 when the ledger does not reconcile. Amounts are yuan ("6205.50").

National ID numbers, names and phone numbers are printed masked (``360426********0071``,
``张*``, ``138****5678``), in text, JSON and error messages alike; a bureau clerk who needs them
in full passes ``--show-identity``. Input is never masked: commands take the full number.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from typer._click.globals import get_current_context as current_context  # typer vendors click

from yibao.domain.errors import RecordError
from yibao.domain.funds import FIRST_YEAR, LAST_YEAR
from yibao.domain.masking import mask_ids_in, mask_personal
from yibao.domain.text import bad_in_text
from yibao.policy import ParameterError
from yibao.policy.money import AmountError, parse_yuan
from yibao.services import clock
from yibao.store.db import database_url, make_engine
from yibao.store.uow import UnitOfWork

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $YIBAO_DATABASE_URL or ./yibao.sqlite)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
ShowOpt = Annotated[
    bool,
    typer.Option(
        "--show-identity",
        help="Print national ID numbers, names, phones and birth dates in full (masked by "
        "default; the read is audited)",
    ),
]
OperatorOpt = Annotated[
    str | None,
    typer.Option(
        "--operator",
        envvar="YIBAO_OPERATOR",
        help="Who runs the command, for the audit log (default: the OS user)",
    ),
]

err = Console(stderr=True)
out = Console(highlight=False)


def fail(message: str, as_json: bool, code: int = 2, show: bool = False) -> NoReturn:
    """Print one error line (JSON with ``--json``; national IDs masked unless ``show``) and
    exit with ``code``."""
    if not show:
        message = mask_ids_in(message)
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False), file=sys.stderr)
    else:
        err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def emit(
    data: Any,
    as_json: bool,
    human: str | Callable[[], None],
    show: bool = False,
    read: bool = False,
) -> None:
    """Print ``data`` (``--json``) or the human form. Unless ``show``, JSON goes through
    ``mask_personal`` and a text line has its national IDs masked; a callable ``human`` must
    print from data it masked itself (see ``shown``). With ``show`` (identity in full) or
    ``read`` (a person's file), the audit log records it first (``audit_read``)."""
    if show or read:
        audit_read(data, show)
    if as_json:
        print(json.dumps(shown(data, show), ensure_ascii=False, indent=2, default=str))
    elif callable(human):
        human()
    else:
        out.print(human if show else mask_ids_in(human))


def audit_read(data: Any, show: bool) -> None:
    """Record in the audit log (the API's) who ran this command (``--operator``, else the OS
    user), about which person, and whether the identity was printed in full. Nothing is
    printed if it cannot be recorded."""
    from yibao.services import access

    ctx = current_context()
    operator = ctx.params.get("operator") or getpass.getuser()
    person_id = None
    if isinstance(data, dict):
        found = data.get("person_id", data.get("id") if "national_id" in data else None)
        person_id = found if isinstance(found, int) else None
    command = " ".join(ctx.command_path.split()[1:])  # without the program's name
    db = ctx.params.get("db")
    engine = make_engine(db)
    try:
        access.record_cli_read(UnitOfWork.for_engine(engine), operator, command, person_id, show)
    except SQLAlchemyError as exc:
        message = f"audit log of {safe_url(db)}: cannot record this read ({type(exc).__name__})"
        fail(message, bool(ctx.params.get("as_json")), 3)
    finally:
        engine.dispose()


def shown(data: Any, show: bool) -> Any:
    """``data`` as printed: in full with ``--show-identity``, else masked."""
    return data if show else mask_personal(data)


def refuse_bad_text(as_json: bool) -> None:
    ctx = current_context(silent=True)
    for name, value in ctx.params.items() if ctx is not None else ():
        for text in value if isinstance(value, list | tuple) else (value,):
            if isinstance(text, str) and (problem := bad_in_text(text)) is not None:
                fail(f"{name}: contains {problem}", as_json)


@contextmanager
def database(db: str | None, as_json: bool, show: bool = False) -> Iterator[Engine]:
    """An engine on ``--db``; a refused record or parameter exits 2, a database error 3. Text
    that no record may hold (a lone surrogate from undecodable bytes, a control character) in
    any argument or option is refused first, naming it."""
    refuse_bad_text(as_json)
    engine = make_engine(db)
    try:
        yield engine
    except (RecordError, ParameterError) as exc:
        fail(exc.public() if isinstance(exc, ParameterError) else str(exc), as_json, show=show)
    except OperationalError as exc:
        fail(f"database {safe_url(db)}: {exc.orig}", as_json, 3)
    finally:
        engine.dispose()


@contextmanager
def unit_of_work(db: str | None, as_json: bool, show: bool = False) -> Iterator[UnitOfWork]:
    """A unit of work on ``--db``, refusals handled as ``database`` does."""
    with database(db, as_json, show) as engine:
        yield UnitOfWork.for_engine(engine)


def safe_url(db: str | None) -> str:
    """The database URL as printed: without its password."""
    from sqlalchemy.engine import make_url

    return make_url(database_url(db)).render_as_string(hide_password=True)


def parse_date(
    value: str | None, field: str, as_json: bool, default: dt.date | None = None
) -> dt.date:
    """``YYYY-MM-DD`` (None: ``default``, else today), else exit 2 naming ``field``."""
    if value is None:
        return default or clock.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{field}: {value!r} is not a date (YYYY-MM-DD)", as_json)


def parse_years(text: str, as_json: bool, *, most: int, field: str = "years") -> list[int]:
    """``YEAR`` or ``FIRST-LAST`` (within ``domain.funds`` FIRST_YEAR..LAST_YEAR, at most
    ``most`` years) as the list of years, else exit 2 naming ``field``."""
    first, _, last = text.partition("-")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        fail(f"{field}: {text!r} is not YEAR or FIRST-LAST", as_json)
    if not FIRST_YEAR <= lo <= hi <= LAST_YEAR or hi - lo >= most:
        fail(
            f"{field}: {text!r} must be within {FIRST_YEAR}-{LAST_YEAR}, first ≤ last, "
            f"at most {most} years",
            as_json,
        )
    return list(range(lo, hi + 1))


def parse_amount(value: str, field: str, as_json: bool) -> int:
    """A yuan amount (``"6205.50"``) in fen, else exit 2 naming ``field``."""
    try:
        return parse_yuan(value, field)
    except AmountError as exc:
        fail(str(exc), as_json)
