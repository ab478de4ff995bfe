"""Visits (就诊登记): register one (2201) and cancel one (2202)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from yibao.domain.errors import InvalidField, NotFound, SettlementRefused
from yibao.domain.fees import Diagnosis
from yibao.domain.ids import NotStored
from yibao.domain.settlement import Visit, VisitStatus
from yibao.domain.text import check_identifier
from yibao.services import clock
from yibao.services.common import find_person
from yibao.services.person_file import covering_enrolment
from yibao.services.settlement.common import new_id, not_after_today
from yibao.store.uow import UnitOfWork


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
    not_after_today("begntime", begin_date)
    check_identifier("fixmedins_code", fixmedins_code)
    if mdtrt_id is not None:
        check_identifier("mdtrt_id", mdtrt_id)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        covering_enrolment(person, uow.enrolments.history(person.id), begin_date)
        visit = uow.settlements.add_visit(
            Visit(
                mdtrt_id=mdtrt_id or new_id("V"),
                person_id=person.id,
                fixmedins_code=fixmedins_code,
                med_type=med_type,
                level=level,
                begin_date=begin_date,
                cross_region=cross_region,
            )
        )
        if diagnoses:
            assert visit.id is not None
            uow.fees.set_diagnoses(visit.id, diagnoses)
        uow.commit()
    return visit


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
