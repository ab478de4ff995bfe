"""Contribution use cases: each payment is computed by ``yibao.rules.contributions``, recorded,
posted as one balanced ledger transaction, and marks the coverage year insured. The financing of
the critical illness and large-amount funds (``yibao.rules.financing``) moves in the same
transaction. A refused payment changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from yibao.domain.contributions import ContributionKind, ContributionRecord
from yibao.domain.enrolment import Enrolment, EnrolmentKind, Scheme, Status
from yibao.domain.errors import (
    ContributionRefused,
    DuplicateContribution,
    InsufficientBalance,
    MutualAidNotAuthorised,
)
from yibao.domain.ids import NotStored
from yibao.domain.ledger import (
    AccountKind,
    AccountRef,
    LedgerTransaction,
    credit,
    debit,
    legs_postings,
)
from yibao.domain.registry import ASSISTANCE_CLASSES, Person
from yibao.policy import Policy
from yibao.rules import contributions as rules
from yibao.rules.retirement import RetirementBackPay
from yibao.services import clock
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.services.payments import (
    MUTUAL_AID,
    TRANSACTION_KIND,
    MonthlyPayment,
    contribution_reference,
    employee_month,
    flexible_month,
    month_bounds,
    monthly_description,
    resident_description,
    resident_period,
    resident_year,
    retiree_month,
)
from yibao.store.uow import UnitOfWork


def _payable_enrolment(
    uow: UnitOfWork,
    person: Person,
    kinds: Iterable[EnrolmentKind],
    first: dt.date,
    last: dt.date,
) -> Enrolment:
    """The person's open, active enrolment of one of ``kinds`` overlapping [first, last]."""
    if person.id is None:
        raise NotStored("person")
    allowed = tuple(kinds)
    enrolment = uow.enrolments.open_for(person.id, lock=True)
    if enrolment is None:
        latest = uow.enrolments.latest_for(person.id)
        state = latest.describe() if latest else "never enrolled"
        raise ContributionRefused(person.label, f"no open enrolment ({state})")
    if enrolment.kind not in allowed:
        names = " or ".join(k.value for k in allowed)
        raise ContributionRefused(person.label, f"{enrolment.describe()} is not {names}")
    if enrolment.status is not Status.ACTIVE:
        raise ContributionRefused(person.label, f"{enrolment.describe()} is not active")
    if not enrolment.overlaps(first, last):
        raise ContributionRefused(
            person.label,
            f"the period {first.isoformat()}..{last.isoformat()} is outside {enrolment.describe()}",
        )
    return enrolment


def _refuse_duplicate(
    uow: UnitOfWork, person: Person, kind: ContributionKind, period_start: dt.date
) -> None:
    if person.id is None:
        raise NotStored("person")
    if uow.contributions.find(person.id, kind, period_start) is not None:
        raise DuplicateContribution(
            person.label, f"{kind.value} for {period_start.isoformat()} is already paid"
        )


def _post_monthly(
    uow: UnitOfWork,
    person: Person,
    enrolment: Enrolment,
    first: dt.date,
    paid_on: dt.date,
    payment: MonthlyPayment,
) -> ContributionRecord:
    """Post one month of the employee scheme (``payments.MonthlyPayment``: its legs, record,
    reference and description), record it and, for a paid month, mark the year insured."""
    if person.id is None:
        raise NotStored("person")
    if enrolment.id is None:
        raise NotStored("enrolment")
    clock.not_far_ahead("paid_on", paid_on)
    area = enrolment.pooling_area
    txn = LedgerTransaction.of(
        payment.transaction_kind,
        paid_on,
        legs_postings(payment.legs, area, person.id),
        monthly_description(payment.kind, first, person.label, enrolment.employer_code),
        contribution_reference(payment.kind, person.id, first),
    )
    record = uow.contributions.add(
        payment.record(person.id, enrolment.id, first, paid_on, uow.ledger.post(txn))
    )
    if payment.kind is not ContributionKind.RETIREE_CREDIT:  # a retiree pays nothing
        uow.coverage.mark_insured(person.id, first.year, Scheme.EMPLOYEE, area, paid_on)
    uow.commit()
    return record


