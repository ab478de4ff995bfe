"""Visits (就诊登记): register one (2201) and cancel one (2202)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import (
    AlreadyExists,
    InvalidField,
    NotFound,
    RecordError,
    SettlementRefused,
)
from yibao.domain.fees import Diagnosis
from yibao.domain.ids import NotStored
from yibao.domain.settlement import Visit, VisitStatus
from yibao.domain.text import check_identifier
from yibao.policy import ParameterError
from yibao.policy.vocab import InstitutionKind
from yibao.rules.institutions import check_claim_at, institution_terms
from yibao.services import clock
from yibao.services.common import find_person, policy_for
from yibao.services.person_file import covering_enrolment
from yibao.services.settlement.common import (
    PersonOf,
    new_id,
    not_after_today,
    people_and_histories,
)
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork


@dataclass(frozen=True)
class Registration:
    """A visit to register (2201): the person (national ID or person id), the institution, the
    med type and level, the first day, and optionally the cross-region kind, the caller's
    ``mdtrt_id`` and the admission diagnoses (principal first)."""

    who: str | int
    fixmedins_code: str
    med_type: str
    level: int
    begin_date: dt.date
    cross_region: str = "none"
    mdtrt_id: str | None = None
    diagnoses: Sequence[Diagnosis] = ()


def _checked(reg: Registration) -> None:
    not_after_today("begntime", reg.begin_date)
    check_identifier("fixmedins_code", reg.fixmedins_code)
    if reg.mdtrt_id is not None:
        check_identifier("mdtrt_id", reg.mdtrt_id)


def register_visits(
    uow: UnitOfWork,
    registrations: Sequence[Registration],
    *,
    person_of: PersonOf | None = None,
    histories: Mapping[int, list[Enrolment]] | None = None,
    visit_ids: Sequence[int] | None = None,
    kinds: Mapping[str, str | None] | None = None,
) -> list[Visit | RecordError | ParameterError]:
    """Register many visits inside a unit of work the caller opened and commits (the API's
    batches): one read of the persons with their enrolments, one of the ``mdtrt_id``s given,
    one of the institutions' kinds, one insert. Each registration gets its visit or its
    refusal, as ``register_visit`` would give it alone; a refused one does not stop the others.
    A caller that has read them already gives ``person_of`` (``common.people`` of the
    registrations' persons), ``histories`` (the enrolments of those found, as
    ``common.people_and_histories`` reads them: with ``person_of`` only), ``visit_ids`` (new
    ids reserved with them, used when they suffice) and ``kinds`` ({code: kind, or None when
    not registered} of their institutions), which are then not read again (a code not in
    ``kinds`` is)."""
    out: list[Visit | RecordError | ParameterError | None] = [None] * len(registrations)
    for i, reg in enumerate(registrations):
        try:
            _checked(reg)
        except (RecordError, ParameterError) as exc:
            out[i] = exc
    todo = [i for i, o in enumerate(out) if o is None]
    if person_of is None:
        person_of, histories, visit_ids = people_and_histories(
            uow, [registrations[i].who for i in todo], new_visits=len(todo)
        )
    found = {i: person_of(registrations[i].who) for i in todo}
    if histories is None:
        ids = sorted({p.id for p in found.values() if p is not None and p.id is not None})
        histories = uow.enrolments.histories(ids)[0] if ids else {}
    given = [registrations[i].mdtrt_id for i in todo if registrations[i].mdtrt_id]
    taken = set(uow.settlements.visits(m for m in given if m is not None))
    known: dict[str, str | None] = dict(kinds or {})
    unread = {registrations[i].fixmedins_code for i in todo} - known.keys()
    if unread:  # the kinds not given
        read = ApiRepository(uow.session).institution_kinds(unread)
        known.update({c: read.get(c) for c in unread})
    new: list[tuple[int, Visit]] = []
    for i in todo:
        reg, person = registrations[i], found[i]
        try:
            if person is None:
                find_person(uow, reg.who)  # raises the refusal of an unknown person
                raise NotFound("person", reg.who)
            if person.id is None:
                raise NotStored("person")
            enrolment = covering_enrolment(person, histories.get(person.id, []), reg.begin_date)
            kind = known[reg.fixmedins_code]
            if kind is None:  # not registered
                kind = InstitutionKind.HOSPITAL.value
            if kind != InstitutionKind.HOSPITAL.value:  # a village clinic, a pharmacy
                terms = institution_terms(policy_for(enrolment.pooling_area), kind, reg.begin_date)
                check_claim_at(terms, reg.med_type, reg.level)
            if reg.mdtrt_id is not None and reg.mdtrt_id in taken:
                raise AlreadyExists("visit", reg.mdtrt_id)
        except (RecordError, ParameterError) as exc:
            out[i] = exc
            continue
        mdtrt_id = reg.mdtrt_id or new_id("V")
        taken.add(mdtrt_id)
        new.append((i, _visit(reg, person.id, mdtrt_id)))
    # one visit alone: a clash with a concurrent registration is refused (``add_visit``); many
    # in one insert: such a clash fails the caller's transaction
    if len(new) == 1:
        stored = [uow.settlements.add_visit(new[0][1])]
    else:  # ids reserved in one statement, rows by COPY: no statement text per batch size
        fresh: list[int] | None = None
        if visit_ids is not None and len(visit_ids) >= len(new):
            fresh = list(visit_ids[: len(new)])
        else:
            reserved = uow.settlements.reserve_ids(len(new), 0, 0)
            fresh = reserved[0] if reserved else None
        stored = uow.settlements.add_visits([v for _, v in new], fresh)
    for (i, _), visit in zip(new, stored, strict=True):
        out[i] = visit
        if registrations[i].diagnoses:
            assert visit.id is not None
            uow.fees.set_diagnoses(visit.id, registrations[i].diagnoses)
    done = [o for o in out if o is not None]
    assert len(done) == len(registrations)
    return done


def _visit(reg: Registration, person_id: int, mdtrt_id: str) -> Visit:
    return Visit(
        mdtrt_id=mdtrt_id,
        person_id=person_id,
        fixmedins_code=reg.fixmedins_code,
        med_type=reg.med_type,
        level=reg.level,
        begin_date=reg.begin_date,
        cross_region=reg.cross_region,
    )


def register_visit(
    uow: UnitOfWork,
    who: str | int,
    fixmedins_code: str,
    med_type: str,
    level: int,
    begin_date: dt.date,
    *,
    cross_region: str = "none",
    mdtrt_id: str | None = None,
    diagnoses: Sequence[Diagnosis] = (),
) -> Visit:
    """Register a visit (2201), with its admission diagnoses if given (principal first). The
    person must be enrolled on ``begin_date``, not later than today."""
    reg = Registration(
        who, fixmedins_code, med_type, level, begin_date, cross_region, mdtrt_id, diagnoses
    )
    with uow:
        found = register_visits(uow, [reg])[0]
        if not isinstance(found, Visit):
            raise found
        uow.commit()
    return found


def cancel_visit(uow: UnitOfWork, mdtrt_id: str, on: dt.date | None = None) -> Visit:
    """Cancel a registered visit (2202); refused while a settlement of it is in force."""
    day = on or clock.today()
    not_after_today("date", day)
    with uow:
        visit = uow.settlements.visit(mdtrt_id, lock=True)
        if visit is None:
            raise NotFound("visit", mdtrt_id)
        if visit.id is None:
            raise NotStored("visit")
        if visit.status is VisitStatus.CANCELLED:
            raise SettlementRefused(f"visit {mdtrt_id}", "already cancelled")
        setl_id = uow.settlements.settled_on_visit(visit.id)
        if setl_id is not None:
            raise SettlementRefused(
                f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it first"
            )
        if day < visit.begin_date:
            raise InvalidField("cancelled_on", "is before the visit began", day)
        uow.settlements.cancel_visit(visit.id, day)
        uow.commit()
        found = uow.settlements.visit(mdtrt_id)
        assert found is not None
    return found
