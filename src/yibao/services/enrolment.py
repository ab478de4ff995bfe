"""Enrolment use cases: enrol, suspend, resume, terminate, transfer (area or scheme)."""

from __future__ import annotations

import datetime as dt

from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import Enrolment, EnrolmentEvent, EnrolmentKind, EventKind
from yibao.domain.errors import DuplicateEnrolment, EnrolmentStateError, InvalidField
from yibao.domain.ids import NotStored
from yibao.domain.registry import Person
from yibao.policy import ParameterError
from yibao.rules.retirement import retirement_backpay, retirement_years
from yibao.services import clock
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.services.contributions import post_retirement_backpay
from yibao.store.uow import UnitOfWork

EMPLOYEE_MONTH_KINDS = (ContributionKind.EMPLOYEE, ContributionKind.FLEXIBLE)
RESIDENT_YEAR_KINDS = (ContributionKind.RESIDENT, ContributionKind.REPAIR)


def _kind(kind: EnrolmentKind | str) -> EnrolmentKind:
    try:
        return EnrolmentKind(kind)
    except ValueError as exc:
        raise InvalidField(
            "kind", f"must be one of {[k.value for k in EnrolmentKind]}", kind
        ) from exc


def _carried(uow: UnitOfWork, previous: Enrolment | None) -> tuple[int, int]:
    """Contribution months (employee) and years (resident) up to the end of ``previous``."""
    if previous is None or previous.id is None:
        return 0, 0
    months = uow.contributions.count_by_kind(previous.id, EMPLOYEE_MONTH_KINDS)
    years = uow.contributions.count_by_kind(previous.id, RESIDENT_YEAR_KINDS)
    return (
        previous.carried_employee_months + months,
        previous.carried_resident_years + years,
    )


def _retirement(
    uow: UnitOfWork,
    person: Person,
    kind: EnrolmentKind,
    previous: Enrolment | None,
    area: str,
    on: dt.date,
    actual_months: int,
    deemed_months: int,
    back_pay: bool,
    policy: PolicySource,
) -> str | None:
    """Rule 3 (retirement): becoming a retiree needs the minimum contribution years (actual +
    deemed) or the one-off back-payment of the months missing, posted here. A retiree moving
    on (another area) was checked when retiring. Returns what the enrolment event records
    (the back-payment, if any)."""
    if kind is not EnrolmentKind.RETIREE:
        if deemed_months:
            raise InvalidField(
                "deemed_months", "only counted for a retiree enrolment", deemed_months
            )
        if back_pay:
            raise InvalidField("back_pay", "only for a retiree enrolment", back_pay)
        return None
    if previous is not None and previous.kind is EnrolmentKind.RETIREE:
        return None
    years = retirement_years(policy(area), on, person.sex.value, actual_months, deemed_months)
    missing = years.missing_months
    if not missing:
        if back_pay:
            raise InvalidField("back_pay", f"nothing to back-pay: {years.describe()}", back_pay)
        return None
    if not back_pay:
        try:
            back = retirement_backpay(policy(area), on, missing)
            lump = (
                f" of {back.amount} fen ({missing} months × {back.monthly_base} fen × {back.rate})"
            )
        except ParameterError:  # no base on that date: refused all the same
            lump = ""
        raise InvalidField(
            "kind",
            f"retiree refused: {years.describe()}, {missing} months missing; the one-off"
            f" back-payment{lump} must be recorded with the enrolment (back_pay, --back-pay)",
            kind.value,
        )
    back = retirement_backpay(policy(area), on, missing)
    txn = post_retirement_backpay(uow, person, area, back)
    return (
        f"retiree: {years.describe()}; {missing} months back-paid, {back.amount} fen"
        f" (transaction #{txn})"
    )


def new_enrolment(
    person_id: int,
    kind: EnrolmentKind,
    area: str,
    on: dt.date,
    *,
    employer_code: str | None = None,
    previous: Enrolment | None = None,
    carried: tuple[int, int] = (0, 0),
) -> Enrolment:
    """The enrolment record (pure): active from ``on``, after ``previous``, with the employee
    months and resident years ``carried`` from earlier enrolments. ``enrol``, ``transfer`` and
    the bulk load of an area write these."""
    return Enrolment(
        id=None,
        person_id=person_id,
        kind=kind,
        pooling_area=area,
        start_date=on,
        employer_code=employer_code or None,
        previous_id=previous.id if previous else None,
        carried_employee_months=carried[0],
        carried_resident_years=carried[1],
    )


def _open(uow: UnitOfWork, person: Person, action: str) -> Enrolment:
    if person.id is None:
        raise NotStored("person")
    enrolment = uow.enrolments.open_for(person.id, lock=True)
    if enrolment is None:
        latest = uow.enrolments.latest_for(person.id)
        state = latest.describe() if latest else "never enrolled"
        raise EnrolmentStateError(f"person {person.label}", action, f"no open enrolment ({state})")
    return enrolment