def _pay_month(
    uow: UnitOfWork,
    who: str | int,
    month: dt.date,
    paid_on: dt.date,
    kind: ContributionKind,
    enrolled: EnrolmentKind,
    payment: Callable[[Policy, dt.date], MonthlyPayment],
    policies: PolicySource,
) -> ContributionRecord:
    first, last = month_bounds(month)
    with uow:
        person = find_person(uow, who)
        enrolment = _payable_enrolment(uow, person, [enrolled], first, last)
        _refuse_duplicate(uow, person, kind, first)
        return _post_monthly(
            uow, person, enrolment, first, paid_on, payment(policies(enrolment.pooling_area), first)
        )


def pay_employee(
    uow: UnitOfWork,
    who: str | int,
    month: dt.date,
    wage: int,
    paid_on: dt.date,
    *,
    policies: PolicySource = policy_for,
) -> ContributionRecord:
    """One month of an employer-enrolled employee: employer part + employee part."""
    return _pay_month(
        uow,
        who,
        month,
        paid_on,
        ContributionKind.EMPLOYEE,
        EnrolmentKind.EMPLOYER,
        lambda policy, first: employee_month(policy, first, wage),
        policies,
    )


def pay_flexible(
    uow: UnitOfWork,
    who: str | int,
    month: dt.date,
    base: int,
    paid_on: dt.date,
    *,
    policies: PolicySource = policy_for,
) -> ContributionRecord:
    """One month of a flexible worker, on a base they chose inside the range."""
    return _pay_month(
        uow,
        who,
        month,
        paid_on,
        ContributionKind.FLEXIBLE,
        EnrolmentKind.FLEXIBLE,
        lambda policy, first: flexible_month(policy, first, base),
        policies,
    )


def credit_retiree(
    uow: UnitOfWork,
    who: str | int,
    month: dt.date,
    on: dt.date,
    *,
    policies: PolicySource = policy_for,
) -> ContributionRecord:
    """A retiree's monthly personal-account credit, from the employee pooling fund, with the
    month's large-amount financing (also from the pooling fund: retirees pay nothing)."""
    return _pay_month(
        uow,
        who,
        month,
        on,
        ContributionKind.RETIREE_CREDIT,
        EnrolmentKind.RETIREE,
        retiree_month,
        policies,
    )


def pay_resident(
    uow: UnitOfWork,
    who: str | int,
    year: int,
    paid_on: dt.date,
    *,
    from_account_of: str | int | None = None,
    policies: PolicySource = policy_for,
) -> ContributionRecord:
    """A resident's contribution for coverage year ``year``: individual part (less what medical
    assistance pays for aid recipients) + fiscal subsidy. With ``from_account_of``, the
    individual part is paid from that employee's personal account through an authorised
    mutual-aid link (家庭共济)."""
    first, last = resident_period(year)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        clock.not_far_ahead("paid_on", paid_on)
        if paid_on > last:
            raise ContributionRefused(
                person.label, f"{year} is over; a lapsed year is repaired (back-paid), not paid"
            )
        if paid_on.year < year - 1:
            raise ContributionRefused(person.label, f"the collection for {year} is not open yet")
        enrolment = _payable_enrolment(uow, person, [EnrolmentKind.RESIDENT], first, last)
        if enrolment.id is None:
            raise NotStored("enrolment")
        _refuse_duplicate(uow, person, ContributionKind.RESIDENT, first)
        classes = [
            g.kind.value
            for g in uow.persons.groups(person.id, paid_on)
            if g.kind in ASSISTANCE_CLASSES
        ]
        payment = resident_year(policies(enrolment.pooling_area), year, classes)
        c = payment.contribution
        area = enrolment.pooling_area
        payer = AccountKind.CASH
        owner_id: int | None = None
        link_id: int | None = None
        if from_account_of is not None:
            owner = find_person(uow, from_account_of)
            if owner.id is None:
                raise NotStored("person")
            if owner.id == person.id:
                raise MutualAidNotAuthorised(owner.label, person.label, "owner and payee are one")
            if uow.persons.relation(owner.id, person.id) is None:
                raise MutualAidNotAuthorised(
                    owner.label, person.label, "not a recorded close relative"
                )
            link = uow.persons.active_link(owner.id, person.id, paid_on)
            if link is None:
                raise MutualAidNotAuthorised(
                    owner.label, person.label, f"no authorisation in force on {paid_on.isoformat()}"
                )
            link_id, owner_id = link.id, owner.id
            payer = AccountKind.PERSONAL_ACCOUNT
            account = uow.ledger.account(AccountRef.personal(owner.id), lock=True)
            available = account.natural_balance if account is not None else 0
            if available < c.person_pays:
                raise InsufficientBalance(
                    AccountRef.personal(owner.id).code, available, c.person_pays
                )
        txn = LedgerTransaction.of(
            MUTUAL_AID if link_id else TRANSACTION_KIND[ContributionKind.RESIDENT],
            paid_on,
            legs_postings(payment.legs(payer), area, owner_id),
            resident_description(year, person.label, c.assistance_class, bool(link_id)),
            contribution_reference(ContributionKind.RESIDENT, person.id, first),
        )
        record = uow.contributions.add(
            payment.record(person.id, enrolment.id, paid_on, uow.ledger.post(txn), link_id)
        )
        uow.coverage.mark_insured(person.id, year, Scheme.RESIDENT, area, paid_on)
        uow.commit()
    return record


