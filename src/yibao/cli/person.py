"""Batch commands of the system of record (Typer apps).

Mount them on the main CLI with ``yibao.commands.register(app)``, which adds the groups
``db``, ``person``, ``enrolment``, ``ledger``, ``funds``, ``visit`` and the commands ``enrol``,
``pay``, ``year-end``, ``settle``, ``presettle``, ``reverse``.
Standalone: ``python -m yibao.commands ...``.

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
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from typer._click.globals import get_current_context as current_context  # typer vendors click

from yibao.api.context import mask_ids_deep, mask_ids_in
from yibao.api.security import mask_name, mask_phone
from yibao.domain.contributions import ContributionRecord
from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import RecordError
from yibao.policy import ParameterError, fen_to_yuan
from yibao.policy.money import AmountError, parse_yuan
from yibao.policy_option import with_policy_dir
from yibao.services import clock
from yibao.store.db import database_url, make_engine
from yibao.store.migrate import upgrade as run_upgrade
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

db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic migrations)")
person_app = typer.Typer(no_args_is_help=True, help="The registry: one person, one file")
enrolment_app = typer.Typer(no_args_is_help=True, help="Suspend, resume, terminate, transfer")
ledger_app = typer.Typer(no_args_is_help=True, help="The double-entry fund ledger")
funds_app = typer.Typer(no_args_is_help=True, help="Fund balances")


# ------------------------------------------------------------------------------- plumbing


def _fail(message: str, as_json: bool, code: int = 2, show: bool = False) -> NoReturn:
    if not show:
        message = mask_ids_in(message)
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False), file=sys.stderr)
    else:
        err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


_NAME_KEYS = frozenset({"name", "psn_name"})
_PHONE_KEYS = frozenset({"phone", "tel"})
#: Birth dates are digits 7-14 of an 18-digit national ID: masked with it (the age is not).
_BIRTH_KEYS = frozenset({"birth_date", "brdy"})


def _masked(value: Any) -> Any:
    """``value`` as printed by default: national IDs (in any string), names, phones masked and
    birth dates left out (None)."""
    if isinstance(value, dict):
        return {
            k: mask_name(v)
            if k in _NAME_KEYS and isinstance(v, str)
            else mask_phone(v)
            if k in _PHONE_KEYS and isinstance(v, str)
            else None
            if k in _BIRTH_KEYS
            else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return mask_ids_deep(value)


def _emit(
    data: Any,
    as_json: bool,
    human: str | Callable[[], None],
    show: bool = False,
    read: bool = False,
) -> None:
    """Print ``data`` (``--json``) or the human form. Unless ``show``, JSON goes through
    ``_masked`` and a text line has its national IDs masked; a callable ``human`` must print
    from data it masked itself (see ``_shown``). With ``show`` (identity in full) or ``read``
    (a person's file), the audit log records it first (``_audit_read``)."""
    if show or read:
        _audit_read(data, show)
    if as_json:
        print(
            json.dumps(data if show else _masked(data), ensure_ascii=False, indent=2, default=str)
        )
    elif callable(human):
        human()
    else:
        out.print(human if show else mask_ids_in(human))


def _audit_read(data: Any, show: bool) -> None:
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
        message = f"audit log of {_safe(db)}: cannot record this read ({type(exc).__name__})"
        _fail(message, bool(ctx.params.get("as_json")), 3)
    finally:
        engine.dispose()


def _shown(data: Any, show: bool) -> Any:
    return data if show else _masked(data)


@contextmanager
def _engine(db: str | None, as_json: bool, show: bool = False) -> Iterator[Engine]:
    engine = make_engine(db)
    try:
        yield engine
    except (RecordError, ParameterError) as exc:
        _fail(exc.public() if isinstance(exc, ParameterError) else str(exc), as_json, show=show)
    except OperationalError as exc:
        _fail(f"database {_safe(db)}: {exc.orig}", as_json, 3)
    finally:
        engine.dispose()


def _safe(db: str | None) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url(db)).render_as_string(hide_password=True)


