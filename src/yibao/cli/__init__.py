"""The command line (Typer): ``yibao calc``, ``yibao synth``, ``yibao demo``, the commands of
the system of record and of the API service; one module per command group.

Command groups are imported when invoked (or listed by ``--help``), not at start-up: ``yibao
calc`` loads the calculator only (policy, rules, kernel), never the database or the web stack.
"""

from __future__ import annotations

from difflib import get_close_matches
from importlib import import_module
from typing import Any

import typer
from typer import _click
from typer._click.exceptions import UsageError
from typer.core import TyperGroup
from typer.main import get_group

#: Every command and command group: name -> (module, attribute), in the order of ``--help``.
#: The attribute is a Typer app (a group) or a command function.
COMMANDS: dict[str, tuple[str, str]] = {
    "calc": ("yibao.cli.calc", "app"),
    "synth": ("yibao.cli.synth", "app"),
    "demo": ("yibao.cli.demo", "demo"),
    "db": ("yibao.cli.db", "app"),
    "person": ("yibao.cli.person", "app"),
    "enrol": ("yibao.cli.enrol", "enrol"),
    "enrolment": ("yibao.cli.enrol", "enrolment_app"),
    "pay": ("yibao.cli.pay", "pay"),
    "maternity": ("yibao.cli.maternity", "maternity_app"),
    "chronic": ("yibao.cli.chronic", "app"),
    "commercial": ("yibao.cli.commercial", "app"),
    "epidemic": ("yibao.cli.epidemic", "app"),
    "visit": ("yibao.cli.settle", "visit_app"),
    "presettle": ("yibao.cli.settle", "presettle"),
    "settle": ("yibao.cli.settle", "settle"),
    "reverse": ("yibao.cli.settle", "reverse"),
    "catalogue": ("yibao.cli.catalogue", "app"),
    "dip": ("yibao.cli.dip", "dip_app"),
    "drg": ("yibao.cli.dip", "drg_app"),
    "ledger": ("yibao.cli.ledger", "ledger_app"),
    "funds": ("yibao.cli.funds", "funds_app"),
    "year-end": ("yibao.cli.ledger", "year_end"),
    "supervise": ("yibao.cli.supervise", "supervise"),
    "simulate": ("yibao.cli.simulate", "simulate"),
    "project": ("yibao.cli.project", "project"),
    "findings": ("yibao.cli.findings", "app"),
    "compare": ("yibao.cli.compare", "app"),
    "compare-review": ("yibao.cli.compare_review", "app"),
    "serve": ("yibao.cli.api", "serve"),
    "api": ("yibao.cli.api", "app"),
}


def load_command(name: str) -> _click.Command:
    """The click command of ``name``, its module imported now."""
    module, attribute = COMMANDS[name]
    found: Any = getattr(import_module(module), attribute)
    holder = typer.Typer(add_completion=False)
    if isinstance(found, typer.Typer):
        holder.add_typer(found, name=name)
    else:
        holder.command(name)(found)
    return get_group(holder).commands[name]


class LazyGroup(TyperGroup):
    """The main group: a command's module is imported the first time it is looked up."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # suggest among every command, not only those loaded
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    help="yibao: basic medical insurance",
)


@app.callback()
def _main() -> None:
    """yibao: basic medical insurance"""


def main() -> None:
    app()
