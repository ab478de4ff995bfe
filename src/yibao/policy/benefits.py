"""Cap groups (封顶线共用): med types of one scheme that share one annual cap.

A med type's ``benefits.<scheme>.<med>.basic.cap_group`` names its group (default: the med type
itself). The group's annual cap is declared once, by its owner: the first member in the order
of ``policy.vocab.MedType`` (inpatient, outpatient, chronic, maternity, pharmacy). So
``benefits.<scheme>.inpatient.basic.annual_cap`` sets the cap of the ``basic`` group, which
chronic care (门诊慢特病) shares; another member declaring an ``annual_cap`` is an error.
Retirees inherit the employees' entries (their own override them).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from yibao.policy.errors import ParameterError
from yibao.policy.vocab import BenefitScheme, MedType

if TYPE_CHECKING:
    from yibao.policy.params import Policy


def _entries(scheme: str) -> tuple[str, ...]:
    """The schemes whose entries make up ``scheme``'s, own first."""
    return ("retiree", "employee") if scheme == "retiree" else (scheme,)


def members(policy: Policy, scheme: str, on: dt.date) -> dict[str, list[str]]:
    """Cap group -> its med types with an entry of their own, owner first."""
    groups: dict[str, list[str]] = {}
    for med in MedType:
        bases = [f"benefits.{s}.{med}.basic" for s in _entries(scheme)]
        if not any(policy.has(b, on) for b in bases):
            continue
        group = next(
            (policy.text(f"{b}.cap_group", on) for b in bases if policy.has(f"{b}.cap_group", on)),
            med,
        )
        groups.setdefault(group, []).append(med)
    return groups


def check_cap_groups(policy: Policy) -> None:
    """Raise ParameterError (file, path, reason) where a cap group's cap is declared by a member
    that does not own the group."""
    for on in policy.dates() or [dt.date.today()]:
        for scheme in BenefitScheme:
            for group, meds in members(policy, scheme, on).items():
                owner = meds[0]
                for med in meds[1:]:
                    for s in reversed(_entries(scheme)):
                        path = f"benefits.{s}.{med}.basic.annual_cap"
                        if policy.declares(path, on):
                            raise ParameterError(
                                policy.source_file(path, on),
                                path,
                                f"{med} shares cap group {group!r}, whose annual cap is declared "
                                f"once, as benefits.{s}.{owner}.basic.annual_cap: set it there "
                                f"(or give {med} a cap_group of its own)",
                            )