def _date(value: str | None, field: str, as_json: bool, default: dt.date | None = None) -> dt.date:
    if value is None:
        return default or clock.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{field}: {value!r} is not a date (YYYY-MM-DD)", as_json)


def _yuan(value: str, field: str, as_json: bool) -> int:
    try:
        return parse_yuan(value, field)
    except AmountError as exc:
        _fail(str(exc), as_json)


def _enrolment_dict(e: Enrolment) -> dict[str, Any]:
    return {
        "id": e.id,
        "person_id": e.person_id,
        "scheme": e.scheme.value,
        "kind": e.kind.value,
        "pooling_area": e.pooling_area,
        "employer_code": e.employer_code,
        "start_date": e.start_date.isoformat(),
        "end_date": e.end_date.isoformat() if e.end_date else None,
        "status": e.status.value,
        "carried_employee_months": e.carried_employee_months,
        "carried_resident_years": e.carried_resident_years,
        "description": e.describe(),
    }


def _contribution_dict(c: ContributionRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": c.kind.value,
        "period_start": c.period_start.isoformat(),
        "period_end": c.period_end.isoformat(),
        "paid_on": c.paid_on.isoformat(),
        "base": fen_to_yuan(c.base) if c.base is not None else None,
        "employer_part": fen_to_yuan(c.employer_part),
        "employee_part": fen_to_yuan(c.employee_part),
        "individual": fen_to_yuan(c.individual),
        "fiscal_subsidy": fen_to_yuan(c.fiscal_subsidy),
        "assistance_paid": fen_to_yuan(c.assistance_paid),
        "account_credit": fen_to_yuan(c.account_credit),
        "total": fen_to_yuan(c.total),
        "mutual_aid_link_id": c.mutual_aid_link_id,
        "transaction_id": c.transaction_id,
    }


# -------------------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(
    db: DbOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    as_json: JsonOpt = False,
) -> None:
    """Create or migrate the schema (same migrations on SQLite and PostgreSQL)."""
    try:
        now = run_upgrade(db, revision)
    except OperationalError as exc:
        _fail(f"database {_safe(db)}: {exc.orig}", as_json, 3)
    _emit(
        {"database": _safe(db), "revision": now},
        as_json,
        f"{_safe(db)} is at revision {now}",
    )


# ---------------------------------------------------------------------------------- person


