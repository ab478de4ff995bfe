"""``yibao demo``: what the embedded default shows on a fresh machine.

Settles the shipped example scenarios through the calculator and shows the layers as a table.
"""

from __future__ import annotations

from importlib import resources

import typer
from rich.console import Console
from rich.table import Table

from yibao.calc.scenario import read_scenario
from yibao.calc.settle import settle_scenario
from yibao.policy import Policy, available_regions

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


def demo() -> None:
    """Show the shipped regions and settle the example scenario layer by layer."""
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
