"""Arrow columns from numpy arrays without a Python loop per row."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.synth.dates import I64


def strings(names: tuple[str, ...], codes: I64) -> pa.Array:
    """``names[code]`` per row; a negative code is null."""
    missing = codes < 0
    index = pa.array(np.where(missing, 0, codes), mask=missing if missing.any() else None)
    return pa.array(names, type=pa.string()).take(index)


def dates(days: I64, null: int | None = None) -> pa.Array:
    """date32 from day numbers; ``null`` marks a missing date."""
    mask = (days == null) if null is not None else None
    values = np.where(mask, 0, days) if mask is not None else days
    return pa.array(values.astype(np.int32), type=pa.date32(), mask=mask)


def nullable_int(values: I64, null: int, type_: pa.DataType) -> pa.Array:
    mask = values == null
    return pa.array(np.where(mask, 0, values), type=type_, mask=mask if mask.any() else None)


def fixed_strings(chars: npt.NDArray[np.uint8]) -> pa.Array:
    """One ASCII string per row of an (n, width) byte matrix."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def string_lists(names: tuple[str, ...], flags: npt.NDArray[np.bool_]) -> pa.Array:
    """list<string> per row: the names whose column in the (n, len(names)) ``flags`` is set."""
    rows, cols = np.nonzero(flags)
    counts = np.bincount(rows, minlength=flags.shape[0])
    offsets = np.zeros(flags.shape[0] + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = pa.array(names, type=pa.string()).take(pa.array(cols.astype(np.int64)))
    return pa.ListArray.from_arrays(pa.array(offsets), values)