@person_app.command("add")
def person_add(
    national_id: Annotated[str, typer.Argument(help="18-character national ID")],
    name: Annotated[str, typer.Argument()],
    phone: Annotated[str | None, typer.Option()] = None,
    household: Annotated[str | None, typer.Option(help="Household code")] = None,
    region: Annotated[str | None, typer.Option(help="6-digit area of residence")] = None,
    address: Annotated[str | None, typer.Option(help="Household address")] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a person (the national ID is validated; birth date and sex come from it)."""
    from yibao.services import registry

    with _engine(db, as_json, show_identity) as engine:
        p = registry.add_person(
            UnitOfWork.for_engine(engine),
            national_id,
            name,
            phone=phone,
            household=household,
            region=region,
            address=address,
        )
    data = {
        "id": p.id,
        "national_id": p.label,
        "name": p.name,
        "sex": p.sex.value,
        "birth_date": p.birth_date.isoformat(),
    }
    shown = _shown(data, show_identity)
    _emit(
        data,
        as_json,
        f"person #{p.id} {shown['national_id']} {shown['name']} "
        f"({', '.join(x for x in (p.sex.value, shown['birth_date']) if x)})",
        show_identity,
    )


@person_app.command("import")
def person_import(
    file: Annotated[Path, typer.Argument(help="CSV (.csv, .csv.gz) or Parquet file")],
    batch_size: Annotated[int, typer.Option(help="Rows per batch and transaction")] = 50_000,
    max_errors: Annotated[int, typer.Option(help="Row errors to list")] = 100,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bulk import persons: columns national_id, name[, phone, household, region]."""
    from yibao.services import registry

    with (
        _engine(db, as_json, show_identity) as engine,
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]import[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=as_json or not err.is_terminal,
        ) as bar,
    ):
        task = bar.add_task(file.name, total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        report = registry.import_persons(
            engine, file, batch_size=batch_size, progress=progress, max_errors=max_errors
        )

    def human() -> None:
        out.print(
            f"read {report.read}, inserted {report.inserted}, already present "
            f"{report.duplicates}, invalid {report.invalid}, households created "
            f"{report.households_created}"
        )
        for e in report.errors[:20]:
            reason = e.reason if show_identity else mask_ids_in(e.reason)
            out.print(f"  row {e.row}: {e.field}: {reason}")

    _emit(report.as_dict(), as_json, human, show_identity)


@person_app.command("show")
def person_show(
    national_id: Annotated[str, typer.Argument()],
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A person's file: household, relatives, groups, enrolments, coverage years."""
    from yibao.services import registry

    with _engine(db, as_json, show_identity) as engine:
        data = registry.person_file(UnitOfWork.for_engine(engine), national_id)
    _emit(
        data,
        as_json,
        json.dumps(_shown(data, show_identity), ensure_ascii=False, indent=2),
        show_identity,
        read=True,
    )


@person_app.command("relate")
def person_relate(
    national_id: Annotated[str, typer.Argument()],
    relative: Annotated[str, typer.Argument(help="The relative's national ID")],
    kind: Annotated[str, typer.Argument(help="spouse|parent|child|sibling|grandparent|grandchild")],
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that RELATIVE is the person's KIND (the reciprocal is recorded too)."""
    from yibao.services import registry

    with _engine(db, as_json, show_identity) as engine:
        rel = registry.add_relation(UnitOfWork.for_engine(engine), national_id, relative, kind)
    _emit(
        {"person_id": rel.person_id, "relative_id": rel.relative_id, "kind": rel.kind.value},
        as_json,
        f"{relative} is {national_id}'s {rel.kind.value}",
        show_identity,
    )


@person_app.command("group")
def person_group(
    national_id: Annotated[str, typer.Argument()],
    kind: Annotated[
        str,
        typer.Argument(
            help="newborn|tekun|dibao|low_income_edge|monitored|ill_poor|student|demobilized"
        ),
    ],
    valid_from: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD)")],
    valid_to: Annotated[str | None, typer.Option("--to", help="Last day")] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put a person in a special group for a period."""
    from yibao.services import registry

    first = _date(valid_from, "from", as_json)
    last = _date(valid_to, "to", as_json) if valid_to else None
    with _engine(db, as_json, show_identity) as engine:
        g = registry.add_group(UnitOfWork.for_engine(engine), national_id, kind, first, last)
    _emit(
        {
            "id": g.id,
            "kind": g.kind.value,
            "valid_from": g.valid_from.isoformat(),
            "valid_to": g.valid_to.isoformat() if g.valid_to else None,
        },
        as_json,
        f"{national_id} is {g.kind.value} from {g.valid_from}",
        show_identity,
    )


@person_app.command("authorise")
def person_authorise(
    owner: Annotated[str, typer.Argument(help="The employee whose personal account pays")],
    relative: Annotated[str, typer.Argument(help="The close relative it may pay for")],
    on: Annotated[str | None, typer.Option(help="Date of authorisation")] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Authorise family mutual aid (家庭共济) from OWNER's personal account to RELATIVE."""
    from yibao.services import registry

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        link = registry.authorise_mutual_aid(UnitOfWork.for_engine(engine), owner, relative, day)
    _emit(
        {"id": link.id, "authorised_on": link.authorised_on.isoformat()},
        as_json,
        f"mutual-aid link #{link.id}: {owner} -> {relative} from {day}",
        show_identity,
    )


@person_app.command("revoke")
def person_revoke(
    owner: Annotated[str, typer.Argument()],
    relative: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="Date of revocation")] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a mutual-aid authorisation."""
    from yibao.services import registry

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        link = registry.revoke_mutual_aid(UnitOfWork.for_engine(engine), owner, relative, day)
    _emit(
        {"id": link.id, "revoked_on": day.isoformat()},
        as_json,
        f"link #{link.id} revoked",
        show_identity,
    )


# ------------------------------------------------------------------------------- enrolment


DeemedOpt = Annotated[
    int,
    typer.Option(min=0, help="Retiree: deemed contribution months (视同缴费) to count"),
]
BackPayOpt = Annotated[
    bool,
    typer.Option(
        "--back-pay",
        help="Retiree short of the minimum years: record the one-off back-payment",
    ),
]


def enrol_command(
    national_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="employer|flexible|retiree|resident")],
    area: Annotated[str, typer.Option(help="Pooling area (6-digit code)")],
    on: Annotated[str | None, typer.Option(help="First covered day")] = None,
    employer: Annotated[str | None, typer.Option(help="Employer code (kind employer)")] = None,
    deemed_months: DeemedOpt = 0,
    back_pay: BackPayOpt = False,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol a person in a scheme (refused if already enrolled: the enrolment is named). A
    retiree short of the minimum contribution years is refused unless --back-pay."""
    from yibao.services import enrolment

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        e = enrolment.enrol(
            UnitOfWork.for_engine(engine),
            national_id,
            kind,
            area,
            day,
            employer_code=employer,
            deemed_months=deemed_months,
            back_pay=back_pay,
        )
    _emit(_enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("suspend")
def enrolment_suspend(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suspend the person's open enrolment."""
    from yibao.services import enrolment

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        e = enrolment.suspend(UnitOfWork.for_engine(engine), national_id, day, reason)
    _emit(_enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("resume")
def enrolment_resume(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option()] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume a suspended enrolment."""
    from yibao.services import enrolment

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        e = enrolment.resume(UnitOfWork.for_engine(engine), national_id, day)
    _emit(_enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("terminate")
def enrolment_terminate(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="Last covered day")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Terminate the person's open enrolment."""
    from yibao.services import enrolment

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        e = enrolment.terminate(UnitOfWork.for_engine(engine), national_id, day, reason)
    _emit(_enrolment_dict(e), as_json, e.describe(), show_identity)


@enrolment_app.command("transfer")
def enrolment_transfer(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="First day in the new area/scheme")] = None,
    to_area: Annotated[str | None, typer.Option(help="New pooling area")] = None,
    to_kind: Annotated[str | None, typer.Option(help="employer|flexible|retiree|resident")] = None,
    employer: Annotated[str | None, typer.Option(help="New employer code")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    deemed_months: DeemedOpt = 0,
    back_pay: BackPayOpt = False,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer between pooling areas and/or schemes; contribution years are carried."""
    from yibao.services import enrolment

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        old, new = enrolment.transfer(
            UnitOfWork.for_engine(engine),
            national_id,
            day,
            to_area=to_area,
            to_kind=to_kind,
            employer_code=employer,
            reason=reason,
            deemed_months=deemed_months,
            back_pay=back_pay,
        )
    _emit(
        {"from": _enrolment_dict(old), "to": _enrolment_dict(new)},
        as_json,
        f"{old.describe()}\n-> {new.describe()}",
        show_identity,
    )


# ------------------------------------------------------------------------------------- pay


def _period(value: str, monthly: bool, as_json: bool) -> dt.date:
    try:
        if monthly:
            year, month = value.split("-")[:2]
            return dt.date(int(year), int(month), 1)
        return dt.date(int(value), 1, 1)
    except ValueError:
        _fail(f"period: {value!r} is not {'YYYY-MM' if monthly else 'YYYY'}", as_json)


def _payment_line(r: ContributionRecord, monthly: bool) -> str:
    period = f"{r.period_start:%Y-%m}" if monthly else f"{r.period_start:%Y}"
    return (
        f"{r.kind.value} {period} total {fen_to_yuan(r.total)} "
        f"(account credit {fen_to_yuan(r.account_credit)}), transaction #{r.transaction_id}"
    )


def pay_command(
    national_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="employee|flexible|resident|repair|retiree-credit")],
    period: Annotated[
        str | None,
        typer.Option(help="YYYY-MM (employee, flexible, retiree-credit) or YYYY (resident)"),
    ] = None,
    wage: Annotated[str | None, typer.Option(help="Monthly wage, yuan (employee)")] = None,
    base: Annotated[str | None, typer.Option(help="Chosen monthly base, yuan (flexible)")] = None,
    years: Annotated[str | None, typer.Option(help="Lapsed years to repair: 2022,2023")] = None,
    from_account_of: Annotated[
        str | None, typer.Option(help="Pay from this employee's personal account (mutual aid)")
    ] = None,
    on: Annotated[str | None, typer.Option(help="Payment date")] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a contribution: computed by the rules, posted as one balanced transaction."""
    from yibao.services import contributions as pay

    day = _date(on, "on", as_json)
    kind = kind.replace("_", "-")
    monthly = kind in ("employee", "flexible", "retiree-credit")
    if kind not in ("employee", "flexible", "retiree-credit", "resident", "repair"):
        _fail(f"kind: {kind!r} is not employee|flexible|resident|repair|retiree-credit", as_json)
    if kind != "repair" and period is None:
        _fail("period: required", as_json)
    with _engine(db, as_json, show_identity) as engine:
        uow = UnitOfWork.for_engine(engine)
        records: list[ContributionRecord]
        if kind == "employee":
            if wage is None:
                _fail("wage: required for an employee contribution", as_json)
            assert period is not None
            first = _period(period, monthly, as_json)
            records = [pay.pay_employee(uow, national_id, first, _yuan(wage, "wage", as_json), day)]
        elif kind == "flexible":
            if base is None:
                _fail("base: required for a flexible-worker contribution", as_json)
            assert period is not None
            first = _period(period, monthly, as_json)
            records = [pay.pay_flexible(uow, national_id, first, _yuan(base, "base", as_json), day)]
        elif kind == "retiree-credit":
            assert period is not None
            records = [pay.credit_retiree(uow, national_id, _period(period, True, as_json), day)]
        elif kind == "resident":
            assert period is not None
            year = _period(period, False, as_json).year
            records = [
                pay.pay_resident(uow, national_id, year, day, from_account_of=from_account_of)
            ]
        else:
            if not years:
                _fail("years: required for a repair (e.g. --years 2022,2023)", as_json)
            try:
                wanted = [int(y) for y in years.split(",") if y.strip()]
            except ValueError:
                _fail(f"years: {years!r} is not a list of years", as_json)
            records = pay.pay_repair(uow, national_id, wanted, day)
    data = [_contribution_dict(r) for r in records]
    _emit(
        data if len(data) > 1 else data[0],
        as_json,
        "\n".join(_payment_line(r, monthly) for r in records),
        show_identity,
    )


# -------------------------------------------------------------------------------- year-end


def year_end_command(
    year: Annotated[int, typer.Argument(help="The year to close")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a year: record lapses, continuous years and zero-claim years (idempotent)."""
    from yibao.services import yearend

    with _engine(db, as_json) as engine:
        c = yearend.close_year(UnitOfWork.for_engine(engine), year)
    data = {
        "year": c.year,
        "lapses_recorded": c.lapses_recorded,
        "retirees_added": c.retirees_added,
        "insured": c.insured,
        "lapsed": c.lapsed,
        "zero_claim": c.zero_claim,
        "next_year_rows": c.next_year_rows,
        "runs": c.runs,
    }
    _emit(
        data,
        as_json,
        f"{c.year}: {c.insured} insured, {c.lapsed} lapsed ({c.lapses_recorded} new), "
        f"{c.zero_claim} zero-claim; run {c.runs}",
    )


# ------------------------------------------------------------------------------ settlement

visit_app = typer.Typer(no_args_is_help=True, help="Visits of designated institutions (2201/2202)")

ClaimFile = Annotated[
    str | None,
    typer.Argument(help="Claim file (YAML or JSON; '-' for standard input); options override"),
]
PersonOpt = Annotated[str | None, typer.Option("--person", help="National ID")]
DateOpt = Annotated[str | None, typer.Option("--date", help="Date of the claim (YYYY-MM-DD)")]
MedTypeOpt = Annotated[
    str | None, typer.Option("--med-type", help="inpatient|outpatient|chronic|maternity|pharmacy")
]
LevelOpt = Annotated[str | None, typer.Option("--level", help="Institution level 1, 2 or 3")]
TotalOpt = Annotated[str | None, typer.Option("--total", help="Total cost (yuan)")]
SelfOpt = Annotated[str | None, typer.Option("--fully-self-paid", help="Fully self-paid (yuan)")]
OverOpt = Annotated[str | None, typer.Option("--over-limit", help="Over price limits (yuan)")]
CatBOpt = Annotated[str | None, typer.Option("--category-b", help="Category-B items (yuan)")]
CrossOpt = Annotated[
    str | None, typer.Option("--cross-region", help="none|registered|referred|temporary")
]
InstOpt = Annotated[str | None, typer.Option("--institution", help="Institution code")]
VisitOpt = Annotated[str | None, typer.Option("--mdtrt-id", help="A registered visit")]
NoAccountOpt = Annotated[
    bool, typer.Option("--no-account", help="Do not pay from the personal account")
]
MutualOpt = Annotated[
    str | None,
    typer.Option("--mutual-aid-from", help="National ID of the employee whose account pays"),
]
RequestOpt = Annotated[
    str | None, typer.Option("--request-id", help="Idempotency key (msgid): settled once")
]


def _claim_doc(
    file: str | None,
    as_json: bool,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The claim as a mapping: the file's, with the options given on top."""
    from yibao.calc.scenario import ScenarioError, read_scenario

    doc: dict[str, Any] = {}
    if file is not None:
        try:
            doc = read_scenario(file)
        except ScenarioError as exc:
            _fail(str(exc), as_json)
    for key, value in options.items():
        if value is not None:
            doc[key] = value
    level = doc.get("level")
    if isinstance(level, str):
        if level.strip() not in ("1", "2", "3"):
            _fail(f"level: unknown institution level {level!r}; expected 1, 2 or 3", as_json)
        doc["level"] = int(level)
    return doc


def _settlement_human(data: dict[str, Any]) -> Callable[[], None]:
    def human() -> None:
        ident = data.get("setl_id") or "pre-settlement"
        out.print(
            f"{ident} {data.get('psn_no')} {data.get('setl_time')} {data.get('med_type')}: "
            f"total {data.get('medfee_sumamt')}, funds {data.get('fund_pay_sumamt')}, "
            f"account {data.get('acct_pay')}, mutual aid {data.get('acct_mulaid_pay')}, "
            f"cash {data.get('psn_cash_pay')}"
        )
        for d in data.get("setldetail", []):
            out.print(f"  {d['fund_pay_type']} {d['fund_name']}: {d['fund_payamt']}")
        for r in data.get("reasons", []):
            out.print(f"  - {r}")

    return human


def _settle_or_preview(
    preview: bool,
    file: str | None,
    options: dict[str, Any],
    request_id: str | None,
    db: str | None,
    as_json: bool,
    show: bool,
) -> None:
    from yibao.services import settlement

    doc = _claim_doc(file, as_json, options)
    request_id = request_id or doc.pop("request_id", None) or doc.pop("msgid", None)
    with _engine(db, as_json, show) as engine:
        claim = settlement.claim_from_mapping(doc)
        uow = UnitOfWork.for_engine(engine)
        if preview:
            result = settlement.presettle(uow, claim)
        else:
            result = settlement.settle(uow, claim, None if request_id is None else str(request_id))
    data = dict(result.response)
    if result.replayed:
        data["replayed"] = True
    _emit(data, as_json, _settlement_human(_shown(data, show)), show)


def _claim_options(
    person: str | None, date: str | None, med_type: str | None, level: str | None,
    total: str | None, fully_self_paid: str | None, over_limit: str | None,
    category_b: str | None, cross_region: str | None, institution: str | None,
    mdtrt_id: str | None, no_account: bool, mutual_aid_from: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The claim given as options (settle and presettle take the same ones)."""
    return {
        "person": person,
        "date": date,
        "med_type": med_type,
        "level": level,
        "total": total,
        "fully_self_paid": fully_self_paid,
        "over_limit": over_limit,
        "category_b": category_b,
        "cross_region": cross_region,
        "fixmedins_code": institution,
        "mdtrt_id": mdtrt_id,
        "use_account": False if no_account else None,
        "mutual_aid_from": mutual_aid_from,
    }


def settle_command(
    file: ClaimFile = None,
    person: PersonOpt = None,
    date: DateOpt = None,
    med_type: MedTypeOpt = None,
    level: LevelOpt = None,
    total: TotalOpt = None,
    fully_self_paid: SelfOpt = None,
    over_limit: OverOpt = None,
    category_b: CatBOpt = None,
    cross_region: CrossOpt = None,
    institution: InstOpt = None,
    mdtrt_id: VisitOpt = None,
    no_account: NoAccountOpt = False,
    mutual_aid_from: MutualOpt = None,
    request_id: RequestOpt = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Settle a claim (2207): stored, funds posted, year-to-date totals moved."""
    options = _claim_options(
        person, date, med_type, level, total, fully_self_paid, over_limit, category_b,
        cross_region, institution, mdtrt_id, no_account, mutual_aid_from,
    )  # fmt: skip
    _settle_or_preview(False, file, options, request_id, db, as_json, show_identity)


def presettle_command(
    file: ClaimFile = None,
    person: PersonOpt = None,
    date: DateOpt = None,
    med_type: MedTypeOpt = None,
    level: LevelOpt = None,
    total: TotalOpt = None,
    fully_self_paid: SelfOpt = None,
    over_limit: OverOpt = None,
    category_b: CatBOpt = None,
    cross_region: CrossOpt = None,
    institution: InstOpt = None,
    mdtrt_id: VisitOpt = None,
    no_account: NoAccountOpt = False,
    mutual_aid_from: MutualOpt = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pre-settle a claim (2206): the full breakdown, nothing stored."""
    options = _claim_options(
        person, date, med_type, level, total, fully_self_paid, over_limit, category_b,
        cross_region, institution, mdtrt_id, no_account, mutual_aid_from,
    )  # fmt: skip
    _settle_or_preview(True, file, options, None, db, as_json, show_identity)


def reverse_command(
    setl_id: Annotated[str, typer.Argument(help="The settlement to reverse")],
    on: Annotated[str | None, typer.Option(help="Date of the reversal")] = None,
    request_id: RequestOpt = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reverse a settlement (2208): every posting undone, year-to-date totals restored."""
    from yibao.services import settlement

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        r = settlement.reverse(
            UnitOfWork.for_engine(engine), setl_id, on=day, request_id=request_id
        )
    data = dict(r.response)
    data["transaction_id"] = r.transaction_id
    _emit(data, as_json, f"{setl_id} reversed on {r.reversed_on.isoformat()}", show_identity)


@visit_app.command("register")
def visit_register(
    national_id: Annotated[str, typer.Argument()],
    institution: Annotated[str, typer.Option("--institution", help="Institution code")],
    med_type: MedTypeOpt = None,
    level: LevelOpt = None,
    on: Annotated[str | None, typer.Option(help="First day of the visit")] = None,
    cross_region: CrossOpt = None,
    mdtrt_id: Annotated[
        str | None, typer.Option("--mdtrt-id", help="Visit id (default: new)")
    ] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a visit (2201)."""
    from yibao.domain.settlement import check_level, check_med_type
    from yibao.services import settlement

    day = _date(on, "on", as_json)
    with _engine(db, as_json, show_identity) as engine:
        if level is None or level.strip() not in ("1", "2", "3"):
            check_level(level)
        assert level is not None
        v = settlement.register_visit(
            UnitOfWork.for_engine(engine),
            national_id,
            institution,
            check_med_type(med_type),
            int(level),
            day,
            cross_region=cross_region or "none",
            mdtrt_id=mdtrt_id,
        )
    data = {
        "mdtrt_id": v.mdtrt_id,
        "psn_no": national_id,
        "fixmedins_code": v.fixmedins_code,
        "med_type": v.med_type,
        "level": v.level,
        "cross_region": v.cross_region,
        "begin_date": v.begin_date.isoformat(),
        "status": v.status.value,
    }
    _emit(data, as_json, f"visit {v.mdtrt_id} registered", show_identity)


@visit_app.command("cancel")
def visit_cancel(
    mdtrt_id: Annotated[str, typer.Argument()],
    on: Annotated[str | None, typer.Option(help="Date of cancellation")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a visit (2202); refused while a settlement of it is in force."""
    from yibao.services import settlement

    day = _date(on, "on", as_json)
    with _engine(db, as_json) as engine:
        v = settlement.cancel_visit(UnitOfWork.for_engine(engine), mdtrt_id, day)
    _emit(
        {"mdtrt_id": v.mdtrt_id, "status": v.status.value},
        as_json,
        f"visit {v.mdtrt_id} {v.status.value}",
    )


# ------------------------------------------------------------------------- ledger and funds


@ledger_app.command("check")
def ledger_check(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Reconcile: postings sum to zero per transaction; balances equal their postings."""
    from yibao.services import ledger

    with _engine(db, as_json) as engine:
        report = ledger.reconcile(UnitOfWork.for_engine(engine))

    def human() -> None:
        state = "[green]balanced[/green]" if report.ok else "[red]NOT balanced[/red]"
        out.print(f"{report.transactions} transactions, {report.postings} postings: {state}")
        for u in report.unbalanced:
            out.print(f"  transaction #{u.transaction_id}: sum {fen_to_yuan(u.total)}")
        for m in report.mismatches:
            out.print(
                f"  account {m.account}: stored {fen_to_yuan(m.stored)}, "
                f"postings {fen_to_yuan(m.postings)}"
            )

    _emit(report.as_dict(), as_json, human)
    if not report.ok:
        raise typer.Exit(1)


@funds_app.command("report")
def funds_report(
    area: Annotated[str | None, typer.Option(help="One pooling area")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fund balances by pooling area; personal accounts summed."""
    from yibao.services import ledger

    with _engine(db, as_json) as engine:
        report = ledger.funds_report(UnitOfWork.for_engine(engine), area)

    def human() -> None:
        for line in report.lines:
            out.print(f"{line.code:<40} {fen_to_yuan(line.balance):>18}")
        out.print(
            f"{'personal accounts (' + str(report.personal_accounts) + ')':<40} "
            f"{fen_to_yuan(report.personal_total):>18}"
        )

    _emit(report.as_dict(), as_json, human)


@funds_app.command("allocate")
def funds_allocate(
    area: Annotated[str, typer.Argument(help="The pooling area (6 digits)")],
    year: Annotated[int, typer.Argument(help="The year")],
    on: Annotated[str | None, typer.Option(help="Posting date (default 1 January)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post the year's fiscal allocation to the medical assistance fund (once per area, year)."""
    from yibao.services import ledger

    day = _date(on, "on", as_json) if on is not None else None
    with _engine(db, as_json) as engine:
        a = ledger.allocate_assistance(UnitOfWork.for_engine(engine), area, year, on=day)
    state = "posted" if a.posted else "already posted" if a.amount else "nothing to post"
    _emit(
        a.as_dict(),
        as_json,
        f"{a.area} {a.year}: {fen_to_yuan(a.amount)} yuan for {a.recipients} aid recipients "
        f"({state})",
    )


# ---------------------------------------------------------------------------------- mount


def register(app: typer.Typer) -> None:
    """Mount every store command on ``app``."""
    app.add_typer(db_app, name="db")
    app.add_typer(person_app, name="person")
    app.add_typer(enrolment_app, name="enrolment")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(funds_app, name="funds")
    app.command("enrol")(with_policy_dir(enrol_command))
    app.command("pay")(with_policy_dir(pay_command))
    app.command("year-end")(with_policy_dir(year_end_command))
    app.add_typer(visit_app, name="visit")
    app.command("settle")(with_policy_dir(settle_command))
    app.command("presettle")(with_policy_dir(presettle_command))
    app.command("reverse")(with_policy_dir(reverse_command))


app = typer.Typer(no_args_is_help=True, add_completion=False, help="yibao system of record")
register(app)

__all__ = [
    "app",
    "db_app",
    "enrolment_app",
    "funds_app",
    "ledger_app",
    "person_app",
    "register",
    "visit_app",
]

if __name__ == "__main__":
    app()
