"""National floors and ceilings (国家底线): local values may be more generous, never less.

Checked whenever a region (with its overlays) is loaded, at every date where a value changes and
at every date from which a bound applies (a bound holds only from the date of its document).
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
    """``path`` (glob ``*`` over one segment) must be >= low and <= high from ``since``.

    ``since`` is the date from which the document that set the bound applies: its own date, or
    for a yearly financing notice 1 January of the coverage year it sets standards for. Values in
    force before it are not held to the bound (a 2010 critical illness ratio of 50% is history,
    not a breach of the 2019 floor of 60%).
    """

    path: str
    low: Decimal | None = None
    high: Decimal | None = None
    since: dt.date = dt.date(1900, 1, 1)
    money: bool = False
    note: str = ""


def _d(x: str) -> Decimal:
    return Decimal(x)


#: The documents and the dates they apply from (ids as in regions/000000.yaml).
GF1998_44 = dt.date(1998, 12, 14)  # State Council decision on urban employee insurance
GF2007_20 = dt.date(2007, 7, 10)  # urban resident pilot, dated in the text (spec/sources)
GBF2015_57 = dt.date(2015, 7, 28)  # critical illness insurance in full: ratio 50% and above
GBF2021_14 = dt.date(2021, 4, 13)  # employee outpatient mutual aid: ratio from 50%
GBF2021_42 = dt.date(2021, 10, 28)  # medical assistance for major and serious diseases
GBF2024_38_FROM = dt.date(2025, 1, 1)  # incentives and waiting periods "from 2025"
SP2012 = dt.date(2012, 4, 28)  # special provisions on labour protection of female employees

#: National per-capita fiscal subsidy floors of the yearly resident notices (year, yuan, source).
#: Years whose notice was not found (2008 and 2009: 80, see ASSUMED in 000000.yaml) set none.
SUBSIDY_FLOORS: tuple[tuple[int, str, str], ...] = (
    (2010, "120", "NCMS2011"),
    (2011, "200", "NCMS2011"),
    (2012, "240", "NCMS2012"),
    (2013, "280", "NCMS2013"),
    (2014, "320", "FIN2014"),
    (2015, "380", "NCMS2015"),
    (2016, "420", "RES2016"),
    (2017, "450", "RES2017"),
    (2018, "490", "RES2018"),
    (2019, "520", "RES2019"),
    (2020, "550", "RES2020"),
    (2021, "580", "RES2021"),
    (2022, "610", "RES2022"),
    (2023, "640", "YBF2024-19"),
    (2024, "670", "YBF2024-19"),
    (2025, "700", "SPEC-RULES"),
)

BOUNDS: tuple[Bound, ...] = (
    Bound(
        "resident.incentives.continuous.amount",
        low=_d("1000"),
        since=GBF2024_38_FROM,
        money=True,
        note="GBF2024-38",
    ),
    Bound(
        "resident.incentives.zero_claim.amount",
        low=_d("1000"),
        since=GBF2024_38_FROM,
        money=True,
        note="GBF2024-38",
    ),
    Bound("resident.waiting.fixed_months", low=_d("3"), since=GBF2024_38_FROM, note="GBF2024-38"),
    Bound(
        "resident.contribution.fiscal_subsidy",
        low=_d("40"),
        since=GF2007_20,
        money=True,
        note="GF2007-20",
    ),
    *(
        Bound(
            "resident.contribution.fiscal_subsidy",
            low=_d(low),
            since=dt.date(year, 1, 1),
            money=True,
            note=source,
        )
        for year, low, source in SUBSIDY_FLOORS
    ),
    Bound(
        "employee.contribution.employer_rate",
        low=_d("0.06"),
        high=_d("0.10"),
        since=GF1998_44,
        note="GF1998-44",
    ),
    Bound(
        "employee.contribution.employee_rate",
        low=_d("0.02"),
        high=_d("0.02"),
        since=GF1998_44,
        note="GF1998-44",
    ),
    Bound("catalog.category_b_prepay_ratio", low=_d("0.05"), high=_d("0.20"), note="SPEC-RULES"),
    Bound("critical_illness.bands.*.ratio", low=_d("0.50"), since=GBF2015_57, note="GBF2015-57"),
    Bound(
        "critical_illness.bands.*.ratio", low=_d("0.60"), since=dt.date(2019, 1, 1), note="RES2019"
    ),
    Bound(
        "medical_assistance.classes.tekun.tiers.0.ratio",
        low=_d("0.70"),
        since=GBF2021_42,
        note="GBF2021-42",
    ),
    Bound(
        "medical_assistance.classes.dibao.tiers.0.ratio",
        low=_d("0.70"),
        since=GBF2021_42,
        note="GBF2021-42",
    ),
    Bound(
        "benefits.*.outpatient.basic.ratio.*", low=_d("0.50"), since=GBF2021_14, note="GBF2021-14"
    ),
    # maternity leave (产假): the national days are a floor; a region may add, never take away
    Bound("maternity.leave_days.base", low=_d("98"), high=_d("365"), since=SP2012, note="SP2012"),
    Bound("maternity.leave_days.difficult", low=_d("15"), high=_d("365"), note="SP2012"),
    Bound("maternity.leave_days.per_extra_baby", low=_d("15"), high=_d("365"), note="SP2012"),
    Bound("maternity.leave_days.local_extra", low=_d("0"), high=_d("365"), note="SP2012"),
    Bound("funds.adjustment.draw_ratio_max", high=_d("0.05"), note="SPEC-RULES"),
    Bound("funds.adjustment.draw_ratio", high=_d("0.05"), note="SPEC-RULES"),
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


def _leaves_for(pattern: str, leaf_paths: list[str]) -> list[tuple[str, list[str]]]:
    """The leaves a glob pattern can reach, with the pattern's parts left inside each leaf."""
    parts = pattern.split(".")
    found: list[tuple[str, list[str]]] = []
    for leaf in leaf_paths:
        segs = leaf.split(".")
        if len(segs) > len(parts) or any(
            a != b and a != "*" for a, b in zip(parts, segs, strict=False)
        ):
            continue
        found.append((leaf, parts[len(segs) :]))
    return found


def _matches(
    policy: Policy, leaves: list[tuple[str, list[str]]], on: dt.date
) -> list[tuple[str, str, Any]]:
    """(leaf path, reported path, value) for each match of a glob pattern on a date."""
    hits: list[tuple[str, str, Any]] = []
    for leaf, rest in leaves:
        try:
            value = policy.get(leaf, on)
        except ParameterError:
            continue
        for shown, inner in _walk(value, rest, leaf):
            hits.append((leaf, shown, inner))
    return hits


def check_floors(policy: Policy) -> None:
    """Raise ParameterError naming the file, the parameter and the floor that is broken."""
    # every date where a value changes, and every date from which a bound applies: a value in
    # force when a later floor starts must meet it too
    dates = sorted(set(policy.dates()) | {b.since for b in BOUNDS if b.since.year > 1900})
    leaf_paths = sorted({p for layer in policy.layers for p in layer.leaves})
    reach: dict[str, list[tuple[str, list[str]]]] = {}
    for bound in BOUNDS:
        if bound.path not in reach:
            reach[bound.path] = _leaves_for(bound.path, leaf_paths)
        leaves = reach[bound.path]
        if not leaves:
            continue
        for on in dates:
            if on < bound.since:
                continue
            for leaf, shown, value in _matches(policy, leaves, on):
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
