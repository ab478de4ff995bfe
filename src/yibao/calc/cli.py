"""``yibao calc``: the offline calculator (placeholder until the kernel lands)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Offline calculator over the policy parameters")
