"""Major epidemics (重大疫情, treat first and charge later: 先救治后收费): which claims an epidemic
declared for an area covers, and what its exemption does to a claim's amounts. Pure.

A claim is covered when the epidemic is declared for the insured's pooling area, the claim's
date lies in its period, and the visit's principal diagnosis falls under one of its listed
diseases (an ICD-10 code or the start of one: ``J12`` covers ``J12.8``) or the person belongs on
that date to one of its listed special groups (``policy.vocab.GroupKind``). A covered claim is
exempt from the catalogue and from dosage restrictions (what was fully self-paid, classes and
restrictions and quantities above a maximum, is within policy scope; no category-B pre-payment;
what lies above a price limit stays self-paid) and from the insurance's payment limits: the basic
fund's annual cap, the critical-illness and large-amount caps and a chronic disease's annual
limit (``kernel.tables.without_caps``; medical assistance's caps stay).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class EpidemicTerms:
    """An epidemic as a rule reads it: its area, period (``ends_on`` None: open) and lists."""

    id: int
    area: str
    starts_on: dt.date
    ends_on: dt.date | None
    diseases: tuple[str, ...]
    groups: tuple[str, ...]

    def in_force(self, on: dt.date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)


def covers(
    terms: EpidemicTerms,
    area: str,
    on: dt.date,
    diagnosis: str | None,
    groups: Iterable[str],
) -> bool:
    """Whether the epidemic covers a claim of an insured of ``area`` on ``on`` with principal
    diagnosis ``diagnosis`` (None: none recorded) by a person in ``groups`` on that day."""
    if terms.area != area or not terms.in_force(on):
        return False
    code = (diagnosis or "").upper()
    if code and any(code.startswith(d) for d in terms.diseases):
        return True
    return bool(set(groups) & set(terms.groups))


def covering(
    epidemics: Iterable[EpidemicTerms],
    area: str,
    on: dt.date,
    diagnosis: str | None,
    groups: Iterable[str],
) -> EpidemicTerms | None:
    """The first epidemic (by id) that covers the claim, if any."""
    kinds = tuple(groups)
    for t in sorted(epidemics, key=lambda e: e.id):
        if covers(t, area, on, diagnosis, kinds):
            return t
    return None


def exempt_amounts(
    total: int, fully_self_paid: int, over_limit: int, category_b: int
) -> tuple[int, int, int, int]:
    """A covered claim's (total, fully self-paid, over limit, category B): nothing fully
    self-paid and no category-B items (the catalogue and dosage restrictions do not apply), the
    part above price limits kept."""
    return total, 0, over_limit, 0
