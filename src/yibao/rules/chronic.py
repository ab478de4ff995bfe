"""Certified chronic and special diseases (门诊慢特病认定): which disease a person is certified
for on a date, and the validity of a certification, renewal and end (pure rules; the store keeps
the certifications, ``services.chronic``). A chronic claim is paid only for a disease certified
on its date (``kernel.layers.chronic``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.policy import Policy


@dataclass(frozen=True)
class Certification:
    """A person's certified disease, valid from ``valid_from`` to ``valid_to`` inclusive (an
    ended certification's ``valid_to`` is its last day)."""

    disease: str
    valid_from: dt.date
    valid_to: dt.date

    def covers(self, on: dt.date) -> bool:
        return self.valid_from <= on <= self.valid_to


def certified_disease(
    certifications: Iterable[Certification], disease: str | None, on: dt.date
) -> str | None:
    """The disease a chronic claim of ``on`` is paid for: ``disease`` (the claim's 病种编码) when
    a certification of it covers ``on``; a claim naming none, the person's only disease
    certified on ``on``; None otherwise (none certified, or several and the claim names none)."""
    valid = {c.disease for c in certifications if c.covers(on)}
    if disease is not None:
        return disease if disease in valid else None
    return next(iter(valid)) if len(valid) == 1 else None


def validity_months(policy: Policy, on: dt.date) -> int:
    """How long a certification (or a renewal) lasts: ``chronic_certification.valid_months``."""
    return policy.count("chronic_certification.valid_months", on)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    for d in range(day.day, 27, -1):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    return dt.date(year, month, min(day.day, 28))


def valid_until(start: dt.date, months: int) -> dt.date:
    """The last day of a certification valid ``months`` from ``start``."""
    return add_months(start, months) - dt.timedelta(days=1)


def latest_start(today: dt.date, months: int) -> dt.date:
    """The latest first day of a certification or a renewal made ``today``: one validity period
    ahead (a successor arranged before the current period ends), no further."""
    return add_months(today, months)


def renewed_until(valid_to: dt.date, today: dt.date, months: int) -> dt.date:
    """The new last day of a certification renewed on ``today``: ``months`` more from the day
    after its last day, or from today when it has lapsed."""
    start = max(valid_to + dt.timedelta(days=1), today)
    return valid_until(start, months)
