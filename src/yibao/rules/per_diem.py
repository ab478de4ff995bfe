"""Per-diem payment (按床日付费): which inpatient cases are paid by bed day instead of by their
DIP group, and how many bed days they count. Pure functions of the parameters
``provider_payment.per_diem.*`` and a case.

A case is paid by bed day when its stay reaches ``long_stay_days`` (60 by default) or its
principal diagnosis starts with one of ``listed_diagnoses`` (psychiatric F20–F29,
rehabilitation Z50, palliative care Z51.5 by default). Its group is the listed prefix (or, for
a long stay, the diagnosis' three-character category) with ``:bed`` appended; the group table
gives its points per day (``per_day``) and the case's base points are ``per_day × days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

#: The suffix of a per-diem group's code (``F20:bed``), as back-office.md §3 writes them.
BED_SUFFIX = ":bed"


def bed_days(admitted: dt.date, discharged: dt.date) -> int:
    """Bed days of a stay (住院床日): discharge date − admission date, a same-day stay
    counting one day (the day of discharge is not counted, as hospitals bill beds)."""
    if discharged < admitted:
        raise ValueError(f"discharged {discharged} before admitted {admitted}")
    return max((discharged - admitted).days, 1)


def listed_prefix(diagnosis: str, prefixes: Sequence[str]) -> str | None:
    """The longest of ``prefixes`` the principal diagnosis (ICD-10) starts with, or None.
    Codes compare without their dots and in upper case (``f20.9`` is ``F209``)."""
    code = diagnosis.replace(".", "").upper()
    best: str | None = None
    for p in prefixes:
        plain = p.replace(".", "").upper()
        if plain and code.startswith(plain) and (best is None or len(plain) > len(best)):
            best = p
    return best


def per_diem_group(
    diagnosis: str, days: int, long_stay_days: int, prefixes: Sequence[str]
) -> str | None:
    """The per-diem group of a case (``<prefix>:bed``) when it is paid by bed day, else None:
    a listed diagnosis (psychiatric, rehabilitation, hospice) whatever the stay, or a stay of
    at least ``long_stay_days`` (its group the diagnosis' ICD-10 category, ``I63:bed``)."""
    found = listed_prefix(diagnosis, prefixes)
    if found is not None:
        return found + BED_SUFFIX
    if days >= long_stay_days:
        return diagnosis.replace(".", "").upper()[:3] + BED_SUFFIX
    return None
