"""Enrolment over time (参保登记): a person is in at most one scheme at a time.

Dates: ``start_date`` is the first covered day, ``end_date`` the last (inclusive). A transfer on
day D ends the old enrolment on D − 1 and starts the new one on D.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from yibao.domain.errors import EnrolmentStateError, InvalidField
from yibao.domain.registry import check_area
from yibao.policy.vocab import InsuranceScheme, InsuredCategory

#: The scheme of an enrolment (险种): ``policy.vocab.InsuranceScheme`` by its domain name.
Scheme = InsuranceScheme


class EnrolmentKind(StrEnum):
    EMPLOYER = "employer"  # employee enrolled by an employer
    FLEXIBLE = "flexible"  # 灵活就业人员
    RETIREE = "retiree"
    RESIDENT = "resident"

    @property
    def category(self) -> InsuredCategory:
        """How the enrolled person is insured, as the rules and the kernel name it."""
        return _CATEGORY[self]

    @property
    def scheme(self) -> Scheme:
        return self.category.scheme


_CATEGORY = {
    EnrolmentKind.EMPLOYER: InsuredCategory.EMPLOYEE,
    EnrolmentKind.FLEXIBLE: InsuredCategory.FLEXIBLE,
    EnrolmentKind.RETIREE: InsuredCategory.RETIREE,
    EnrolmentKind.RESIDENT: InsuredCategory.RESIDENT,
}


class Status(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    TRANSFERRED = "transferred"


#: Statuses that count as "enrolled": at most one such enrolment per person (DB-enforced).
OPEN_STATUSES = (Status.ACTIVE, Status.SUSPENDED)


class EventKind(StrEnum):
    ENROL = "enrol"
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"


@dataclass(frozen=True, slots=True)
class EnrolmentEvent:
    enrolment_id: int
    kind: EventKind
    on: dt.date
    detail: str | None = None


@dataclass(slots=True)
class Enrolment:
    id: int | None
    person_id: int
    kind: EnrolmentKind
    pooling_area: str
    start_date: dt.date
    status: Status = Status.ACTIVE
    end_date: dt.date | None = None
    employer_code: str | None = None
    suspended_on: dt.date | None = None
    end_reason: str | None = None
    previous_id: int | None = None
    carried_employee_months: int = 0  # contribution months brought from earlier enrolments
    carried_resident_years: int = 0

    def __post_init__(self) -> None:
        check_area(self.pooling_area)
        if self.kind is EnrolmentKind.EMPLOYER and not self.employer_code:
            raise InvalidField("employer_code", "an employer enrolment names its employer")
        if self.kind is not EnrolmentKind.EMPLOYER and self.employer_code:
            raise InvalidField("employer_code", f"a {self.kind} enrolment has no employer")

    @property
    def scheme(self) -> Scheme:
        return self.kind.scheme

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def covers(self, on: dt.date) -> bool:
        return self.start_date <= on and (self.end_date is None or on <= self.end_date)

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return self.start_date <= last and (self.end_date is None or self.end_date >= first)

    def describe(self) -> str:
        who = f", employer {self.employer_code}" if self.employer_code else ""
        state = f"{self.status.value} since {self.start_date.isoformat()}"
        if self.status is Status.SUSPENDED and self.suspended_on:
            state = f"suspended since {self.suspended_on.isoformat()}"
        elif self.end_date is not None:
            state = f"{self.status.value}, ended {self.end_date.isoformat()}"
        ident = f"#{self.id}" if self.id is not None else "(new)"
        return (
            f"enrolment {ident} ({self.scheme.value} scheme, {self.kind.value}{who}, "
            f"area {self.pooling_area}, {state})"
        )

    def _refuse(self, action: str, reason: str) -> EnrolmentStateError:
        return EnrolmentStateError(self.describe(), action, reason)

    def suspend(self, on: dt.date) -> None:
        if self.status is not Status.ACTIVE:
            raise self._refuse("suspend", f"it is {self.status.value}")
        if on < self.start_date:
            raise self._refuse("suspend", f"{on.isoformat()} is before its start")
        self.status = Status.SUSPENDED
        self.suspended_on = on

    def resume(self, on: dt.date) -> None:
        if self.status is not Status.SUSPENDED:
            raise self._refuse("resume", f"it is {self.status.value}")
        if self.suspended_on is not None and on < self.suspended_on:
            raise self._refuse("resume", f"{on.isoformat()} is before the suspension")
        self.status = Status.ACTIVE
        self.suspended_on = None

    def terminate(self, on: dt.date, reason: str | None = None) -> None:
        """Coverage ends on ``on`` (last covered day)."""
        if not self.is_open:
            raise self._refuse("terminate", f"it is already {self.status.value}")
        if on < self.start_date:
            raise self._refuse("terminate", f"{on.isoformat()} is before its start")
        self.status = Status.TERMINATED
        self.end_date = on
        self.end_reason = reason

    def transfer_out(self, on: dt.date, reason: str) -> None:
        """The successor starts on ``on``; this one ends the day before."""
        if not self.is_open:
            raise self._refuse("transfer", f"it is already {self.status.value}")
        if on <= self.start_date:
            raise self._refuse("transfer", f"{on.isoformat()} is not after its start")
        self.status = Status.TRANSFERRED
        self.end_date = on - dt.timedelta(days=1)
        self.end_reason = reason


class CoverageStatus(StrEnum):
    INSURED = "insured"
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class CoverageYear:
    """One person's coverage in one calendar year, read by waiting-period and incentive rules."""

    person_id: int
    year: int
    status: CoverageStatus
    scheme: Scheme | None = None
    pooling_area: str | None = None
    paid_on: dt.date | None = None
    repaired: bool = False  # a lapsed year paid back (补缴)
    fund_paid: int = 0  # fen the funds paid for this person in the year
    continuous_years: int = 0  # consecutive insured years ending with this one
    zero_claim: bool = False  # insured and the funds paid nothing (set at year-end)
    closed: bool = False


def covering_or_last(history: Sequence[Enrolment], on: dt.date) -> Enrolment | None:
    """The enrolment whose pooling area a person's benefit is arranged in on ``on`` (a chronic
    certification, a 惠民保 purchase): the last one covering ``on``, else the latest one (None:
    never enrolled). ``history`` oldest first."""
    return next((e for e in reversed(history) if e.covers(on)), None) or (
        history[-1] if history else None
    )
