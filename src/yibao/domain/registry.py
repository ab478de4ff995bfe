"""One person, one file (一人一档): persons, households, close relatives, special groups."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from yibao.domain.errors import InvalidField
from yibao.domain.identity import NationalId, Sex, parse_national_id
from yibao.domain.text import check_identifier
from yibao.policy.vocab import AidClass
from yibao.policy.vocab import GroupKind as GroupKind


class RelationKind(StrEnum):
    """``relative`` is the person's <kind>: (a, b, parent) means b is a's parent."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"

    @property
    def reciprocal(self) -> RelationKind:
        return _RECIPROCAL[self]


_RECIPROCAL = {
    RelationKind.SPOUSE: RelationKind.SPOUSE,
    RelationKind.PARENT: RelationKind.CHILD,
    RelationKind.CHILD: RelationKind.PARENT,
    RelationKind.SIBLING: RelationKind.SIBLING,
    RelationKind.GRANDPARENT: RelationKind.GRANDCHILD,
    RelationKind.GRANDCHILD: RelationKind.GRANDPARENT,
}


#: Groups that are medical-assistance recipient classes (resident.contribution.assistance_subsidy).
ASSISTANCE_CLASSES = frozenset(GroupKind(a.value) for a in AidClass)

_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
_AREA = re.compile(r"^[0-9]{6}$")


def check_area(code: object, field: str = "pooling_area") -> str:
    """A pooling area or region: a 6-digit administrative division code."""
    if not isinstance(code, str) or not _AREA.fullmatch(code):
        raise InvalidField(field, "must be a 6-digit administrative division code", code)
    return code


def check_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidField(field, "missing", name)
    name = name.strip()
    if len(name) > 100:
        raise InvalidField(field, "longer than 100 characters", name)
    return check_identifier(field, name)  # no invisible or direction-changing character


def check_phone(phone: object, field: str = "phone") -> str | None:
    if phone is None or (isinstance(phone, str) and not phone.strip()):
        return None
    if not isinstance(phone, str) or not _PHONE.match(phone.strip()):
        raise InvalidField(
            field, "must be 5 to 20 digits (spaces, dashes and a leading + allowed)", phone
        )
    return phone.strip()


@dataclass(frozen=True, slots=True)
class Household:
    id: int | None
    code: str  # household register (户口簿) or collection household number
    address: str | None = None
    region: str | None = None


@dataclass(slots=True)
class Person:
    id: int | None
    national_id: NationalId
    name: str
    phone: str | None = None
    household_id: int | None = None
    region: str | None = None  # area of permanent residence
    died_on: dt.date | None = None  # date of death (死亡日期): no settlement on or after it

    @property
    def birth_date(self) -> dt.date:
        return self.national_id.birth_date

    @property
    def sex(self) -> Sex:
        return self.national_id.sex

    @property
    def label(self) -> str:
        return self.national_id.number

    def age_on(self, on: dt.date) -> int:
        b = self.birth_date
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def check_death(person: Person, on: dt.date, today: dt.date) -> dt.date:
    """A date of death for ``person``: not in the future, not before their birth, and not
    different from one already recorded (a correction is not a death); raises InvalidField
    naming ``on``."""
    if on > today:
        raise InvalidField("on", f"date of death {on.isoformat()} is in the future")
    if on < person.birth_date:
        raise InvalidField(
            "on", f"date of death {on.isoformat()} is before birth {person.birth_date.isoformat()}"
        )
    if person.died_on is not None and person.died_on != on:
        raise InvalidField(
            "on", f"the person is already recorded dead on {person.died_on.isoformat()}"
        )
    return on


def new_person(
    national_id: str,
    name: str,
    phone: str | None = None,
    household_id: int | None = None,
    region: str | None = None,
) -> Person:
    """Validate every field; raises InvalidField (InvalidNationalId) naming the field."""
    return Person(
        id=None,
        national_id=parse_national_id(national_id),
        name=check_name(name),
        phone=check_phone(phone),
        household_id=household_id,
        region=check_area(region, "region") if region else None,
    )


@dataclass(frozen=True, slots=True)
class Relation:
    person_id: int
    relative_id: int
    kind: RelationKind


def both_ways(person_id: int, relative_id: int, kind: RelationKind) -> tuple[Relation, Relation]:
    """``relative`` is the person's <kind>, and the person is the relative's reciprocal kind:
    a close relation is recorded in both directions."""
    return Relation(person_id, relative_id, kind), Relation(relative_id, person_id, kind.reciprocal)


def newborn_until(birth: dt.date) -> dt.date:
    """The last day of the newborn group: the day before the first birthday."""
    try:
        return birth.replace(year=birth.year + 1) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return dt.date(birth.year + 1, 2, 28)


@dataclass(frozen=True, slots=True)
class SpecialGroup:
    person_id: int
    kind: GroupKind
    valid_from: dt.date
    valid_to: dt.date | None = None  # last day inclusive; None = open
    id: int | None = None

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise InvalidField("valid_to", "is before valid_from", self.valid_to)

    def active_on(self, on: dt.date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True, slots=True)
class MutualAidLink:
    """An employee (owner) authorises their personal account to pay for a close relative."""

    owner_id: int
    relative_id: int
    authorised_on: dt.date
    revoked_on: dt.date | None = None
    id: int | None = None

    def active_on(self, on: dt.date) -> bool:
        return self.authorised_on <= on and (self.revoked_on is None or on < self.revoked_on)
