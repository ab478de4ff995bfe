"""Certified chronic and special diseases (门诊慢特病认定): a clerk certifies a person for a
disease of the area's list (``chronic_diseases``), renews the certification, or ends it; each
action is kept in the certification's audit trail. A chronic claim is then paid only for a
disease certified on its date (``rules.chronic.certified_disease``, ``kernel.layers.chronic``).

Refused, changing nothing: a disease code missing or not on the area's list on the start date, a
start date in the past (a certification is made from today on, never backdated) or more than one
validity period ahead (``rules.chronic.latest_start``; a renewal too), a second
certification of the same disease overlapping one in force, renewing or ending an ended
certification, an end before the certification's start or in the past.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.domain.enrolment import covering_or_last
from yibao.domain.errors import AlreadyExists, InvalidField, NotFound
from yibao.domain.registry import Person
from yibao.policy.chronic import chronic_diseases
from yibao.rules.chronic import latest_start, renewed_until, valid_until, validity_months
from yibao.services import clock
from yibao.services.clock import today
from yibao.services.common import PolicySource, policy_for, stored_person
from yibao.store.chronic_models import ChronicCertificationRow
from yibao.store.uow import UnitOfWork

ACTIVE, ENDED = "active", "ended"


@dataclass(frozen=True)
class CertificationView:
    """A certification as the edges show it."""

    id: int
    person: str
    area: str
    disease: str
    name: str
    valid_from: dt.date
    valid_to: dt.date
    status: str
    person_id: int  # the stored person's (for the audit; not shown)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "person": self.person,
            "area": self.area,
            "disease": self.disease,
            "name": self.name,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat(),
            "status": self.status,
        }


def _view(
    row: ChronicCertificationRow, person: Person, policies: PolicySource
) -> CertificationView:
    listed = chronic_diseases(policies(row.area), row.valid_from).get(row.disease)
    name = listed.name if listed is not None else row.disease
    return CertificationView(
        row.id, str(person.national_id), row.area, row.disease, name, row.valid_from, row.valid_to,
        row.status, row.person_id,
    )  # fmt: skip


def _area(uow: UnitOfWork, person: Person, person_id: int, on: dt.date) -> str:
    """The pooling area whose list the certification is made against: the enrolment covering
    ``on``, else the person's latest enrolment; a person never enrolled is refused."""
    chosen = covering_or_last(uow.enrolments.history(person_id), on)
    if chosen is None:
        raise InvalidField("person", f"{person.label} has no enrolment: not insured")
    return chosen.pooling_area


def _code(disease: str | None) -> str:
    code = (disease or "").strip().upper()
    if not code:
        raise InvalidField("disease", "a disease code is required (门诊慢特病病种编码)", disease)
    return code


def certify(
    uow: UnitOfWork,
    who: str | int,
    disease: str | None,
    valid_from: dt.date | None = None,
    *,
    actor: str = "cli",
    policies: PolicySource = policy_for,
) -> CertificationView:
    """Certify ``who`` for ``disease`` from ``valid_from`` (default today) for the area's
    validity period (``chronic_certification.valid_months``)."""
    code = _code(disease)
    now = today()
    start = valid_from or now
    if start < now:
        raise InvalidField(
            "valid_from", f"{start} is in the past: a certification starts today or later", start
        )
    with uow:
        person, pid = stored_person(uow, who)
        area = _area(uow, person, pid, start)
        policy = policies(area)
        latest = latest_start(now, validity_months(policy, now))
        if start > latest:
            raise InvalidField(
                "valid_from",
                f"{start} is more than one validity period ahead: a certification starts by "
                f"{latest}",
                start,
            )
        listed = chronic_diseases(policy, start)
        if code not in listed:
            raise InvalidField(
                "disease",
                f"{code} is not on the list of chronic and special diseases of {area} on {start}",
                code,
            )
        end = valid_until(start, validity_months(policy, start))
        for other in uow.chronic.of_person(pid, lock=True):
            if other.disease == code and other.valid_from <= end and start <= other.valid_to:
                raise AlreadyExists(
                    "certification",
                    f"of {code} for {person.label} ({other.valid_from} to {other.valid_to})",
                )
        row = uow.chronic.add(pid, area, code, start, end)
        uow.chronic.act(row.id, "certify", actor, clock.now(), f"{code} {start} to {end}")
        view = _view(row, person, policies)
        uow.commit()
    return view


