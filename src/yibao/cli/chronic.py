"""``yibao chronic``: certified chronic and special diseases (门诊慢特病认定): certify a person
for a disease of the area's list, renew or end a certification, list a person's."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    emit,
    parse_date,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.services import chronic
from yibao.services.chronic import CertificationView

app = typer.Typer(
    no_args_is_help=True, help="Chronic and special diseases (门诊慢特病): certifications"
)

IdArg = Annotated[int, typer.Argument(help="the certification's id")]


def _line(c: CertificationView) -> str:
    return (
        f"#{c.id} {c.person} {c.disease} {c.name} {c.valid_from} to {c.valid_to} "
        f"({c.status}, area {c.area})"
    )


@app.command("certify")
@with_policy_dir
def certify(
    person: Annotated[str, typer.Option("--person", help="National ID or person number")],
    disease: Annotated[
        str, typer.Option("--disease", help="The disease's code on the area's list")
    ] = "",
    valid_from: Annotated[
        str | None, typer.Option("--from", help="First day (default today; not in the past)")
    ] = None,
    operator: OperatorOpt = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Certify the person for the disease, valid for the area's period from the first day."""
    start = parse_date(valid_from, "valid_from", as_json) if valid_from else None
    with unit_of_work(db, as_json, show_identity) as uow:
        made = chronic.certify(uow, person, disease, start, actor=operator or getpass.getuser())
    emit(made.as_dict(), as_json, f"certified {_line(made)}", show_identity)


@app.command("renew")
@with_policy_dir
def renew(
    cert_id: IdArg,
    operator: OperatorOpt = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Renew a certification for the area's period from the day after its last day."""
    with unit_of_work(db, as_json, show_identity) as uow:
        made = chronic.renew(uow, cert_id, actor=operator or getpass.getuser())
    emit(made.as_dict(), as_json, f"renewed {_line(made)}", show_identity)


@app.command("end")
@with_policy_dir
def end(
    cert_id: IdArg,
    last_day: Annotated[
        str | None, typer.Option("--last-day", help="Last day covered (default today)")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why it ends")] = "",
    operator: OperatorOpt = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a certification: claims after its last day are no longer paid for the disease."""
    day = parse_date(last_day, "last_day", as_json) if last_day else None
    with unit_of_work(db, as_json, show_identity) as uow:
        made = chronic.end(uow, cert_id, day, actor=operator or getpass.getuser(), reason=reason)
    emit(made.as_dict(), as_json, f"ended {_line(made)}", show_identity)


@app.command("list")
@with_policy_dir
def list_(
    person: Annotated[str, typer.Option("--person", help="National ID or person number")],
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The person's certifications, oldest first."""
    with unit_of_work(db, as_json, show_identity) as uow:
        found = chronic.listing(uow, person)
    emit(
        {"certifications": [c.as_dict() for c in found]},
        as_json,
        "\n".join(_line(c) for c in found) or "no certification",
        show_identity,
        read=True,
    )
