"""What one claim of the reference settlement reads from the parameters, on the claim's date.

Read through ``yibao.policy.Policy`` only (amounts in fen, rates as ``Decimal``), never through
the kernel's compiled tables. Each function answers one question of rules.md §6 /
parameters.md in the words of those documents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from yibao.policy import Policy
from yibao.policy.vocab import MED_TYPES

#: docs/rules.md: a med type without benefits of its own is paid like another one.
PAID_LIKE = {"maternity": "inpatient", "pharmacy": "outpatient"}
ONE = Decimal(1)


@dataclass(frozen=True)
class Band:
    """Paid at ``ratio`` up to ``upto`` fen (None: no upper edge)."""

    upto: int | None
    ratio: Decimal


def half_up(x: Decimal) -> int:
    """To the fen, half up (rules.md §1: once per layer)."""
    return int(x.quantize(ONE, rounding=ROUND_HALF_UP))


def rate(value: Any) -> Decimal:
    return Decimal(str(value))


def bands(value: Any, bonus: Decimal = Decimal(0)) -> list[Band]:
    """A ratio or a list of ``{upto, ratio}`` bands; a bonus adds points, up to 100%."""
    if isinstance(value, list):
        return [Band(b.get("upto"), min(ONE, rate(b["ratio"]) + bonus)) for b in value]
    return [Band(None, min(ONE, rate(value) + bonus))]


def entries(scheme: str) -> tuple[str, ...]:
    """Whose ``benefits.<scheme>`` entries a scheme is paid by, its own last (they win):
    retirees inherit the employees' entries where they set none."""
    return ("employee", "retiree") if scheme == "retiree" else (scheme,)


def paid_as(policy: Policy, scheme: str, med: str, on: dt.date) -> str:
    """The med type whose benefits pay ``med``: itself if the scheme has an entry for it."""
    while med in PAID_LIKE and not any(
        policy.has(f"benefits.{s}.{med}.basic", on) for s in entries(scheme)
    ):
        med = PAID_LIKE[med]
    return med


def basic_entry(policy: Policy, scheme: str, med: str, on: dt.date) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for s in entries(scheme):
        if policy.has(f"benefits.{s}.{med}.basic", on):
            values.update(policy.node(f"benefits.{s}.{med}.basic", on))
    return values


@dataclass(frozen=True)
class Basic:
    """The basic pooling fund's terms for a claim (``benefits.<scheme>.<med>.basic``)."""

    paid_as: str  # the med type whose entry pays (and whose annual deductible is shared)
    per_admission: bool  # a deductible per admission (else per year)
    deductible: int  # at the claim's level (per admission) or for the year
    factors: tuple[Decimal, ...]  # repeat_admission_factors: admission 1, 2, ..., the last for more
    bands: list[Band]
    on_excess: bool  # band_basis: excess
    cap_group: str
    annual_cap: int | None  # of the cap group (None: no cap)


def basic(policy: Policy, scheme: str, med: str, level: int, on: dt.date) -> Basic:
    source = paid_as(policy, scheme, med, on)
    entry = basic_entry(policy, scheme, source, on)
    ratio = entry["ratio"]
    per_level = ratio.get(f"level{level}") if isinstance(ratio, dict) else ratio
    per_admission = "annual_deductible" not in entry
    deductible = (
        int(entry["deductible"][f"level{level}"])
        if per_admission
        else int(entry["annual_deductible"])
    )
    group = str(entry.get("cap_group", source))
    return Basic(
        paid_as=source,
        per_admission=per_admission,
        deductible=deductible,
        factors=tuple(rate(f) for f in entry.get("repeat_admission_factors", [1])),
        bands=bands(per_level, rate(entry.get("ratio_bonus", 0))),
        on_excess=entry.get("band_basis", "amount") == "excess",
        cap_group=group,
        annual_cap=group_cap(policy, scheme, group, on),
    )


@dataclass(frozen=True)
class ChronicDisease:
    """A listed chronic or special disease (``chronic_diseases.<code>``) on a date."""

    like_inpatient: bool  # class inpatient: paid at the inpatient ratio
    annual_cap: int | None  # its annual limit (None: none of its own)
    deductible_applies: bool  # the chronic benefit's annual deductible applies


def chronic_disease(policy: Policy, code: str | None, on: dt.date) -> ChronicDisease | None:
    """The disease ``code`` as listed on ``on`` (None: not listed, or no code)."""
    if code is None or not policy.has(f"chronic_diseases.{code}", on):
        return None
    entry = policy.subtree(f"chronic_diseases.{code}", on)
    if not entry:  # listed on other dates only
        return None
    cap = entry.get("annual_cap")
    return ChronicDisease(
        like_inpatient=entry.get("class", "chronic") == "inpatient",
        annual_cap=None if cap is None else int(cap),
        deductible_applies=bool(entry.get("annual_deductible_applies", True)),
    )


def group_cap(policy: Policy, scheme: str, group: str, on: dt.date) -> int | None:
    """A cap group's annual cap: declared once, by a member's entry (its owner's)."""
    for med in MED_TYPES:
        entry = basic_entry(policy, scheme, paid_as(policy, scheme, med, on), on)
        if str(entry.get("cap_group", med)) == group and "annual_cap" in entry:
            return int(entry["annual_cap"])
    return None


def category_b_prepay_ratio(policy: Policy, on: dt.date) -> Decimal:
    return policy.rate("catalog.category_b_prepay_ratio", on)


def cross_region_prepay_ratio(policy: Policy, kind: str, on: dt.date) -> Decimal:
    if kind == "none":
        return Decimal(0)
    return rate(policy.get("benefits.cross_region.prepay_ratio", on).get(kind, 0))


@dataclass(frozen=True)
class CriticalIllness:
    """Critical illness insurance (``critical_illness``) for a person of an aid class."""

    excluding_deductible: bool  # base: residual_excluding_deductible
    with_category_b: bool  # include_category_b_prepay
    deductible: int
    bands: list[Band]
    on_excess: bool
    cap: int | None  # before the person's incentive raise (None: no cap)


def critical_illness(policy: Policy, aid_class: str | None, on: dt.date) -> CriticalIllness:
    ci = policy.node("critical_illness", on)
    vulnerable_terms = ci.get("vulnerable", {})
    vulnerable = aid_class is not None and aid_class in vulnerable_terms.get("groups", [])
    factor = rate(vulnerable_terms.get("deductible_factor", 1)) if vulnerable else ONE
    bonus = rate(vulnerable_terms.get("ratio_bonus", 0)) if vulnerable else Decimal(0)
    uncapped = vulnerable and bool(vulnerable_terms.get("uncapped", False))
    return CriticalIllness(
        excluding_deductible=ci["base"] == "residual_excluding_deductible",
        with_category_b=bool(ci.get("include_category_b_prepay", False)),
        deductible=half_up(int(ci["deductible"]) * factor),
        bands=bands(ci["bands"], bonus),
        on_excess=ci.get("band_basis", "amount") == "excess",
        cap=None if uncapped else int(ci["cap"]),
    )


@dataclass(frozen=True)
class Tier:
    """One medical assistance tier (``medical_assistance.classes.<class>.tiers[i]``)."""

    deductible: int
    ratio: Decimal
    annual_cap: int | None


def assistance_tiers(policy: Policy, aid_class: str | None, on: dt.date) -> list[Tier]:
    if aid_class is None:
        return []
    classes = policy.node("medical_assistance.classes", on)
    return [
        Tier(int(t.get("deductible", 0)), rate(t["ratio"]), t.get("annual_cap"))
        for t in classes.get(aid_class, {}).get("tiers", [])
    ]
