"""Small hand-made department files and registries for the comparison tests."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from yibao.domain.identity import make_national_id
from yibao.services.compare.files import LAYOUTS

D = dt.date
ON = D(2025, 12, 31)
AREA = "360100"


BIRTH = D(1985, 6, 15)


def nid(n: int, birth: dt.date = BIRTH) -> str:
    return make_national_id(AREA, birth, n)


def as_15(number: str) -> str:
    """The 15-digit legacy form of an 18-digit ID of someone born in the 1900s."""
    return number[:6] + number[8:17]


def swap(number: str, i: int) -> str:
    return number[:i] + number[i + 1] + number[i] + number[i + 2 :]


def write_csv(
    path: Path, kind: str, rows: list[dict[str, object]], header: list[str] | None = None
) -> Path:
    names = header or [c.name for c in LAYOUTS[kind]]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        for r in rows:
            w.writerow(["" if r.get(c) is None else str(r.get(c)) for c in names])
    return path
