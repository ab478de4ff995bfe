"""Registry use cases (一人一档): persons, households, relatives, special groups, mutual-aid
authorisations, and the bulk import."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from yibao.domain.enrolment import Scheme
from yibao.domain.errors import InvalidField, MutualAidNotAuthorised
from yibao.domain.ids import NotStored
from yibao.domain.ledger import AccountRef
from yibao.domain.registry import (
    ASSISTANCE_CLASSES,
    GroupKind,
    MutualAidLink,
    Person,
    Relation,
    RelationKind,
    SpecialGroup,
    check_area,
    check_death,
    new_person,
)
from yibao.domain.text import bad_in_text, check_identifier
from yibao.policy import fen_to_yuan
from yibao.services import clock
from yibao.services.common import find_person
from yibao.store.bulk import ImportReport, Progress
from yibao.store.bulk import import_persons as _bulk_import
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.uow import UnitOfWork


def add_person(
    uow: UnitOfWork,
    national_id: str,
    name: str,
    *,
    phone: str | None = None,
    household: str | None = None,
    region: str | None = None,
    address: str | None = None,
) -> Person:
    """Register a person; the national ID is validated and gives birth date and sex."""
    person = new_person(national_id, name, phone=phone, region=region)
    if address is not None and not household:
        raise InvalidField("address", "is the household's: give the household too")
    if address is not None and (problem := bad_in_text(address)) is not None:
        raise InvalidField("address", f"contains {problem}")
    with uow:
        if household:
            code = check_identifier("household", household.strip())
            if len(code) > 40:
                raise InvalidField("household", "longer than 40 characters", household)
            person.household_id = uow.persons.get_or_add_household(
                code, address, check_area(region, "region") if region else None
            ).id
        stored = uow.persons.add(person)
        uow.commit()
    return stored


def add_relation(
    uow: UnitOfWork, who: str | int, relative: str | int, kind: RelationKind | str
) -> Relation:
    """Record that ``relative`` is ``who``'s <kind> (and the reciprocal)."""
    try:
        kind = RelationKind(kind)
    except ValueError as exc:
        raise InvalidField(
            "kind", f"must be one of {[k.value for k in RelationKind]}", kind
        ) from exc
    with uow:
        a = find_person(uow, who)
        b = find_person(uow, relative)
        if a.id is None or b.id is None:
            raise NotStored("person")
        rel = uow.persons.add_relation(a.id, b.id, kind)
        uow.commit()
    return rel


def add_group(
    uow: UnitOfWork,
    who: str | int,
    kind: GroupKind | str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
) -> SpecialGroup:
    try:
        kind = GroupKind(kind)
    except ValueError as exc:
        raise InvalidField("kind", f"must be one of {[k.value for k in GroupKind]}", kind) from exc
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        group = uow.persons.add_group(SpecialGroup(person.id, kind, valid_from, valid_to))
        uow.commit()
    return group


def authorise_mutual_aid(
    uow: UnitOfWork, owner: str | int, relative: str | int, on: dt.date
) -> MutualAidLink:
    """An employee authorises their personal account to pay for a close relative (家庭共济)."""
    with uow:
        o = find_person(uow, owner)
        r = find_person(uow, relative)
        if o.id is None or r.id is None:
            raise NotStored("person")
        if o.id == r.id:
            raise MutualAidNotAuthorised(o.label, r.label, "a person cannot link to themself")
        if uow.persons.relation(o.id, r.id) is None:
            raise MutualAidNotAuthorised(o.label, r.label, "not a recorded close relative")
        enrolment = uow.enrolments.open_for(o.id)
        if enrolment is None or enrolment.scheme is not Scheme.EMPLOYEE:
            raise MutualAidNotAuthorised(
                o.label, r.label, "the owner is not enrolled in employee insurance"
            )
        link = uow.persons.add_link(MutualAidLink(o.id, r.id, on))
        uow.commit()
    return link


def revoke_mutual_aid(
    uow: UnitOfWork, owner: str | int, relative: str | int, on: dt.date
) -> MutualAidLink:
    with uow:
        o = find_person(uow, owner)
        r = find_person(uow, relative)
        if o.id is None or r.id is None:
            raise NotStored("person")
        link = uow.persons.revoke_link(o.id, r.id, on)
        uow.commit()
    return link


