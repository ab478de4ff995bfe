"""``yibao calc``: the offline calculator. Scenario in (YAML/JSON, path or ``-``), JSON out.
It imports only the calculator (policy, rules, kernel): no database, no web stack.

A bad scenario exits with status 2 and one line on standard error naming the field and the reason.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import typer

from yibao.calc.dip import dip_scenario, drg_scenario
from yibao.calc.funds import funds_scenario
from yibao.calc.incentives import incentives_scenario
from yibao.calc.maternity import maternity_scenario
from yibao.calc.scenario import ScenarioError, policy_error, read_scenario
from yibao.calc.settle import settle_scenario
from yibao.calc.waiting import waiting_scenario
from yibao.cli.options import with_policy_dir
from yibao.policy import ParameterError

app = typer.Typer(no_args_is_help=True, help="Offline calculator over the policy parameters")

SCENARIO = typer.Argument(..., help="scenario file (YAML or JSON), or - for standard input")


def _run(source: str, compute: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    try:
        try:
            result = compute(read_scenario(source))
        except ParameterError as exc:  # found while compiling or applying the parameters
            raise policy_error(exc) from exc
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


@app.command("settle")
@with_policy_dir
def settle_command(scenario: str = SCENARIO) -> None:
    """Settle one person's claims of one coverage year through every layer."""
    _run(scenario, settle_scenario)


@app.command()
@with_policy_dir
def waiting(scenario: str = SCENARIO) -> None:
    """The waiting period of an enrolment."""
    _run(scenario, waiting_scenario)


@app.command()
@with_policy_dir
def incentives(scenario: str = SCENARIO) -> None:
    """The critical illness cap of a year with the incentive raises earned before it."""
    _run(scenario, incentives_scenario)


@app.command()
@with_policy_dir
def funds(scenario: str = SCENARIO) -> None:
    """Reserve months and warnings of a province's cities, and the adjustment fund's draws and
    gap shares of the year."""
    _run(scenario, funds_scenario)


@app.command()
@with_policy_dir
def dip(scenario: str = SCENARIO) -> None:
    """DIP (按病种分值): a year's cases pointed, the point value, each case's standard and fund
    due, each institution's settlement against its advances."""
    _run(scenario, dip_scenario)


@app.command()
@with_policy_dir
def drg(scenario: str = SCENARIO) -> None:
    """DRG (按疾病诊断相关分组): as ``calc dip`` with relative weights and the drg parameters."""
    _run(scenario, drg_scenario)


@app.command()
@with_policy_dir
def maternity(scenario: str = SCENARIO) -> None:
    """The maternity allowance (生育津贴) of one birth."""
    _run(scenario, maternity_scenario)
