"""What the settlement steps share: new ids, the not-after-today check, persons by reference."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping

from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import InvalidField
from yibao.domain.masking import holds_national_id
from yibao.domain.registry import Person
from yibao.services import clock
from yibao.store.uow import UnitOfWork


def new_id(prefix: str) -> str:
    """A new visit (V), settlement (S) or request (R) id. Never one that ends in 18 digits:
    answers to callers who may not see national IDs mask anything that looks like one
    (``domain.masking``), which would hand the caller a mangled id (about 1 in 5,000 ids)."""
    while True:
        candidate = f"{prefix}{uuid.uuid4().hex[:24].upper()}"
        if not holds_national_id(candidate):
            return candidate


def not_after_today(field: str, day: dt.date) -> None:
    """Refuse a settlement, visit or reversal dated after today (``clock.today``)."""
    today = clock.today()
    if day > today:
        raise InvalidField(field, f"{day.isoformat()} is after today ({today.isoformat()})", day)


#: A person by national ID (str) or id (int), or None when not found.
PersonOf = Callable[[str | int], Person | None]


def people_and_histories(
    uow: UnitOfWork, refs: Iterable[str | int], *, new_visits: int = 0
) -> tuple[PersonOf, dict[int, list[Enrolment]], list[int] | None]:
    """``people`` of ``refs``, the enrolments of the persons found
    (``EnrolmentRepository.histories``) and, on PostgreSQL, ``new_visits`` new visit ids
    (None: none reserved), in one query (``PersonRepository.with_histories``)."""
    refs = list(refs)
    files = uow.persons.with_histories(
        (r for r in refs if isinstance(r, str)),
        (r for r in refs if isinstance(r, int)),
        new_visits=new_visits,
    )
    return _lookup(files.by_nid, files.by_id), files.histories, files.visit_ids


def people(uow: UnitOfWork, refs: Iterable[str | int]) -> PersonOf:
    """The persons named by national ID (str) or id (int), read in two queries."""
    refs = list(refs)
    by_nid = uow.persons.find_many(r for r in refs if isinstance(r, str))
    by_id = uow.persons.get_many(r for r in refs if isinstance(r, int))
    return _lookup(by_nid, by_id)


def _lookup(by_nid: Mapping[str, Person], by_id: Mapping[int, Person]) -> PersonOf:
    """A person by national ID (as stored: stripped, upper case) or id, from what was read."""

    def person(ref: str | int) -> Person | None:
        return by_id.get(ref) if isinstance(ref, int) else by_nid.get(ref.strip().upper())

    return person