def pay_repair(
    uow: UnitOfWork,
    who: str | int,
    years: Iterable[int],
    paid_on: dt.date,
    *,
    policies: PolicySource = policy_for,
) -> list[ContributionRecord]:
    """Back-pay lapsed resident years at the current individual contribution (no subsidy).
    Each repaired year stays lapsed in the coverage history but is marked repaired, which
    shortens the variable waiting period by the rule's months per year."""
    wanted = sorted(set(years))
    clock.not_far_ahead("paid_on", paid_on)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        enrolment = _payable_enrolment(uow, person, [EnrolmentKind.RESIDENT], paid_on, paid_on)
        if enrolment.id is None:
            raise NotStored("enrolment")
        for y in wanted:
            if y < person.birth_date.year:
                raise ContributionRefused(person.label, f"{y} is before the person's birth")
            row = uow.coverage.get(person.id, y)
            if row is not None and row.status.value == "insured":
                raise ContributionRefused(person.label, f"{y} was insured, not lapsed")
            if row is not None and row.repaired:
                raise DuplicateContribution(person.label, f"{y} is already repaired")
        try:
            c = rules.repair(policies(enrolment.pooling_area), paid_on, wanted)
        except rules.ContributionRuleError as exc:
            raise ContributionRefused(person.label, str(exc)) from exc
        if c.per_year <= 0:
            raise ContributionRefused(
                person.label, "the individual contribution is 0: nothing to repair"
            )
        area = enrolment.pooling_area
        records = []
        for y in c.years:  # one balanced transaction per repaired year
            txn = LedgerTransaction.of(
                "repair",
                paid_on,
                [
                    debit(AccountRef.fund(AccountKind.CASH, area), c.per_year),
                    credit(AccountRef.fund(AccountKind.RESIDENT_POOLING, area), c.per_year),
                ],
                f"repair of lapsed year {y} of {person.label}",
                contribution_reference(ContributionKind.REPAIR, person.id, dt.date(y, 1, 1)),
            )
            records.append(
                uow.contributions.add(
                    ContributionRecord(
                        person_id=person.id,
                        enrolment_id=enrolment.id,
                        kind=ContributionKind.REPAIR,
                        period_start=dt.date(y, 1, 1),
                        period_end=dt.date(y, 12, 31),
                        paid_on=paid_on,
                        transaction_id=uow.ledger.post(txn),
                        individual=c.per_year,
                    )
                )
            )
            uow.coverage.mark_repaired(person.id, y, area, Scheme.RESIDENT)
        uow.commit()
    return records


def post_retirement_backpay(
    uow: UnitOfWork, person: Person, area: str, back: RetirementBackPay
) -> int:
    """Post the one-off back-payment (一次性补缴) of the contribution months missing at
    retirement: cash → employee pooling fund, one balanced transaction, inside the caller's
    unit of work (the retiree enrolment it allows commits with it). Returns its id."""
    if person.id is None:
        raise NotStored("person")
    if back.amount <= 0:
        raise ContributionRefused(person.label, "no contribution month is missing: nothing to pay")
    txn = LedgerTransaction.of(
        "retirement_backpay",
        back.on,
        [
            debit(AccountRef.fund(AccountKind.CASH, area), back.amount),
            credit(AccountRef.fund(AccountKind.EMPLOYEE_POOLING, area), back.amount),
        ],
        f"retirement back-payment of {person.label}: {back.months} months × monthly base"
        f" {back.monthly_base} fen × {back.rate}",
        f"retirement_backpay:{person.id}:{back.on.isoformat()}",
    )
    return uow.ledger.post(txn)
