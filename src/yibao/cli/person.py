"""``yibao person``: the registry, one person one file (add, import, show, relate, group,
authorise and revoke family mutual aid, died)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    database,
    emit,
    err,
    out,
    parse_date,
    shown,
    unit_of_work,
)
from yibao.domain.masking import mask_ids_in
from yibao.services import registry

app = typer.Typer(no_args_is_help=True, help="The registry: one person, one file")


@app.command("add")
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
    with unit_of_work(db, as_json, show_identity) as uow:
        p = registry.add_person(
            uow,
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
    masked = shown(data, show_identity)
    emit(
        data,
        as_json,
        f"person #{p.id} {masked['national_id']} {masked['name']} "
        f"({', '.join(x for x in (p.sex.value, masked['birth_date']) if x)})",
        show_identity,
    )


@app.command("import")
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
    with (
        database(db, as_json, show_identity) as engine,
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

    emit(report.as_dict(), as_json, human, show_identity)


@app.command("show")
def person_show(
    national_id: Annotated[str, typer.Argument()],
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A person's file: household, relatives, groups, enrolments, coverage years."""
    with unit_of_work(db, as_json, show_identity) as uow:
        data = registry.person_file(uow, national_id)
    emit(
        data,
        as_json,
        json.dumps(shown(data, show_identity), ensure_ascii=False, indent=2),
        show_identity,
        read=True,
    )


@app.command("relate")
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
    with unit_of_work(db, as_json, show_identity) as uow:
        rel = registry.add_relation(uow, national_id, relative, kind)
    emit(
        {"person_id": rel.person_id, "relative_id": rel.relative_id, "kind": rel.kind.value},
        as_json,
        f"{relative} is {national_id}'s {rel.kind.value}",
        show_identity,
    )


@app.command("group")
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
    first = parse_date(valid_from, "from", as_json)
    last = parse_date(valid_to, "to", as_json) if valid_to else None
    with unit_of_work(db, as_json, show_identity) as uow:
        g = registry.add_group(uow, national_id, kind, first, last)
    emit(
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


@app.command("authorise")
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
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        link = registry.authorise_mutual_aid(uow, owner, relative, day)
    emit(
        {"id": link.id, "authorised_on": link.authorised_on.isoformat()},
        as_json,
        f"mutual-aid link #{link.id}: {owner} -> {relative} from {day}",
        show_identity,
    )


@app.command("revoke")
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
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        link = registry.revoke_mutual_aid(uow, owner, relative, day)
    emit(
        {"id": link.id, "revoked_on": day.isoformat()},
        as_json,
        f"link #{link.id} revoked",
        show_identity,
    )


@app.command("died")
def person_died(
    national_id: Annotated[str, typer.Argument()],
    on: Annotated[str, typer.Option(help="Date of death (YYYY-MM-DD)")],
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a person's date of death: no settlement on or after it (audited)."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        p = registry.record_death(
            uow, national_id, day, actor=f"cli:{operator or getpass.getuser()}"
        )
    emit(
        {"id": p.id, "national_id": p.label, "died_on": day.isoformat()},
        as_json,
        f"{p.label} died on {day.isoformat()}",
        show_identity,
    )
