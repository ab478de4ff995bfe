"""``--policy-dir DIR`` (or ``$YIBAO_POLICY_DIR``) for every command that uses the parameters.

A bureau's own folder of region files, searched before the shipped ones (``yibao.policy``).
The folder is checked before the command runs: every file in it must load, else the command
exits with status 2 and one line naming the file, the parameter path and the reason.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from yibao.policy import POLICY_DIR_ENV, ParameterError, check_policy_dir, use_policy_dir

F = TypeVar("F", bound=Callable[..., Any])

PolicyDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy-dir",
        envvar=POLICY_DIR_ENV,
        show_envvar=True,
        help="Your own folder of region parameter files, searched before the shipped ones",
    ),
]


def checked_policy_dir(folder: Path | None) -> Path | None:
    """The folder, absolute, once every file in it loads; else exit 2 with one line."""
    if folder is None:
        return None
    try:
        check_policy_dir(folder)
    except ParameterError as exc:
        typer.echo(f"error: --policy-dir: {exc}", err=True)
        raise typer.Exit(2) from None
    return folder.resolve()


def with_policy_dir(func: F) -> F:
    """Add ``--policy-dir`` to a Typer command: the command runs with that folder in use."""
    signature = inspect.signature(func, eval_str=True)
    extra = inspect.Parameter(
        "policy_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=PolicyDirOpt
    )

    @functools.wraps(func)
    def command(*args: Any, policy_dir: Path | None = None, **kwargs: Any) -> Any:
        folder = checked_policy_dir(policy_dir)
        with use_policy_dir(folder):
            return func(*args, **kwargs)

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), extra]
    )
    command.__annotations__ = {**func.__annotations__, "policy_dir": PolicyDirOpt}
    return command  # type: ignore[return-value]
