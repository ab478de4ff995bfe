"""The command line (Typer): ``yibao calc``, ``yibao synth`` and the batch commands."""

from __future__ import annotations

import typer

from yibao import commands as store_commands
from yibao import demo
from yibao.api.cli import register as api_register
from yibao.calc.cli import app as calc_app
from yibao.synth.cli import app as synth_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="yibao: basic medical insurance")
app.add_typer(calc_app, name="calc")
app.add_typer(synth_app, name="synth")
demo.register(app)
store_commands.register(app)
api_register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