def enrol(
    uow: UnitOfWork,
    who: str | int,
    kind: EnrolmentKind | str,
    pooling_area: str,
    on: dt.date,
    *,
    employer_code: str | None = None,
    deemed_months: int = 0,
    back_pay: bool = False,
    policies: PolicySource = policy_for,
) -> Enrolment:
    """Enrol a person; refused (naming the existing enrolment) if already enrolled. A retiree
    needs the minimum contribution years: the months carried from earlier enrolments plus
    ``deemed_months`` (视同缴费), or ``back_pay``: the one-off back-payment of the rest,
    posted to the employee pooling fund in the same transaction."""
    kind = _kind(kind)
    clock.not_far_ahead("on", on)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        existing = uow.enrolments.open_for(person.id, lock=True)
        if existing is not None:
            raise DuplicateEnrolment(person.label, existing.describe(), existing.id)
        latest = uow.enrolments.latest_for(person.id)
        if latest is not None and latest.end_date is not None and on <= latest.end_date:
            raise InvalidField("on", f"{on.isoformat()} overlaps {latest.describe()}", on)
        months, years = _carried(uow, latest)
        detail = _retirement(
            uow, person, kind, latest, pooling_area, on, months, deemed_months, back_pay, policies
        )
        enrolment = uow.enrolments.add(
            new_enrolment(
                person.id,
                kind,
                pooling_area,
                on,
                employer_code=employer_code,
                previous=latest,
                carried=(months, years),
            ),
            person.label,
        )
        if enrolment.id is None:
            raise NotStored("enrolment")
        uow.enrolments.add_event(EnrolmentEvent(enrolment.id, EventKind.ENROL, on, detail))
        uow.commit()
    return enrolment


def suspend(uow: UnitOfWork, who: str | int, on: dt.date, reason: str | None = None) -> Enrolment:
    with uow:
        enrolment = _open(uow, find_person(uow, who), "suspend")
        enrolment.suspend(on)
        uow.enrolments.save(enrolment)
        if enrolment.id is None:
            raise NotStored("enrolment")
        uow.enrolments.add_event(EnrolmentEvent(enrolment.id, EventKind.SUSPEND, on, reason))
        uow.commit()
    return enrolment


def resume(uow: UnitOfWork, who: str | int, on: dt.date) -> Enrolment:
    with uow:
        enrolment = _open(uow, find_person(uow, who), "resume")
        enrolment.resume(on)
        uow.enrolments.save(enrolment)
        if enrolment.id is None:
            raise NotStored("enrolment")
        uow.enrolments.add_event(EnrolmentEvent(enrolment.id, EventKind.RESUME, on))
        uow.commit()
    return enrolment


def terminate(uow: UnitOfWork, who: str | int, on: dt.date, reason: str | None = None) -> Enrolment:
    """End coverage on ``on`` (its last covered day)."""
    with uow:
        enrolment = _open(uow, find_person(uow, who), "terminate")
        enrolment.terminate(on, reason)
        uow.enrolments.save(enrolment)
        if enrolment.id is None:
            raise NotStored("enrolment")
        uow.enrolments.add_event(EnrolmentEvent(enrolment.id, EventKind.TERMINATE, on, reason))
        uow.commit()
    return enrolment


def transfer(
    uow: UnitOfWork,
    who: str | int,
    on: dt.date,
    *,
    to_area: str | None = None,
    to_kind: EnrolmentKind | str | None = None,
    employer_code: str | None = None,
    reason: str | None = None,
    deemed_months: int = 0,
    back_pay: bool = False,
    policies: PolicySource = policy_for,
) -> tuple[Enrolment, Enrolment]:
    """Move to another pooling area and/or scheme from ``on``; contribution years are carried.
    Retiring (to a retiree enrolment) is checked as ``enrol`` checks it. Returns (old, new)."""
    new_kind = _kind(to_kind) if to_kind is not None else None
    with uow:
        person = find_person(uow, who)
        old = _open(uow, person, "transfer")
        kind = new_kind or old.kind
        area = to_area or old.pooling_area
        if kind is EnrolmentKind.EMPLOYER:
            employer = employer_code or (old.employer_code if old.kind is kind else None)
        else:
            employer = None
        if kind is old.kind and area == old.pooling_area and employer == old.employer_code:
            raise InvalidField("to", "the transfer changes neither area, scheme nor employer")
        what = []
        if area != old.pooling_area:
            what.append(f"area {old.pooling_area} -> {area}")
        if kind is not old.kind:
            what.append(f"{old.kind.value} -> {kind.value}")
        if employer != old.employer_code and kind is old.kind:
            what.append(f"employer {old.employer_code} -> {employer}")
        detail = "; ".join(what) + (f" ({reason})" if reason else "")
        months, years = _carried(uow, old)
        retired = _retirement(
            uow, person, kind, old, area, on, months, deemed_months, back_pay, policies
        )
        old.transfer_out(on, detail)
        uow.enrolments.save(old)
        uow.flush()
        if old.id is None:
            raise NotStored("enrolment")
        new = uow.enrolments.add(
            new_enrolment(
                old.person_id,
                kind,
                area,
                on,
                employer_code=employer,
                previous=old,
                carried=(months, years),
            ),
            person.label,
        )
        if new.id is None:
            raise NotStored("enrolment")
        uow.enrolments.add_event(EnrolmentEvent(old.id, EventKind.TRANSFER_OUT, on, detail))
        uow.enrolments.add_event(
            EnrolmentEvent(
                new.id, EventKind.TRANSFER_IN, on, detail + (f"; {retired}" if retired else "")
            )
        )
        uow.commit()
    return old, new


def contribution_totals(uow: UnitOfWork, who: str | int) -> tuple[int, int]:
    """(employee contribution months, resident contribution years) including carried ones."""
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        latest = uow.enrolments.latest_for(person.id)
        return _carried(uow, latest)
