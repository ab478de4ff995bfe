"""``yibao demo``: what the embedded default shows on a fresh machine.

On first run it generates a small synthetic pooling area (``DEMO_PERSONS`` persons of 360100,
2025, a fixed seed) into the data folder (``$YIBAO_DATA_DIR``, default ``./data/demo``) and loads
it into the embedded SQLite database there (``yibao.sqlite``); later runs reuse both. It shows
the shipped parameter sets, the area's figures beside the published ones, the fund balances
from the ledger, and settles the shipped example scenario layer by layer.
``$YIBAO_DEMO_PERSONS`` changes the size of the area (the tests use a few hundred).
"""

from __future__ import annotations

import os
import time
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from yibao.calc.scenario import read_scenario
from yibao.calc.settle import settle_scenario
from yibao.policy import Policy, available_regions, fen_to_yuan
from yibao.services import ledger
from yibao.store.uow import UnitOfWork
from yibao.synth.cli import summary_table
from yibao.synth.config import SynthConfig
from yibao.synth.load import AreaLoadRefused, load_area
from yibao.synth.summary import summarize
from yibao.synth.writer import generate, read_manifest

DATA_ENV = "YIBAO_DATA_DIR"
PERSONS_ENV = "YIBAO_DEMO_PERSONS"
DEFAULT_DATA = Path("data") / "demo"
DEMO_REGION, DEMO_YEAR, DEMO_SEED, DEMO_PERSONS = "360100", 2025, 20250101, 5_000

LAYERS = (
    "medfee_sumamt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)


def example(name: str) -> str:
    return str(resources.files("yibao.calc") / "examples" / f"{name}.yaml")


def data_folder() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


def demo_config() -> SynthConfig:
    persons = int(os.environ.get(PERSONS_ENV) or DEMO_PERSONS)
    return SynthConfig(DEMO_REGION, persons, DEMO_YEAR, DEMO_SEED)


def _same_area(folder: Path, config: SynthConfig) -> bool:
    if not (folder / "meta.json").exists():
        return False
    meta = read_manifest(folder)
    wanted = (config.region, config.persons, config.year, config.seed, config.chunk_size)
    found = (meta["region"], meta["persons"], meta["year"], meta["seed"], meta["chunk_size"])
    return wanted == found


def prepare_area(console: Console) -> tuple[Path, str]:
    """The demo area and its database URL: generated and loaded on first use, then reused."""
    folder = data_folder()
    config = demo_config()
    database = folder / "yibao.sqlite"
    url = f"sqlite:///{database}"
    started = time.perf_counter()
    if not _same_area(folder, config):
        console.print(
            f"Generating a synthetic area: {config.persons:,} persons of {config.region}, "
            f"{config.year}, seed {config.seed} -> {folder}"
        )
        for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            stale.unlink(missing_ok=True)
        generate(folder, config)
    try:
        report = load_area(folder, url)
    except AreaLoadRefused as exc:
        console.print(f"[red]error:[/red] {exc} (remove {folder} to start afresh)")
        raise typer.Exit(2) from exc
    if report.parts_loaded:
        console.print(
            f"Loaded into {database}: {report.persons_inserted:,} persons, "
            f"{sum(report.contributions.values()):,} contributions, "
            f"{report.transactions:,} ledger transactions "
            f"({time.perf_counter() - started:.1f} s)"
        )
    else:
        console.print(f"Reusing the synthetic area in {folder} (database {database})")
    return folder, url


def funds_table(url: str, area: str) -> Table:
    uow = UnitOfWork.for_url(url)
    report = ledger.funds_report(uow, area)
    check = ledger.reconcile(uow)
    state = "balanced" if check.ok else "NOT balanced"
    table = Table(
        title=f"Fund balances of {area} from the ledger, yuan "
        f"({check.transactions:,} transactions, {state})"
    )
    table.add_column("account")
    table.add_column("balance", justify="right")
    for line in report.lines:
        table.add_row(line.code, fen_to_yuan(line.balance))
    table.add_row(
        f"personal accounts ({report.personal_accounts:,})", fen_to_yuan(report.personal_total)
    )
    return table


def demo() -> None:
    """Show the shipped regions, a synthetic area and its funds, and settle the example
    scenario layer by layer."""
    console = Console()
    regions = Table(title="Shipped parameter sets")
    regions.add_column("region")
    regions.add_column("name")
    regions.add_column("parent")
    for code in available_regions():
        policy = Policy(code)
        parent = policy.chain[1].region if len(policy.chain) > 1 else ""
        regions.add_row(code, policy.name, parent)
    console.print(regions)
    folder, url = prepare_area(console)
    summary = summarize(folder)
    console.print(summary_table(summary))
    for key, source in summary["sources"].items():
        console.print(f"{key}: {source}", highlight=False)
    console.print(funds_table(url, DEMO_REGION))
    path = example("settle")
    result = settle_scenario(read_scenario(path))
    rows = result["settlements"]
    table = Table(title="yibao calc settle (the example scenario), yuan")
    table.add_column("layer")
    for s in rows:
        table.add_column(f"{s['setl_time']} {s['med_type']}", justify="right")
    for field in LAYERS:
        table.add_row(field, *(s[field] for s in rows))
    console.print(table)
    console.print(f"scenario: {path}")
    console.print("Try: yibao calc settle|waiting|incentives SCENARIO  (see README.md)")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
