"""A synthetic history (``yibao synth --years``: one area per year in ``DIR/<year>/``) read as
the discharged cases of several years, for ``yibao dip build --area DIR`` and ``yibao drg build``.
A folder holding one area (``DIR/claims/``) is read as it is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from yibao.services.provider_payment import Cases, area_cases


def history_cases(folder: Path | str, years: Sequence[int] | None = None) -> Cases:
    """The cases of ``years`` (None: all) from ``folder``: one area, or a history of areas in
    year folders (each year's cases from its own folder)."""
    root = Path(folder)
    if (root / "claims").is_dir():
        return area_cases(root, years)
    found = (
        sorted(
            int(p.name)
            for p in root.iterdir()
            if p.name.isdigit()
            and (p / "claims").is_dir()
            and (years is None or int(p.name) in years)
        )
        if root.is_dir()
        else []
    )
    if not found:
        return area_cases(root, years)  # refused there, naming the folder
    parts = [area_cases(root / str(y), [y]) for y in found]
    return Cases(
        year=np.concatenate([c.year for c in parts]),
        diagnosis=pa.concat_arrays([c.diagnosis for c in parts]),
        procedure=pa.concat_arrays([c.procedure for c in parts]),
        diagnoses=pa.concat_arrays([c.diagnoses for c in parts]),
        cost=np.concatenate([c.cost for c in parts]),
        age=np.concatenate([c.age for c in parts]),
        institution=pa.concat_arrays([c.institution for c in parts]),
    )
