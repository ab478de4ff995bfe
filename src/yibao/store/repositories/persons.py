"""The registry's repository (一人一档): persons, households, relatives, special groups and
mutual-aid links, with their row → domain mappers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import AlreadyExists, InvalidField, NotFound
from yibao.domain.identity import NationalId, Sex
from yibao.domain.registry import (
    GroupKind,
    Household,
    MutualAidLink,
    Person,
    Relation,
    RelationKind,
    SpecialGroup,
    both_ways,
)
from yibao.store.models import (
    EnrolmentRow,
    HouseholdRow,
    MutualAidLinkRow,
    PersonRow,
    RelationRow,
    SpecialGroupRow,
)
from yibao.store.repositories.enrolments import enrolment_at
from yibao.store.sql import BulkRead, InKeys, dialect_insert, grouped

# Read statements built once (run for every settlement): executed with their parameters, so
# no statement object or cache key is built per call.
_PERSONS = cast(Table, PersonRow.__table__)
_SPECIAL_GROUPS = cast(Table, SpecialGroupRow.__table__)
_ENROLMENTS = cast(Table, EnrolmentRow.__table__)
_LINKS = cast(Table, MutualAidLinkRow.__table__)
_FIND_PERSON = select(PersonRow).where(PersonRow.national_id == bindparam("p_nid"))
_ALL_GROUPS = (
    select(SpecialGroupRow)
    .where(SpecialGroupRow.person_id == bindparam("p_person"))
    .order_by(SpecialGroupRow.id)
)
# The bulk reads of a settlement batch (``BulkRead``; the last two parts of the person-file
# read too).
_PERSONS_BY_NID = BulkRead(lambda in_: select(_PERSONS).where(in_(_PERSONS.c.national_id, "keys")))
_PERSONS_BY_ID = BulkRead(lambda in_: select(_PERSONS).where(in_(_PERSONS.c.id, "keys")))


def _with_enrolments(
    in_: InKeys, by: str, *extra: ColumnElement[Any], lateral: bool = False
) -> Select[Any]:
    """Persons by the keys ``keys`` of column ``by`` (``national_id`` or ``id``), each with its
    enrolments (a row per enrolment, or one without), the enrolments in
    ``EnrolmentRepository.histories``' order; ``extra`` columns last. ``lateral``
    (PostgreSQL): the enrolments of each person read by its index (a lateral subquery the
    planner keeps: a join let it hash a scan of the whole table under the generic plan of a
    prepared statement, which expects ten persons). One key column, not two joined by OR: the
    generic plan of an OR expects twenty persons, costs more than a plan for the keys given
    and so was never chosen, the statement planned anew at every run (~0.4 ms)."""
    if lateral:
        enrolments = (
            select(_ENROLMENTS)
            .where(_ENROLMENTS.c.person_id == _PERSONS.c.id)
            .offset(0)  # not pulled up into a join
            .lateral("e")
        )
        joined = _PERSONS.outerjoin(enrolments, true())
    else:
        enrolments = _ENROLMENTS  # type: ignore[assignment]
        joined = _PERSONS.outerjoin(_ENROLMENTS, _ENROLMENTS.c.person_id == _PERSONS.c.id)
    return (
        select(
            _PERSONS,
            *(enrolments.c[c.name].label(f"enrolment_{c.name}") for c in _ENROLMENTS.c),
            *extra,
        )
        .select_from(joined)
        .where(in_(_PERSONS.c[by], "keys"))
        .order_by(enrolments.c.start_date, enrolments.c.id)
    )


# PostgreSQL: ``reserve`` new visit ids from their sequence, as a column (an uncorrelated
# subquery: run once for the statement, when a row is found; the same array on every row).
# The sequence is looked up once (a subquery of its own), not once a value: ``nextval`` of a
# name parses and looks it up at every call, ~5 µs a value.
_VISITS_SEQUENCE: ColumnElement[Any] = literal_column(
    "(SELECT pg_get_serial_sequence('visits', 'id')::regclass)"
)
_NEW_VISIT_IDS = (
    select(func.array_agg(func.nextval(_VISITS_SEQUENCE)))
    .select_from(func.generate_series(literal(1), bindparam("reserve", type_=Integer)))
    .scalar_subquery()
    .label("visit_ids")
)
#: (key column, PostgreSQL, new visit ids reserved) -> the persons' read with their enrolments
_WITH_ENROLMENTS: dict[tuple[str, bool, bool], BulkRead[Any]] = {}


def _with_enrolments_read(by: str, postgresql: bool, reserving: bool) -> BulkRead[Any]:
    read = _WITH_ENROLMENTS.get((by, postgresql, reserving))
    if read is None:
        extra = (_NEW_VISIT_IDS,) if reserving else ()
        read = _WITH_ENROLMENTS[(by, postgresql, reserving)] = BulkRead(
            lambda in_: _with_enrolments(in_, by, *extra, lateral=postgresql)
        )
    return read


@dataclass(frozen=True, slots=True)
class PersonFiles:
    """``PersonRepository.with_histories``: {national ID (as stored): person} and {id: person}
    of those found, their enrolments ({person id: [enrolment]}), and the new visit ids
    reserved (None: none were)."""

    by_nid: dict[str, Person]
    by_id: dict[int, Person]
    histories: dict[int, list[Enrolment]]
    visit_ids: list[int] | None


GROUPS_OF = BulkRead(
    lambda in_: (
        select(_SPECIAL_GROUPS)
        .where(in_(_SPECIAL_GROUPS.c.person_id, "keys"))
        .order_by(_SPECIAL_GROUPS.c.id)
    )
)
LINKS_FOR = BulkRead(
    lambda in_: select(_LINKS).where(in_(_LINKS.c.relative_id, "keys")).order_by(_LINKS.c.id)
)


def _person(row: PersonRow | Row[Any]) -> Person:
    return Person(
        id=row.id,
        national_id=NationalId(row.national_id, row.birth_date, Sex(row.sex)),
        name=row.name,
        phone=row.phone,
        household_id=row.household_id,
        region=row.region,
        died_on=row.died_on,
    )


def _household(row: HouseholdRow) -> Household:
    return Household(id=row.id, code=row.code, address=row.address, region=row.region)


def _group(row: SpecialGroupRow | Row[Any]) -> SpecialGroup:
    return SpecialGroup(
        person_id=row.person_id,
        kind=GroupKind(row.kind),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        id=row.id,
    )


def _link(row: MutualAidLinkRow | Row[Any]) -> MutualAidLink:
    return MutualAidLink(
        owner_id=row.owner_id,
        relative_id=row.relative_id,
        authorised_on=row.authorised_on,
        revoked_on=row.revoked_on,
        id=row.id,
    )


def groups_by_person(rows: Iterable[Any]) -> dict[int, list[SpecialGroup]]:
    """The rows of ``GROUPS_OF`` by person id."""
    return grouped((r.person_id, _group(r)) for r in rows)


def links_by_relative(rows: Iterable[Any]) -> dict[int, list[MutualAidLink]]:
    """The rows of ``LINKS_FOR`` by the id of the person they pay for."""
    return grouped((r.relative_id, _link(r)) for r in rows)


class PersonRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, person: Person) -> Person:
        if self.find(person.national_id.number) is not None:
            raise AlreadyExists("person", person.national_id.number)
        row = PersonRow(
            national_id=person.national_id.number,
            name=person.name,
            sex=person.sex.value,
            birth_date=person.birth_date,
            phone=person.phone,
            household_id=person.household_id,
            region=person.region,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyExists("person", person.national_id.number) from exc
        return _person(row)

    def get(self, person_id: int) -> Person:
        row = self.session.get(PersonRow, person_id)
        if row is None:
            raise NotFound("person", person_id)
        return _person(row)

    def find(self, national_id: str) -> Person | None:
        row = self.session.scalars(
            _FIND_PERSON, {"p_nid": national_id.strip().upper()}
        ).one_or_none()
        return _person(row) if row is not None else None

    def require(self, national_id: str) -> Person:
        person = self.find(national_id)
        if person is None:
            raise NotFound("person", national_id)
        return person

    def find_many(self, national_ids: Iterable[str]) -> dict[str, Person]:
        """{national ID (as stored): person} of those found, in one query."""
        wanted = {n.strip().upper() for n in national_ids}
        if not wanted:
            return {}
        rows = _PERSONS_BY_NID.rows(self.session, keys=sorted(wanted))
        return {r.national_id: _person(r) for r in rows}

    def get_many(self, person_ids: Iterable[int]) -> dict[int, Person]:
        wanted = set(person_ids)
        if not wanted:
            return {}
        rows = _PERSONS_BY_ID.rows(self.session, keys=sorted(wanted))
        return {r.id: _person(r) for r in rows}

    def with_histories(
        self, national_ids: Iterable[str], person_ids: Iterable[int], *, new_visits: int = 0
    ) -> PersonFiles:
        """``find_many`` of ``national_ids``, ``get_many`` of ``person_ids`` and the
        enrolments of the persons found (as ``EnrolmentRepository.histories``), in one query
        (two when both are given); on PostgreSQL, when ``new_visits`` is more than one and a
        person is found, that many new visit ids reserved in the same query
        (``SettlementRepository.reserve_ids``' visits)."""
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        reserve = new_visits if postgresql and new_visits > 1 else 0
        persons: dict[int, Person] = {}
        histories: dict[int, list[Enrolment]] = {}
        found: list[dict[Any, Person]] = []
        visit_ids: list[int] | None = None
        width = len(_PERSONS.c)
        for by, keys in (
            ("national_id", sorted({n.strip().upper() for n in national_ids})),
            ("id", sorted(set(person_ids))),
        ):
            found.append({})
            if not keys:
                continue
            params: dict[str, Any] = (
                {"keys": keys, "reserve": reserve} if reserve else {"keys": keys}
            )
            rows = _with_enrolments_read(by, postgresql, bool(reserve)).rows(self.session, **params)
            if reserve and rows:
                visit_ids, reserve = [int(i) for i in rows[0].visit_ids], 0
            read: set[int] = set()  # the persons first read here (not by the other key)
            for r in rows:
                if r.id not in persons:
                    persons[r.id] = _person(r)
                    read.add(r.id)
                found[-1][getattr(r, by)] = persons[r.id]
                if r.id in read and (enrolment := enrolment_at(r, width)) is not None:
                    histories.setdefault(r.id, []).append(enrolment)
        return PersonFiles(found[0], found[1], histories, visit_ids)

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(PersonRow)) or 0)

    def set_died_on(self, person_id: int, on: dt.date) -> None:
        """Record the person's date of death (the row must exist)."""
        row = self.session.get(PersonRow, person_id, with_for_update=True)
        if row is None:
            raise NotFound("person", person_id)
        row.died_on = on
        self.session.flush()

    # households

    def household(self, code: str) -> Household | None:
        row = self.session.scalars(
            select(HouseholdRow).where(HouseholdRow.code == code)
        ).one_or_none()
        return _household(row) if row is not None else None

    def household_of(self, household_id: int) -> Household:
        row = self.session.get(HouseholdRow, household_id)
        if row is None:
            raise NotFound("household", household_id)
        return _household(row)

    def get_or_add_household(
        self, code: str, address: str | None = None, region: str | None = None
    ) -> Household:
        stmt = (
            dialect_insert(self.session, HouseholdRow)
            .values(code=code, address=address, region=region)
            .on_conflict_do_nothing(index_elements=["code"])
        )
        self.session.execute(stmt)
        found = self.household(code)
        if found is None:  # refused without a conflict: not expected
            raise NotFound("household", code)
        return found

    def members(self, household_id: int) -> list[Person]:
        rows = self.session.scalars(
            select(PersonRow).where(PersonRow.household_id == household_id).order_by(PersonRow.id)
        )
        return [_person(r) for r in rows]

    # relatives

    def relation(self, person_id: int, relative_id: int) -> RelationKind | None:
        row = self.session.get(RelationRow, (person_id, relative_id))
        return RelationKind(row.kind) if row is not None else None

    def add_relation(self, person_id: int, relative_id: int, kind: RelationKind) -> Relation:
        """Record ``relative`` as the person's ``kind``, and the reciprocal."""
        if person_id == relative_id:
            raise InvalidField("relative", "a person is not their own relative")
        existing = self.relation(person_id, relative_id)
        if existing is not None and existing is not kind:
            raise InvalidField(
                "kind", f"already recorded as {existing.value}, not {kind.value}", kind.value
            )
        relation, reciprocal = both_ways(person_id, relative_id, kind)
        if existing is None:
            for r in (relation, reciprocal):
                self.session.add(
                    RelationRow(person_id=r.person_id, relative_id=r.relative_id, kind=r.kind)
                )
            self.session.flush()
        return relation

    def relatives(self, person_id: int) -> list[Relation]:
        rows = self.session.scalars(
            select(RelationRow)
            .where(RelationRow.person_id == person_id)
            .order_by(RelationRow.relative_id)
        )
        return [Relation(r.person_id, r.relative_id, RelationKind(r.kind)) for r in rows]

    # special groups

    def add_group(self, group: SpecialGroup) -> SpecialGroup:
        row = SpecialGroupRow(
            person_id=group.person_id,
            kind=group.kind.value,
            valid_from=group.valid_from,
            valid_to=group.valid_to,
        )
        self.session.add(row)
        self.session.flush()
        return _group(row)

    def end_groups(self, person_id: int, kinds: Sequence[str], last_day: dt.date) -> int:
        """End the person's groups of ``kinds`` in force after ``last_day`` on that day (a group
        not yet begun by then is removed); how many were changed."""
        stmt = select(SpecialGroupRow).where(
            SpecialGroupRow.person_id == person_id,
            SpecialGroupRow.kind.in_(list(kinds)),
            or_(SpecialGroupRow.valid_to.is_(None), SpecialGroupRow.valid_to > last_day),
        )
        changed = 0
        for row in self.session.scalars(stmt):
            if row.valid_from > last_day:
                self.session.delete(row)
            else:
                row.valid_to = last_day
            changed += 1
        self.session.flush()
        return changed

    def groups(self, person_id: int, on: dt.date | None = None) -> list[SpecialGroup]:
        if on is None:
            return [_group(r) for r in self.session.scalars(_ALL_GROUPS, {"p_person": person_id})]
        stmt = select(SpecialGroupRow).where(SpecialGroupRow.person_id == person_id)
        if on is not None:
            stmt = stmt.where(
                SpecialGroupRow.valid_from <= on,
                or_(SpecialGroupRow.valid_to.is_(None), SpecialGroupRow.valid_to >= on),
            )
        return [_group(r) for r in self.session.scalars(stmt.order_by(SpecialGroupRow.id))]

    def groups_of(self, person_ids: Sequence[int]) -> dict[int, list[SpecialGroup]]:
        """Every special group of each person (as ``groups``), in one query."""
        return groups_by_person(GROUPS_OF.rows(self.session, keys=list(person_ids)))

    # mutual-aid links

    def links_for(self, relative_ids: Sequence[int]) -> dict[int, list[MutualAidLink]]:
        """Every mutual-aid link paying for each person (revoked ones too), oldest first."""
        return links_by_relative(LINKS_FOR.rows(self.session, keys=list(relative_ids)))

    def add_link(self, link: MutualAidLink) -> MutualAidLink:
        row = MutualAidLinkRow(
            owner_id=link.owner_id,
            relative_id=link.relative_id,
            authorised_on=link.authorised_on,
            revoked_on=link.revoked_on,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyExists("mutual-aid link", f"{link.owner_id}->{link.relative_id}") from exc
        return _link(row)

    def active_link(self, owner_id: int, relative_id: int, on: dt.date) -> MutualAidLink | None:
        rows = self.session.scalars(
            select(MutualAidLinkRow).where(
                MutualAidLinkRow.owner_id == owner_id,
                MutualAidLinkRow.relative_id == relative_id,
                MutualAidLinkRow.authorised_on <= on,
                or_(MutualAidLinkRow.revoked_on.is_(None), MutualAidLinkRow.revoked_on > on),
            )
        ).all()
        return _link(rows[0]) if rows else None

    def revoke_link(self, owner_id: int, relative_id: int, on: dt.date) -> MutualAidLink:
        row = self.session.scalars(
            select(MutualAidLinkRow).where(
                MutualAidLinkRow.owner_id == owner_id,
                MutualAidLinkRow.relative_id == relative_id,
                MutualAidLinkRow.revoked_on.is_(None),
            )
        ).one_or_none()
        if row is None:
            raise NotFound("mutual-aid link", f"{owner_id}->{relative_id}")
        if on < row.authorised_on:
            raise InvalidField("revoked_on", "is before the authorisation", on)
        row.revoked_on = on
        self.session.flush()
        return _link(row)
