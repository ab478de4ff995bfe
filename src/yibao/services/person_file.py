"""What a settlement reads of a person (参保档案), loaded for many persons at once, and the rules
that read it: the covering enrolment, entitlement and waiting period (待遇等待期), the
critical-illness incentive raise (大病保险激励), the medical-assistance class (医疗救助对象) and the
family mutual-aid link (家庭共济) that pays.

``load_files`` reads every person of a batch at once (enrolments with their first payments,
coverage years with what the funds paid in them, special groups, mutual-aid links, certified
chronic diseases, commercial insurance purchases: one statement on PostgreSQL,
``store.repositories.person_files``), so settling 64 claims costs the same reads as settling
one; ``read_files`` reads the epidemics of the persons' areas with them.
The functions below are pure: they see only the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import (
    CoverageStatus,
    CoverageYear,
    Enrolment,
    EnrolmentKind,
    Scheme,
    Status,
)
from yibao.domain.errors import SettlementRefused
from yibao.domain.ids import NotStored
from yibao.domain.registry import ASSISTANCE_CLASSES, MutualAidLink, Person, SpecialGroup
from yibao.kernel.tables import AID_CLASSES
from yibao.policy import Policy
from yibao.rules.chronic import Certification
from yibao.rules.commercial import Cover
from yibao.rules.epidemics import EpidemicTerms
from yibao.rules.incentives import YearRecord, incentives
from yibao.rules.waiting import Enrolment as WaitingEnrolment
from yibao.rules.waiting import Person as WaitingPerson
from yibao.rules.waiting import gap_months, restarts_wait, waiting_period
from yibao.store.repositories import FileRows
from yibao.store.uow import UnitOfWork

#: Contribution kinds whose first payment starts an employee's entitlement.
EMPLOYEE_MONTHS = (ContributionKind.EMPLOYEE, ContributionKind.FLEXIBLE)
#: ... and the first payment a resident enrolment made (an enrolment has one kind: no mixing).
FIRST_PAID = (*EMPLOYEE_MONTHS, ContributionKind.RESIDENT)


@dataclass(frozen=True)
class PersonFile:
    person: Person
    enrolments: list[Enrolment]  # by start date
    groups: list[SpecialGroup]  # every special group, with its validity dates
    coverage: list[CoverageYear]  # by year
    first_paid: dict[int, dt.date]  # enrolment id -> first employee/flexible month (or resident
    # year) paid
    fund_paid: dict[int, int]  # year -> what the funds paid by settlements in force
    links: list[MutualAidLink]  # mutual-aid links paying for the person, oldest first
    #: certified chronic and special diseases (门诊慢特病), oldest first
    certifications: list[Certification] = field(default_factory=list)
    #: supplementary commercial insurance (惠民保) purchases in force, by year
    covers: list[Cover] = field(default_factory=list)

    @property
    def id(self) -> int:
        if self.person.id is None:
            raise NotStored("person")
        return self.person.id


def load_files(
    uow: UnitOfWork,
    persons: Iterable[Person],
    years: Mapping[int, int] | None = None,
    certified: Collection[int] | None = None,
) -> dict[int, PersonFile]:
    """The files of ``persons`` by person id. ``years`` (person id -> the claim's year) limits
    the sum of past fund payments to residents with a coverage year before it (the only ones
    whose incentive raise needs it); without it, it is read for everyone with coverage years.
    ``certified`` limits the read of certified chronic diseases to those persons (the ones with
    a chronic claim, the only claims the certification changes); without it, everyone's."""
    return read_files(uow, persons, years, certified, with_epidemics=False)[0]


def read_files(
    uow: UnitOfWork,
    persons: Iterable[Person],
    years: Mapping[int, int] | None = None,
    certified: Collection[int] | None = None,
    *,
    with_epidemics: bool = True,
) -> tuple[dict[int, PersonFile], list[EpidemicTerms]]:
    """``load_files``, and the epidemics declared for any area the persons are enrolled in
    (what ``epidemics.apply`` reads: on PostgreSQL in the same statement)."""
    people = {p.id: p for p in persons if p.id is not None}
    ids = sorted(people)
    chronic = None if certified is None else set(certified)
    rows = uow.person_files.of(
        ids,
        paid=FIRST_PAID,
        before=None if years is None else max(years.values(), default=None),
        certified=ids if chronic is None else [i for i in ids if i in chronic],
        with_epidemics=with_epidemics,
    )
    return files_of(people, rows), rows.epidemics


def files_of(people: Mapping[int, Person], rows: FileRows) -> dict[int, PersonFile]:
    """The files of ``people`` (by id) from what ``uow.person_files`` read of them."""
    return {
        pid: PersonFile(
            person=people[pid],
            enrolments=rows.enrolments.get(pid, []),
            groups=rows.groups.get(pid, []),
            coverage=rows.coverage.get(pid, []),
            first_paid={
                e.id: rows.first_paid[e.id]
                for e in rows.enrolments.get(pid, [])
                if e.id in rows.first_paid
            },
            fund_paid=rows.fund_paid.get(pid, {}),
            links=rows.links.get(pid, []),
            certifications=rows.certifications.get(pid, []),
            covers=rows.covers.get(pid, []),
        )
        for pid in sorted(people)
    }


def load_file(uow: UnitOfWork, person: Person) -> PersonFile:
    if person.id is None:
        raise NotStored("person")
    return load_files(uow, [person])[person.id]


# ----------------------------------------------------------------------------------- rules


def enrolment_on(enrolments: Sequence[Enrolment], on: dt.date) -> Enrolment | None:
    """The enrolment in force on ``on`` (the latest one, if several), of a person's history."""
    return next((e for e in reversed(enrolments) if e.covers(on)), None)


def covering_enrolment(person: Person, enrolments: Sequence[Enrolment], on: dt.date) -> Enrolment:
    """``enrolment_on``, or the refusal: the person is not enrolled on ``on``."""
    found = enrolment_on(enrolments, on)
    if found is None:
        raise SettlementRefused(f"person {person.label}", f"not enrolled on {on.isoformat()}")
    return found


def rule_scheme(enrolment: Enrolment) -> str:
    """The scheme the rules and the kernel know the enrolment by."""
    return {
        EnrolmentKind.EMPLOYER: "employee",
        EnrolmentKind.FLEXIBLE: "flexible",
        EnrolmentKind.RETIREE: "retiree",
        EnrolmentKind.RESIDENT: "resident",
    }[enrolment.kind]


@dataclass(frozen=True)
class Entitlement:
    #: None: no benefits at all (unpaid, suspended), the kernel's ``entitled.NEVER``
    entitled_from: dt.date | None
    rule: str


def groups_on(file: PersonFile, on: dt.date) -> list[SpecialGroup]:
    return [g for g in file.groups if g.active_on(on)]


def entitlement(file: PersonFile, enrolment: Enrolment, on: dt.date, policy: Policy) -> Entitlement:
    """From when the person's funds pay in the claim's year, by the waiting-period rule applied
    to the stored enrolment, contributions and coverage history."""
    person = file.person
    if enrolment.status is Status.SUSPENDED and (
        enrolment.suspended_on is None or on >= enrolment.suspended_on
    ):
        since = enrolment.suspended_on.isoformat() if enrolment.suspended_on else "?"
        return Entitlement(None, f"coverage suspended since {since}: all self-paid")
    kind = enrolment.kind
    if kind is EnrolmentKind.RETIREE:
        return Entitlement(enrolment.start_date, "retiree: no waiting period")
    if kind in (EnrolmentKind.EMPLOYER, EnrolmentKind.FLEXIBLE):
        carried = enrolment.carried_employee_months
        brk = None
        if carried > 0 and kind is EnrolmentKind.FLEXIBLE:
            # a transfer neither restarts nor ends a flexible worker's wait: the months carried
            # count towards this area's wait, the rest is waited from the transfer date; after
            # a break longer than break_restart_months it is a new first enrolment
            previous = previous_enrolment(file.enrolments, enrolment)
            if (
                previous is not None
                and previous.end_date is not None
                and previous.scheme is Scheme.EMPLOYEE
            ):
                brk = gap_months(previous.end_date, enrolment.start_date)
            if not restarts_wait(policy, enrolment.start_date, brk):
                w = waiting_period(
                    policy,
                    WaitingPerson(rule_scheme(enrolment), person.birth_date),
                    {},
                    WaitingEnrolment(
                        date=enrolment.start_date, carried_months=carried, break_months=brk
                    ),
                )
                return Entitlement(w.benefit_start, w.rule)
        elif carried > 0:
            return Entitlement(
                enrolment.start_date,
                f"{enrolment.carried_employee_months} contribution months carried from the"
                " previous enrolment: continuity kept, no wait",
            )
        first = file.first_paid.get(enrolment.id or -1)
        if first is None:
            return Entitlement(None, "no contribution paid under the enrolment: all self-paid")
        w = waiting_period(
            policy,
            WaitingPerson(rule_scheme(enrolment), person.birth_date),
            {},
            WaitingEnrolment(date=first, break_months=brk),
        )
        return Entitlement(w.benefit_start, w.rule)
    year = on.year
    history = file.coverage
    this = next((c for c in history if c.year == year), None)
    if this is None or this.status is not CoverageStatus.INSURED or this.paid_on is None:
        return Entitlement(None, f"resident contribution for {year} not paid: all self-paid")
    paid_on = this.paid_on
    first = file.first_paid.get(enrolment.id or -1)
    if this.scheme is Scheme.EMPLOYEE and first is not None and first.year == year:
        # the year was marked insured by employee months before the move: the resident
        # enrolment's own payment starts its wait
        paid_on = max(paid_on, first)
    before = {c.year: c.status.value for c in history if c.year < year}
    repaired = 0
    y = year - 1
    while before.get(y) == CoverageStatus.LAPSED.value:
        repaired += any(c.year == y and c.repaired for c in history)
        y -= 1
    kinds = frozenset(g.kind.value for g in groups_on(file, paid_on))
    w = waiting_period(
        policy,
        WaitingPerson("resident", person.birth_date, kinds),
        before,
        WaitingEnrolment(
            date=paid_on,
            in_collection_period=paid_on < dt.date(year, 1, 1),
            repaired_years=repaired,
            coverage_year=year,
            transfer_gap_months=scheme_transfer_gap(file.enrolments, enrolment, year),
            zero_claim_years=sum(1 for c in history if c.year < year and c.zero_claim),
        ),
    )
    return Entitlement(w.benefit_start, w.rule)


def previous_enrolment(enrolments: Sequence[Enrolment], enrolment: Enrolment) -> Enrolment | None:
    """The enrolment ``enrolment`` follows (by transfer or a later enrolment), if any."""
    if enrolment.previous_id is None:
        return None
    return next((e for e in enrolments if e.id == enrolment.previous_id), None)


def scheme_transfer_gap(
    enrolments: Sequence[Enrolment], enrolment: Enrolment, year: int
) -> int | None:
    """Months without cover between the employee-scheme enrolment that ``enrolment`` (a
    resident one) follows and its start, for the coverage year of the move; None when it
    follows none, or for a later year (rules.md section 2: a gap of at most 3 months may be
    back-paid, with no wait)."""
    if enrolment.start_date.year != year:
        return None
    previous = previous_enrolment(enrolments, enrolment)
    if previous is None or previous.scheme is not Scheme.EMPLOYEE or previous.end_date is None:
        return None
    return gap_months(previous.end_date, enrolment.start_date)


def incentive_raise(file: PersonFile, year: int, policy: Policy) -> int:
    """The critical-illness cap raise earned in the years before ``year`` (residents)."""
    before = [c for c in file.coverage if c.year < year]
    if not before:
        return 0
    records = {
        c.year: YearRecord(
            insured=c.status is CoverageStatus.INSURED,
            fund_paid=c.fund_paid + file.fund_paid.get(c.year, 0),
        )
        for c in before
    }
    r = incentives(policy, records, year)
    return r.cap - r.base_cap


def aid_class(file: PersonFile, on: dt.date) -> int:
    """The kernel's medical-assistance class: the first assistance group in force, else 0."""
    kinds = {g.kind.value for g in groups_on(file, on) if g.kind in ASSISTANCE_CLASSES}
    for i, name in enumerate(AID_CLASSES):
        if i and name in kinds:
            return i
    return 0


def mutual_aid_link(file: PersonFile, on: dt.date, owner_id: int | None) -> MutualAidLink | None:
    """The link in force on ``on`` that pays for the person: from ``owner_id`` if named, else
    the oldest one in force."""
    for link in file.links:
        if link.active_on(on) and (owner_id is None or link.owner_id == owner_id):
            return link
    return None
