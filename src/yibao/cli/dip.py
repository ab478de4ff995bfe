"""``yibao dip`` and ``yibao drg``: build a region's DIP groups (or DRG weights) from the
discharged inpatient cases of some years (in the store, or a generated area's Parquet), load an
official table file, show the table in force."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.cli import dip_year
from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    emit,
    fail,
    out,
    parse_date,
    parse_years,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.policy import NATIONAL
from yibao.policy.group_tables import GroupTableRow, to_csv
from yibao.services import provider_payment as pp
from yibao.services.common import policy_for
from yibao.services.dip_history import history_cases
from yibao.store.repositories.payment_groups import GroupTable

dip_app = typer.Typer(no_args_is_help=True, help="DIP groups (按病种分值): build, load, show")
drg_app = typer.Typer(no_args_is_help=True, help="DRG groups (疾病诊断相关分组): build, load, show")

RegionOpt = Annotated[str, typer.Option("--region", help="Six-digit region code")]
YearsOpt = Annotated[str, typer.Option("--years", help="History years, e.g. 2022-2024")]
AreaOpt = Annotated[
    Path | None, typer.Option("--area", help="Read the cases from a generated area's Parquet")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="First day of the table (default: 1 January after)")
]
CsvOpt = Annotated[
    Path | None, typer.Option("--csv", help="Also write the table as CSV (- for stdout)")
]


def _table_dict(table: GroupTable, rows: list[GroupTableRow]) -> dict[str, Any]:
    return {
        "method": table.method,
        "region": table.region,
        "valid_from": table.valid_from.isoformat(),
        "source": table.source,
        "detail": table.detail,
        "groups": table.groups,
    }


def _write_csv(rows: list[GroupTableRow], method: str, target: Path | None) -> None:
    if target is None:
        return
    text = to_csv(rows, method)
    if str(target) == "-":
        sys.stdout.write(text)
    else:
        target.write_text(text, encoding="utf-8")


def _build(
    method: str,
    years_text: str,
    region: str,
    area: Path | None,
    valid_from: str | None,
    db: str | None,
    as_json: bool,
    csv_out: Path | None,
) -> None:
    years = parse_years(years_text, as_json, most=21)
    on = parse_date(valid_from, "from", as_json) if valid_from else pp.default_from(years)
    with unit_of_work(db, as_json) as uow:
        pp.check_region(region)
        policy = policy_for(region)
        cases = (
            history_cases(area, years)
            if area is not None
            else pp.store_cases(uow, years, "" if region == NATIONAL else region)
        )
        if method == "dip":
            rows = pp.dip_rows(cases, years, policy, dt.date(years[-1], 1, 1))
        else:
            table = pp.grouping_table(uow, region, on)
            rows = pp.drg_rows(cases, years, table, policy, dt.date(years[-1], 1, 1))
        stored = pp.save_built(uow, method, region, on, years, rows)
    _write_csv(rows, method, csv_out)
    data = {**_table_dict(stored, rows), "cases": len(cases)}
    if csv_out is not None and str(csv_out) == "-":
        return
    emit(
        data,
        as_json,
        f"{method} {region} from {on}: {stored.groups} groups built from {len(cases)} cases "
        f"of {years[0]}-{years[-1]}",
    )


def _load(
    method: str, file: Path, region: str, valid_from: str, db: str | None, as_json: bool
) -> None:
    on = parse_date(valid_from, "from", as_json)
    with unit_of_work(db, as_json) as uow:
        stored = pp.load_file(uow, file, method, region, on)
    emit(
        _table_dict(stored, []),
        as_json,
        f"{method} {region} from {on}: {stored.groups} groups loaded ({stored.detail})",
    )


def _show(method: str, region: str, on_text: str | None, db: str | None, as_json: bool) -> None:
    on = parse_date(on_text, "on", as_json) if on_text else dt.date.today()
    with unit_of_work(db, as_json) as uow:
        table, rows = pp.table_in_force(uow, method, region, on)
    if not rows:
        fail(f"region: no {method} table of region {region} in force on {on}", as_json, 1)
    sys.stdout.write(to_csv(rows, method))
    if table is None:
        out.print(f"# shipped illustrative table (nothing stored for {region})", markup=False)


@dip_app.command("build")
@with_policy_dir
def dip_build(
    years: YearsOpt,
    region: RegionOpt = NATIONAL,
    area: AreaOpt = None,
    valid_from: FromOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    csv_out: CsvOpt = None,
) -> None:
    """Build the region's DIP groups from the discharged cases of --years and store them."""
    _build("dip", years, region, area, valid_from, db, as_json, csv_out)


@dip_app.command("load")
@with_policy_dir
def dip_load(
    file: Annotated[Path, typer.Argument(help="DIP group table (CSV)")],
    region: RegionOpt,
    valid_from: Annotated[str, typer.Option("--from", help="First day of this table")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a DIP group table file as the region's table from --from (all or nothing)."""
    _load("dip", file, region, valid_from, db, as_json)


@dip_app.command("show")
@with_policy_dir
def dip_show(
    region: RegionOpt = NATIONAL,
    on: Annotated[str | None, typer.Option("--on", help="The day (default today)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The region's DIP group table in force, as CSV."""
    _show("dip", region, on, db, as_json)


@drg_app.command("build")
@with_policy_dir
def drg_build(
    years: YearsOpt,
    region: RegionOpt = NATIONAL,
    area: AreaOpt = None,
    valid_from: FromOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    csv_out: CsvOpt = None,
) -> None:
    """Group the discharged cases of --years with the region's grouping table and store the
    table with each DRG's relative weight from them."""
    _build("drg", years, region, area, valid_from, db, as_json, csv_out)


@drg_app.command("load")
@with_policy_dir
def drg_load(
    file: Annotated[Path, typer.Argument(help="DRG grouping table (CSV)")],
    region: RegionOpt,
    valid_from: Annotated[str, typer.Option("--from", help="First day of this table")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a DRG grouping table file (with or without weights) as the region's table."""
    _load("drg", file, region, valid_from, db, as_json)


@drg_app.command("show")
@with_policy_dir
def drg_show(
    region: RegionOpt = NATIONAL,
    on: Annotated[str | None, typer.Option("--on", help="The day (default today)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The region's DRG grouping table in force (the shipped one when none is stored), as CSV."""
    _show("drg", region, on, db, as_json)


# The year-end commands (cli/dip_year.py): the DIP year-end and capitation's year.
dip_app.command("settle")(dip_year.settle)
dip_app.command("pay")(dip_year.pay)
dip_app.command("capitation")(dip_year.capitation)
