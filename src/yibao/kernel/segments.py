"""The kernel's array types and its one rounding on arrays.

The settlement kernel settles claims sorted by person, one person's claims (a *segment*) after
the other, in one compiled pass (``kernel.single_pass``); what NumPy code of the kernel shares
(``kernel.classify``, the edges) is here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def round_div(x: I64, d: int | I64) -> I64:
    """x / d rounded half up (x ≥ 0): the one rounding of a layer."""
    return (x + d // 2) // d
