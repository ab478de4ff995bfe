"""How the kernel is compiled: Numba ``njit``, cached on disk, releasing the GIL.

``compiled`` is the one decorator of the kernel's compiled functions (``kernel.layers``,
``kernel.single_pass``). Compiled machine code is cached in ``CACHE``, a directory per version of
the kernel's sources (``source_digest``) in ``cache_dir()``: ``NUMBA_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/yibao/numba`` (``~/.cache/yibao/numba``), a directory of the
user's own, since the installed package's directory may not be writable (where that one is not
either, a directory of the system's temporary one). The first call in a
fresh environment compiles the kernel (seconds) and writes the cache; every later process loads
it. ``yibao serve`` warms it at start (``warm``). Importing this module imports Numba: the kernel
imports it only when it settles (``kernel.settle``), so commands that do not settle start
without it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from yibao.kernel.segments import I64

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


def source_digest() -> str:
    """A digest of the kernel's sources. Numba checks a cached function against its own
    module's file only, not against the functions it inlined from other modules (the layers):
    the cache of each version of the sources is kept apart, so a changed layer is compiled
    again."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted([*root.glob("*.py"), *root.glob("layers/*.py")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: Where this version of the kernel's compiled code is cached.
CACHE = cache_dir() / source_digest()

import numba  # noqa: E402
import numba.extending  # noqa: E402

config: Any = numba.config  # read where a function is decorated
config.CACHE_DIR = str(CACHE)


#: ``_nrt=False``: no reference counting at all. The kernel's compiled functions allocate
#: nothing (the Python edge passes every array in); counting the references of the tables'
#: arrays, handed from layer to layer, cost most of a claim's time (atomic operations).
OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "inline": "always", "_nrt": False}


@numba.extending.intrinsic
def _c_view(typingctx: Any, buf: Any, start: Any, shape: Any) -> Any:
    """In compiled code: the C-contiguous array of ``shape`` (a tuple) whose items begin at
    ``buf[start]``, a view of the 1-d ``buf`` made without checks (the caller's layout must fit
    ``buf``: ``kernel.single_pass.unpack``). ``reshape`` checks and normalises the shape first,
    ~20 ns a view: a one-claim call unpacks 27 of them."""
    from numba.core import cgutils, types
    from numba.np import arrayobj

    make_array: Any = arrayobj.make_array
    populate_array: Any = arrayobj.populate_array
    unpack_tuple: Any = cgutils.unpack_tuple

    view = types.Array(buf.dtype, shape.count, "C")

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        source = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(view)(context, builder)
        dims = unpack_tuple(builder, args[2])
        item = context.get_abi_sizeof(context.get_data_type(buf.dtype))
        itemsize = context.get_constant(types.intp, item)
        strides: list[Any] = []
        step = itemsize
        for dim in reversed(dims):
            strides.insert(0, step)
            step = builder.mul(step, dim)
        populate_array(
            out,
            data=builder.gep(source.data, [args[1]]),
            shape=dims,
            strides=strides,
            itemsize=itemsize,
            meminfo=source.meminfo,
            parent=source.parent,
        )
        return out._getvalue()

    return view(buf, start, shape), codegen


#: ``_c_view`` as compiled code calls it: ``c_view(buf, start, shape)``.
c_view = cast(Callable[[Any, int, tuple[int, ...]], I64], _c_view)


def compiled(fn: F) -> F:
    """``fn`` compiled in nopython mode, cached to disk, without the GIL (threads settle in
    parallel: ``kernel.stream``); inlined where a compiled function calls it, so that the
    kernel's pass is one loop without calls (nor reference counting of the tables' arrays)."""
    return cast(F, numba.njit(**OPTIONS)(fn))
