"""How the kernel is compiled: Numba ``njit``, cached on disk, releasing the GIL.

``compiled`` is the one decorator of the kernel's compiled functions (``kernel.layers``,
``kernel.single_pass``). Compiled machine code is cached in ``cache_dir()``: ``NUMBA_CACHE_DIR``
when set, else ``$XDG_CACHE_HOME/yibao/numba`` (``~/.cache/yibao/numba``), a directory of the
user's own, since the installed package's directory may not be writable (where that one is not
either, a directory of the system's temporary one). The first call in a
fresh environment compiles the kernel (seconds) and writes the cache; every later process loads
it. ``yibao serve`` warms it at start (``warm``). Importing this module imports Numba: the kernel
imports it only when it settles (``kernel.settle``), so commands that do not settle start
without it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


def cache_dir() -> Path:
    """Where compiled kernel code is cached (see the module docstring); a directory of the
    system's temporary one where the user's cannot be written."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    mine = Path(base) / "yibao" / "numba"
    if _writable(mine):
        return mine
    return Path(tempfile.gettempdir()) / f"yibao-numba-{os.getuid()}"


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir()))

import numba  # noqa: E402  (reads NUMBA_CACHE_DIR when imported)

config: Any = numba.config  # where Numba imported earlier, before the variable was set
config.CACHE_DIR = str(cache_dir())


#: ``_nrt=False``: no reference counting at all. The kernel's compiled functions allocate
#: nothing (the Python edge passes every array in); counting the references of the tables'
#: arrays, handed from layer to layer, cost most of a claim's time (atomic operations).
OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "inline": "always", "_nrt": False}


def compiled(fn: F) -> F:
    """``fn`` compiled in nopython mode, cached to disk, without the GIL (threads settle in
    parallel: ``kernel.stream``); inlined where a compiled function calls it, so that the
    kernel's pass is one loop without calls (nor reference counting of the tables' arrays)."""
    return cast(F, numba.njit(**OPTIONS)(fn))
