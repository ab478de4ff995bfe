"""``yibao compare-review``: record linkage of department records whose ID is wrong or missing
(Splink, Fellegi–Sunter) and its review list: ``link`` stores the candidate pairs, ``list`` and
``show`` print them (the record beside the person, masked unless ``--show-identity``),
``confirm`` and ``reject`` work them, audited (docs/linkage.md)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    database,
    emit,
    err,
    out,
    shown,
)
from yibao.domain.masking import mask_ids_in
from yibao.services.compare import review
from yibao.store.uow import UnitOfWork

app = typer.Typer(
    no_args_is_help=True, help="Record linkage and its review list: link, list, confirm, reject"
)

IdArg = Annotated[int, typer.Argument(help="the candidate pair's id")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="why (kept in the audit trail)")]


def _by(operator: str | None) -> str:
    return operator or getpass.getuser()


def _line(p: review.PairView, show: bool) -> str:
    rec, psn = shown(p.record, show), shown(p.person, show)
    levels = " ".join(f"{k}={v}" for k, v in p.levels.items())
    text = (
        f"{p.id:>6} {p.status:<9} {p.source}:{p.row_no} → {p.psn_no}  "
        f"w={p.match_weight:+.2f} p={p.match_probability:.4f}  "
        f"{rec['name']}/{psn['name']} {rec['id_no']}/{psn['id_no']}  [{levels}]"
    )
    return text if show else mask_ids_in(text)


@app.command()
def link(
    records: Annotated[
        Path, typer.Option("--records", help="unmatched records (Parquet or CSV, linkage columns)")
    ],
    area: Annotated[str, typer.Option("--area", help="6-digit region code (its thresholds)")],
    registry: Annotated[
        str,
        typer.Option("--registry", help="'store' (the database's persons) or a generated area"),
    ] = "store",
    region: Annotated[
        str | None, typer.Option("--region", help="only the store's persons of this region")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="random sampling seed")] = 16,
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Link the records against the registry and store the candidate pairs (auto, review)."""
    with database(db, as_json) as engine:
        rows = review.read_records(records)
        uow = UnitOfWork.for_engine(engine)
        people = (
            review.registry_from_store(uow, region)
            if registry == "store"
            else review.registry_from_area(Path(registry))
        )
        say = (lambda _m: None) if as_json else (lambda m: err.print(f"[dim]{m}[/dim]"))
        run = review.link_and_store(uow, area, rows, people, _by(operator), progress=say)
        text = f"auto {run.auto}, review {run.review}, new {run.added}"
        emit(run.to_dict(), as_json, text)


@app.command("list")
def list_(
    area: Annotated[str | None, typer.Option("--area")] = None,
    source: Annotated[str | None, typer.Option("--source", help="household, aid, ...")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="auto, review, confirmed, rejected")
    ] = None,
    db: DbOpt = None,
    show: ShowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Candidate pairs, by record, best first."""
    with database(db, as_json, show) as engine:
        found = review.list_pairs(UnitOfWork.for_engine(engine), area, source, status)
        data: Any = [p.to_dict() for p in found]
        emit(data, as_json, "\n".join(_line(p, show) for p in found) or "no pairs", show=show)


@app.command("show")
def show_(pair: IdArg, db: DbOpt = None, show: ShowOpt = False, as_json: JsonOpt = False) -> None:
    """A candidate pair: the record beside the person, levels, weight, who moved it when."""
    with database(db, as_json, show) as engine:
        p = review.show(UnitOfWork.for_engine(engine), pair)
        emit(p.to_dict(), as_json, _line(p, show), show=show)


def _move(
    move: Callable[..., review.PairView],
    pair: int,
    note: str | None,
    db: str | None,
    operator: str | None,
    as_json: bool,
) -> None:
    with database(db, as_json) as engine:
        p = move(UnitOfWork.for_engine(engine), pair, _by(operator), note)
        emit(p.to_dict(), as_json, _line(p, False))


@app.command()
def confirm(
    pair: IdArg,
    note: NoteOpt = None,
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """review → confirmed: the record is this person (its other candidates rejected)."""
    _move(review.confirm, pair, note, db, operator, as_json)


@app.command()
def reject(
    pair: IdArg,
    note: NoteOpt = None,
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """review or auto → rejected: the record is not this person."""
    _move(review.reject, pair, note, db, operator, as_json)


__all__ = ["app", "out"]
