"""Designated institutions other than hospitals (定点医药机构): village clinics (村卫生室) and
retail pharmacies (定点零售药店), registered and settled like hospitals, with their own benefit
rules from ``institutions.<kind>`` in the parameters:

- ``level``: the level they are registered and paid at (village clinics and pharmacies: 1, so
  a village clinic's general outpatient care is paid at the primary-care ratios);
- ``med_types``: the med types they may settle (a village clinic: general outpatient care; a
  pharmacy: pharmacy purchases, paid from the personal account and by the outpatient pooling for
  the listed drugs: the drugs of the catalogue within policy scope).

A hospital has no such entry: any med type, at its registered level.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.policy import Policy
from yibao.policy.vocab import INSTITUTION_KINDS, LEVELS, MED_TYPES, InstitutionKind
from yibao.rules.errors import InvalidField

_NAMES = {
    InstitutionKind.HOSPITAL.value: "a hospital",
    InstitutionKind.VILLAGE_CLINIC.value: "a village clinic",
    InstitutionKind.PHARMACY.value: "a pharmacy",
}


@dataclass(frozen=True)
class InstitutionTerms:
    """What an institution of ``kind`` may settle: at ``level`` only (None: any, as
    registered) and ``med_types`` only (None: any)."""

    kind: str
    level: int | None = None
    med_types: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return _NAMES[self.kind]


def check_kind(kind: object, field: str = "kind") -> str:
    """An institution kind of the vocabulary (``policy.vocab.InstitutionKind``)."""
    if not isinstance(kind, str) or kind not in INSTITUTION_KINDS:
        raise InvalidField(field, f"must be one of {', '.join(INSTITUTION_KINDS)}", kind)
    return kind


def institution_terms(policy: Policy, kind: str, on: dt.date) -> InstitutionTerms:
    """The terms of ``kind`` in force on ``on`` (``institutions.<kind>.level``,
    ``.med_types``); a kind without an entry (a hospital) has none."""
    check_kind(kind)
    base = f"institutions.{kind}"
    level = int(policy.get(f"{base}.level", on)) if policy.has(f"{base}.level", on) else None
    meds = policy.get(f"{base}.med_types", on) if policy.has(f"{base}.med_types", on) else None
    if level is not None and level not in LEVELS:
        raise InvalidField(f"{base}.level", f"must be one of {LEVELS}", level)
    if meds is not None:
        meds = tuple(str(m) for m in meds)
        for m in meds:
            if m not in MED_TYPES:
                raise InvalidField(f"{base}.med_types", f"{m!r} is not a med type", m)
    return InstitutionTerms(kind, level, meds)


def registered_level(terms: InstitutionTerms, level: int | None) -> int | None:
    """The level an institution is registered at: its kind's level when the kind has one (a
    different level given is refused), else the level given."""
    if terms.level is None:
        return level
    if level is not None and level != terms.level:
        raise InvalidField("level", f"{terms.name} is registered at level {terms.level}", level)
    return terms.level


def check_claim_at(terms: InstitutionTerms, med_type: str, level: int) -> None:
    """Refuse a claim that an institution of this kind may not settle: a med type it does not
    settle, or another level than its kind's."""
    if terms.med_types is not None and med_type not in terms.med_types:
        raise InvalidField(
            "med_type",
            f"{terms.name} settles {', '.join(terms.med_types)} only, not {med_type}",
            med_type,
        )
    if terms.level is not None and level != terms.level:
        raise InvalidField("level", f"{terms.name} is paid at level {terms.level}", level)