def import_persons(
    engine: Engine,
    path: str | Path,
    *,
    batch_size: int = 50_000,
    progress: Progress | None = None,
    max_errors: int = 100,
) -> ImportReport:
    """Bulk import (CSV or Parquet), streamed; see ``yibao.store.bulk``."""
    return _bulk_import(
        engine, path, batch_size=batch_size, progress=progress, max_errors=max_errors
    )


def person_file(uow: UnitOfWork, who: str | int) -> dict[str, Any]:
    """The person's file: identity, household, relatives, groups, enrolments, coverage years,
    contributions and personal account, as plain data (amounts as yuan strings)."""
    with uow:
        p = find_person(uow, who)
        if p.id is None:
            raise NotStored("person")
        household = uow.persons.household_of(p.household_id) if p.household_id else None
        account = uow.ledger.account(AccountRef.personal(p.id))
        relatives = []
        for rel in uow.persons.relatives(p.id):
            other = uow.persons.get(rel.relative_id)
            relatives.append(
                {"kind": rel.kind.value, "national_id": other.label, "name": other.name}
            )
        return {
            "id": p.id,
            "national_id": p.label,
            "name": p.name,
            "sex": p.sex.value,
            "birth_date": p.birth_date.isoformat(),
            "phone": p.phone,
            "region": p.region,
            "died_on": p.died_on.isoformat() if p.died_on else None,
            "household": household.code if household else None,
            "relatives": relatives,
            "groups": [
                {
                    "kind": g.kind.value,
                    "valid_from": g.valid_from.isoformat(),
                    "valid_to": g.valid_to.isoformat() if g.valid_to else None,
                }
                for g in uow.persons.groups(p.id)
            ],
            "enrolments": [
                {
                    "id": e.id,
                    "scheme": e.scheme.value,
                    "kind": e.kind.value,
                    "pooling_area": e.pooling_area,
                    "employer_code": e.employer_code,
                    "start_date": e.start_date.isoformat(),
                    "end_date": e.end_date.isoformat() if e.end_date else None,
                    "status": e.status.value,
                    "carried_employee_months": e.carried_employee_months,
                    "carried_resident_years": e.carried_resident_years,
                }
                for e in uow.enrolments.history(p.id)
            ],
            "coverage_years": [
                {
                    "year": c.year,
                    "status": c.status.value,
                    "repaired": c.repaired,
                    "continuous_years": c.continuous_years,
                    "zero_claim": c.zero_claim,
                    "fund_paid": fen_to_yuan(c.fund_paid),
                    "closed": c.closed,
                }
                for c in uow.coverage.history(p.id)
            ],
            "contributions": len(uow.contributions.for_person(p.id)),
            "personal_account": fen_to_yuan(account.natural_balance) if account else "0.00",
        }


def set_aid_class(
    uow: UnitOfWork,
    who: str | int,
    kind: GroupKind | str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
) -> SpecialGroup:
    """The person's aid class (医疗救助对象类别) from ``valid_from``: the aid classes in force
    after the day before end on it, then ``kind`` is added (a correction from civil affairs)."""
    try:
        kind = GroupKind(kind)
    except ValueError as exc:
        raise InvalidField("kind", f"must be one of {[k.value for k in GroupKind]}", kind) from exc
    if kind not in ASSISTANCE_CLASSES:
        raise InvalidField("kind", "is not an aid class", kind.value)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        aid = sorted(k.value for k in ASSISTANCE_CLASSES)
        uow.persons.end_groups(person.id, aid, valid_from - dt.timedelta(days=1))
        group = uow.persons.add_group(SpecialGroup(person.id, kind, valid_from, valid_to))
        uow.commit()
    return group


def record_death(
    uow: UnitOfWork, who: str | int, on: dt.date, *, actor: str, role: str = "cli"
) -> Person:
    """Record a person's date of death (死亡日期), audited (``audit_log``: who, when, the
    date). From that day no settlement is made (rule ``dead_or_uninsured``, refused by 2207,
    warned by 2206) and the batch run finds the settlements on or after it. A date in the
    future or before birth is refused, and so is another date than one already recorded;
    recording the same date again changes nothing."""
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        check_death(person, on, clock.today())
        if person.died_on == on:
            return person
        uow.persons.set_died_on(person.id, on)
        ApiRepository(uow.session).audit(
            AuditEntry(
                actor,
                role,
                "registry:death",
                person_id=person.id,
                target=f"person:{person.id}",
                detail=f"died on {on.isoformat()}",
            )
        )
        uow.commit()
        return dataclasses.replace(person, died_on=on)