def renew(
    uow: UnitOfWork,
    cert_id: int,
    *,
    actor: str = "cli",
    policies: PolicySource = policy_for,
) -> CertificationView:
    """Renew a certification: its validity period again, from the day after its last day (or
    from today when it has lapsed)."""
    with uow:
        row = uow.chronic.get(cert_id, lock=True)
        if row.status != ACTIVE:
            raise InvalidField("certification", f"certification {cert_id} is ended", cert_id)
        now = today()
        policy = policies(row.area)
        if row.disease not in chronic_diseases(policy, max(now, row.valid_to)):
            raise InvalidField(
                "disease", f"{row.disease} is no longer on the list of {row.area}", row.disease
            )
        before, months = row.valid_to, validity_months(policy, now)
        if before + dt.timedelta(days=1) > latest_start(now, months):
            raise InvalidField(
                "certification",
                f"certification {cert_id} is valid to {before}, more than one validity period "
                "ahead: renew it later",
                cert_id,
            )
        row.valid_to = renewed_until(before, now, months)
        uow.chronic.act(row.id, "renew", actor, clock.now(), f"valid to {before} -> {row.valid_to}")
        view = _view(row, uow.persons.get(row.person_id), policies)
        uow.commit()
    return view


def end(
    uow: UnitOfWork,
    cert_id: int,
    last_day: dt.date | None = None,
    *,
    actor: str = "cli",
    reason: str = "",
    policies: PolicySource = policy_for,
) -> CertificationView:
    """End a certification: ``last_day`` (default today) is the last day it covers. It cannot
    end in the past (claims already paid under it stay paid) nor before it starts."""
    now = today()
    day = last_day or now
    if day < now:
        raise InvalidField("last_day", f"{day} is in the past: a certification ends today or later")
    with uow:
        row = uow.chronic.get(cert_id, lock=True)
        if row.status != ACTIVE:
            raise InvalidField("certification", f"certification {cert_id} is ended", cert_id)
        if day < row.valid_from:
            raise InvalidField(
                "last_day", f"{day} is before the certification starts ({row.valid_from})", day
            )
        before = row.valid_to
        row.valid_to = min(day, before)
        row.status = ENDED
        detail = f"ended, last day {row.valid_to} (was {before})" + (
            f": {reason}" if reason else ""
        )
        uow.chronic.act(row.id, "end", actor, clock.now(), detail[:500])
        view = _view(row, uow.persons.get(row.person_id), policies)
        uow.commit()
    return view


def listing(
    uow: UnitOfWork, who: str | int, *, policies: PolicySource = policy_for
) -> list[CertificationView]:
    """The person's certifications, oldest first."""
    with uow:
        person, pid = stored_person(uow, who)
        return [_view(r, person, policies) for r in uow.chronic.of_person(pid)]


def certification(
    uow: UnitOfWork, cert_id: int, *, policies: PolicySource = policy_for
) -> tuple[CertificationView, int]:
    """One certification and its person's number."""
    with uow:
        row = uow.chronic.get(cert_id)
        return _view(row, uow.persons.get(row.person_id), policies), row.person_id


def diseases_for(
    uow: UnitOfWork, who: str | int, on: dt.date, *, policies: PolicySource = policy_for
) -> list[tuple[str, str]]:
    """(code, name) of the diseases the person may be certified for on ``on``: the list of the
    area ``certify`` would use; empty for a person never enrolled."""
    with uow:
        person, pid = stored_person(uow, who)
        try:
            area = _area(uow, person, pid, on)
        except InvalidField:
            return []
    return [(code, d.name) for code, d in chronic_diseases(policies(area), on).items()]


def history(uow: UnitOfWork, cert_id: int) -> list[dict[str, Any]]:
    """A certification's audit trail: each action, by whom, when."""
    with uow:
        uow.chronic.get(cert_id)
        return [
            {"action": a.action, "actor": a.actor, "at": a.at.isoformat(), "detail": a.detail}
            for a in uow.chronic.actions(cert_id)
        ]


__all__ = [
    "CertificationView",
    "NotFound",
    "certification",
    "certify",
    "diseases_for",
    "end",
    "history",
    "listing",
    "renew",
]
