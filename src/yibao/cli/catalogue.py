"""``yibao catalogue``: load a region's catalogue (医保目录) file as a new version from a day,
and show an item's versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.cli.common import DbOpt, JsonOpt, database, emit, fail, out, parse_date
from yibao.cli.options import with_policy_dir
from yibao.policy import NATIONAL
from yibao.policy.catalogue import PRICE_SCALE, QTY_SCALE, CatalogueItem
from yibao.services import catalogue
from yibao.store.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True, help="The catalogue (医保目录): load a file, show an item")

RegionOpt = Annotated[str, typer.Option("--region", help="Six-digit region code")]


def _units(value: int | None, scale: int) -> str | None:
    if value is None:
        return None
    whole, part = divmod(value, scale)
    digits = len(str(scale)) - 1
    return f"{whole}.{part:0{digits}d}".rstrip("0").rstrip(".")


def item_dict(item: CatalogueItem) -> dict[str, Any]:
    """An item version as printed: prices in yuan, quantities in the item's unit."""
    return {
        "code": item.code,
        "name": item.name,
        "kind": item.kind.value,
        "class": item.item_class.value,
        "unit": item.unit,
        "price_limit": _units(item.price_limit, PRICE_SCALE),
        "typical_price": _units(item.typical_price, PRICE_SCALE),
        "sex": {0: None, 1: "M", 2: "F"}[item.sex],
        "min_age": item.min_age,
        "max_age": item.max_age,
        "min_level": item.min_level,
        "max_per_day": _units(item.max_per_day, QTY_SCALE),
        "max_per_stay": _units(item.max_per_stay, QTY_SCALE),
        "indication": item.indication or None,
        "valid_from": item.valid_from.isoformat() if item.valid_from else None,
        "valid_to": item.valid_to.isoformat() if item.valid_to else None,
        "fee_type": item.fee_type or None,
        "procedure": item.procedure or None,
    }


@app.command("load")
@with_policy_dir
def load(
    file: Annotated[Path, typer.Argument(help="Catalogue file: CSV or .parquet")],
    region: RegionOpt,
    valid_from: Annotated[str, typer.Option("--from", help="First day of this version")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load FILE as the region's catalogue from --from on (all or nothing; the same file and
    day again changes nothing)."""
    on = parse_date(valid_from, "from", as_json)
    with database(db, as_json) as engine:
        done = catalogue.load(UnitOfWork.for_engine(engine), file, region, on)
    data = {
        "region": done.load.region,
        "valid_from": done.load.valid_from.isoformat(),
        "file": done.load.file_name,
        "sha256": done.load.sha256,
        "items": done.load.items,
        "ended_before": done.ended_before,
        "unchanged": done.unchanged,
    }
    what = "already loaded, unchanged" if done.unchanged else "loaded"
    emit(
        data,
        as_json,
        f"catalogue {done.load.region} from {done.load.valid_from}: {done.load.items} items "
        f"{what} ({done.load.file_name})",
    )


@app.command("show")
@with_policy_dir
def show(
    code: Annotated[str, typer.Argument(help="National code of the item")],
    region: RegionOpt = NATIONAL,
    on: Annotated[
        str | None, typer.Option("--on", help="Only the version in force that day")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The versions of an item in the region's catalogue (its own, its province's, the
    national one; the shipped file when the store holds none)."""
    day = parse_date(on, "on", as_json) if on is not None else None
    with database(db, as_json) as engine:
        source, versions = catalogue.show(UnitOfWork.for_engine(engine), code, region, day)
    if not versions:
        when = f" on {day}" if day else ""
        fail(f"code: {code!r} is not in the catalogue of region {region}{when}", as_json, 1)
    shown = [item_dict(v) for v in versions]
    data = {"region": region, "source": source, "versions": shown}
    if as_json:  # no personal data here: printed as it is (``emit`` would mask "name")
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for v in shown:
        limits = ", ".join(f"{k} {v[k]}" for k in _LIMITS if v[k] is not None)
        line = (
            f"{v['code']} {v['name']} ({v['kind']}, class {v['class']}, per {v['unit']}) "
            f"{v['valid_from'] or '…'} .. {v['valid_to'] or '…'} from {source}"
        )
        out.print(line + (f": {limits}" if limits else ""), markup=False)


_LIMITS = (
    "price_limit",
    "sex",
    "min_age",
    "max_age",
    "min_level",
    "max_per_day",
    "max_per_stay",
    "indication",
)
