"""The region's list of outpatient chronic and special diseases (门诊慢特病病种), dated like every
parameter (``chronic_diseases.<code>``): each disease's name, its class (paid with the chronic
benefit's ratios, or like inpatient care), its annual limit on what the basic fund pays for it,
and whether the chronic benefit's annual deductible applies to it (docs/parameters.md)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from yibao.policy.errors import ParameterError
from yibao.policy.params import Policy
from yibao.policy.vocab import ChronicClass

ROOT = "chronic_diseases"
#: A disease code: letters and digits, 1 to 20 (the shipped list uses ICD-10 categories).
CODE = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,19}")


@dataclass(frozen=True)
class ChronicDisease:
    """One listed disease in force on a date; ``annual_cap`` in fen, None: no limit of its own."""

    code: str
    name: str
    cls: ChronicClass
    annual_cap: int | None
    deductible_applies: bool


def chronic_diseases(policy: Policy, on: dt.date) -> dict[str, ChronicDisease]:
    """The diseases listed on ``on`` by code (empty when the region lists none)."""
    if not policy.has(ROOT, on):
        return {}
    out: dict[str, ChronicDisease] = {}
    for code, entry in policy.node(ROOT, on).items():
        path = f"{ROOT}.{code}"
        if not CODE.fullmatch(code):
            raise ParameterError(policy.source_file(path, on), path, "not a disease code")
        if not isinstance(entry, dict):
            raise ParameterError(policy.source_file(path, on), path, "expected a disease entry")
        cls = entry.get("class", ChronicClass.CHRONIC.value)
        if cls not in tuple(ChronicClass):
            raise ParameterError(
                policy.source_file(path, on),
                f"{path}.class",
                f"must be one of {', '.join(ChronicClass)}, got {cls!r}",
            )
        cap = entry.get("annual_cap")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise ParameterError(
                policy.source_file(path, on), f"{path}.annual_cap", "expected an amount"
            )
        applies = entry.get("annual_deductible_applies", True)
        if not isinstance(applies, bool):
            raise ParameterError(
                policy.source_file(path, on),
                f"{path}.annual_deductible_applies",
                "expected true or false",
            )
        out[code] = ChronicDisease(
            code, str(entry.get("name", code)), ChronicClass(cls), cap, applies
        )
    return out


def listed_codes(policy: Policy, dates: list[dt.date]) -> tuple[str, ...]:
    """Every code listed on any of ``dates``, in first-listed order (the kernel's disease
    axis)."""
    codes: list[str] = []
    for on in dates:
        codes += [c for c in chronic_diseases(policy, on) if c not in codes]
    return tuple(codes)
