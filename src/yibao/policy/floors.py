"""National floors and ceilings (国家底线): local values may be more generous, never less.

Checked whenever a region (with its overlays) is loaded, at every date where a value changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from yibao.policy.errors import ParameterError

if TYPE_CHECKING:
    from yibao.policy.params import Policy


@dataclass(frozen=True)
class Bound:
    """``path`` (glob ``*`` over one segment) must be >= low and <= high from ``since``."""

    path: str
    low: Decimal | None = None
    high: Decimal | None = None
    since: dt.date = dt.date(1900, 1, 1)
    money: bool = False
    note: str = ""


def _d(x: str) -> Decimal:
    return Decimal(x)


BOUNDS: tuple[Bound, ...] = (
    Bound("resident.incentives.continuous.amount", low=_d("1000"), money=True, note="GBF2024-38"),
    Bound("resident.incentives.zero_claim.amount", low=_d("1000"), money=True, note="GBF2024-38"),
    Bound("resident.waiting.fixed_months", low=_d("3"), note="GBF2024-38"),
    Bound(
        "resident.contribution.fiscal_subsidy",
        low=_d("670"),
        since=dt.date(2024, 1, 1),
        money=True,
        note="YBF2024-19",
    ),
    Bound(
        "resident.contribution.fiscal_subsidy",
        low=_d("700"),
        since=dt.date(2025, 1, 1),
        money=True,
        note="GBF2024-38",
    ),
    Bound(
        "resident.contribution.fiscal_subsidy",
        low=_d("40"),
        since=dt.date(2007, 1, 1),
        money=True,
        note="GF2007-20",
    ),
    Bound("employee.contribution.employer_rate", low=_d("0.06"), high=_d("0.10")),
    Bound("employee.contribution.employee_rate", low=_d("0.02"), high=_d("0.02")),
    Bound("catalog.category_b_prepay_ratio", low=_d("0.05"), high=_d("0.20")),
    Bound("critical_illness.bands.*.ratio", low=_d("0.60")),
    Bound("medical_assistance.classes.tekun.tiers.0.ratio", low=_d("0.70")),
    Bound("medical_assistance.classes.dibao.tiers.0.ratio", low=_d("0.70")),
    Bound("benefits.*.outpatient.basic.ratio.*", low=_d("0.50")),
    Bound("funds.adjustment.draw_ratio_max", high=_d("0.05")),
)


def _walk(value: Any, parts: list[str], trail: str) -> list[tuple[str, Any]]:
    """Resolve the remaining glob ``parts`` inside an already-typed value."""
    if not parts:
        return [(trail, value)]
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [head] if head in value else []
        return [hit for k in keys for hit in _walk(value[k], rest, f"{trail}.{k}")]
    if isinstance(value, list):
        idx = range(len(value)) if head == "*" else [int(head)] if head.isdigit() else []
        return [
            hit for i in idx if i < len(value) for hit in _walk(value[i], rest, f"{trail}[{i}]")
        ]
    return []


def _matches(policy: Policy, pattern: str, on: dt.date) -> list[tuple[str, str, Any]]:
    """(leaf path, reported path, value) for each match of a glob pattern on a date."""
    parts = pattern.split(".")
    leaf_paths = {p for layer in policy.layers for p in layer.leaves}
    hits: list[tuple[str, str, Any]] = []
    for leaf in sorted(leaf_paths):
        segs = leaf.split(".")
        if len(segs) > len(parts) or any(
            a != b and a != "*" for a, b in zip(parts, segs, strict=False)
        ):
            continue
        try:
            value = policy.get(leaf, on)
        except ParameterError:
            continue
        for shown, inner in _walk(value, parts[len(segs) :], leaf):
            hits.append((leaf, shown, inner))
    return hits


def check_floors(policy: Policy) -> None:
    """Raise ParameterError naming the file, the parameter and the floor that is broken."""
    dates = [d for d in policy.dates()] or [dt.date.today()]
    for bound in BOUNDS:
        for on in dates:
            if on < bound.since:
                continue
            for leaf, shown, value in _matches(policy, bound.path, on):
                if isinstance(value, bool) or not isinstance(value, int | Decimal):
                    continue
                number = Decimal(value) / 100 if bound.money else Decimal(value)
                broken = None
                if bound.low is not None and number < bound.low:
                    broken = f"below the national floor {bound.low}"
                if bound.high is not None and number > bound.high:
                    broken = f"above the national ceiling {bound.high}"
                if broken:
                    note = f" ({bound.note})" if bound.note else ""
                    raise ParameterError(
                        policy.source_file(leaf, on), shown, f"{number} on {on} is {broken}{note}"
                    )
