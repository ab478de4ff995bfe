"""Contribution use cases: each payment is computed by ``yibao.rules.contributions``, recorded,
posted as one balanced ledger transaction, and marks the coverage year insured. The financing of
the critical illness and large-amount funds (``yibao.rules.financing``) moves in the same
transaction. A refused payment changes nothing."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from yibao.domain.contributions import ContributionKind, ContributionRecord
from yibao.domain.enrolment import Enrolment, EnrolmentKind, Scheme, Status
from yibao.domain.errors import (
    ContributionRefused,
    DuplicateContribution,
    InsufficientBalance,
    MutualAidNotAuthorised,
)
from yibao.domain.ids import NotStored
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, credit, debit
from yibao.domain.registry import ASSISTANCE_CLASSES, Person
from yibao.rules import contributions as rules
from yibao.rules import financing
from yibao.rules.retirement import RetirementBackPay
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.store.uow import UnitOfWork


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


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


def _reference(kind: ContributionKind, person_id: int, period_start: dt.date) -> str:
    return f"contribution:{kind.value}:{person_id}:{period_start.isoformat()}"


def _post_monthly(
    uow: UnitOfWork,
    person: Person,
    enrolment: Enrolment,
    kind: ContributionKind,
    first: dt.date,
    paid_on: dt.date,
    *,
    total: int,
    pooling_part: int,
    account_credit: int,
    text: str,
    large_amount: int = 0,
    **parts: int,
) -> ContributionRecord:
    """Post one month's employee-scheme contribution (cash → pooling fund + large-amount fund +
    personal account), record it and mark the year insured; ``large_amount`` is the month's
    large-amount financing taken from the pooling part; ``parts`` are the record's base and part
    columns."""
    if person.id is None:
        raise NotStored("person")
    if enrolment.id is None:
        raise NotStored("enrolment")
    area = enrolment.pooling_area
    txn = LedgerTransaction.of(
        "contribution",
        paid_on,
        [
            debit(AccountRef.fund(AccountKind.CASH, area), total),
            credit(
                AccountRef.fund(AccountKind.EMPLOYEE_POOLING, area), pooling_part - large_amount
            ),
            credit(AccountRef.fund(AccountKind.LARGE_AMOUNT, area), large_amount),
            credit(AccountRef.personal(person.id), account_credit),
        ],
        text,
        _reference(kind, person.id, first),
    )
    record = uow.contributions.add(
        ContributionRecord(
            person_id=person.id,
            enrolment_id=enrolment.id,
            kind=kind,
            period_start=first,
            period_end=month_bounds(first)[1],
            paid_on=paid_on,
            transaction_id=uow.ledger.post(txn),
            account_credit=account_credit,
            **parts,
        )
    )
    uow.coverage.mark_insured(person.id, first.year, Scheme.EMPLOYEE, area, paid_on)
    uow.commit()
    return record


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
    first, last = month_bounds(month)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        enrolment = _payable_enrolment(uow, person, [EnrolmentKind.EMPLOYER], first, last)
        if enrolment.id is None:
            raise NotStored("enrolment")
        _refuse_duplicate(uow, person, ContributionKind.EMPLOYEE, first)
        policy = policies(enrolment.pooling_area)
        c = rules.employee_monthly(policy, first, wage)
        return _post_monthly(
            uow,
            person,
            enrolment,
            ContributionKind.EMPLOYEE,
            first,
            paid_on,
            total=c.total,
            pooling_part=c.pooling_part,
            account_credit=c.account_credit,
            large_amount=financing.large_amount_share(policy, first, c.pooling_part),
            text=f"employee contribution {first:%Y-%m} of {person.label} "
            f"(employer {enrolment.employer_code})",
            base=c.base,
            employer_part=c.employer_part,
            employee_part=c.employee_part,
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
    first, last = month_bounds(month)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        enrolment = _payable_enrolment(uow, person, [EnrolmentKind.FLEXIBLE], first, last)
        if enrolment.id is None:
            raise NotStored("enrolment")
        _refuse_duplicate(uow, person, ContributionKind.FLEXIBLE, first)
        policy = policies(enrolment.pooling_area)
        c = rules.flexible_monthly(policy, first, base)
        return _post_monthly(
            uow,
            person,
            enrolment,
            ContributionKind.FLEXIBLE,
            first,
            paid_on,
            total=c.total,
            pooling_part=c.pooling_part,
            account_credit=c.account_credit,
            large_amount=financing.large_amount_share(policy, first, c.pooling_part),
            text=f"flexible-worker contribution {first:%Y-%m} of {person.label}",
            base=c.base,
            employee_part=c.total,
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
    first, last = month_bounds(month)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        enrolment = _payable_enrolment(uow, person, [EnrolmentKind.RETIREE], first, last)
        if enrolment.id is None:
            raise NotStored("enrolment")
        _refuse_duplicate(uow, person, ContributionKind.RETIREE_CREDIT, first)
        policy = policies(enrolment.pooling_area)
        amount = rules.account_credit_retiree(policy, first)
        large = financing.large_amount_share(policy, first)
        area = enrolment.pooling_area
        txn = LedgerTransaction.of(
            "retiree_credit",
            on,
            [
                debit(AccountRef.fund(AccountKind.EMPLOYEE_POOLING, area), amount + large),
                credit(AccountRef.personal(person.id), amount),
                credit(AccountRef.fund(AccountKind.LARGE_AMOUNT, area), large),
            ],
            f"retiree personal-account credit {first:%Y-%m} of {person.label}",
            _reference(ContributionKind.RETIREE_CREDIT, person.id, first),
        )
        record = uow.contributions.add(
            ContributionRecord(
                person_id=person.id,
                enrolment_id=enrolment.id,
                kind=ContributionKind.RETIREE_CREDIT,
                period_start=first,
                period_end=last,
                paid_on=on,
                transaction_id=uow.ledger.post(txn),
                account_credit=amount,
            )
        )
        uow.commit()
    return record


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
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
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
        policy = policies(enrolment.pooling_area)
        c = rules.resident_annual(policy, first, classes)
        critical = financing.critical_illness_share(policy, first, c.total)
        area = enrolment.pooling_area
        payer = AccountRef.fund(AccountKind.CASH, area)
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
            link_id = link.id
            payer = AccountRef.personal(owner.id)
            account = uow.ledger.account(payer, lock=True)
            available = account.natural_balance if account is not None else 0
            if available < c.person_pays:
                raise InsufficientBalance(payer.code, available, c.person_pays)
        txn = LedgerTransaction.of(
            "mutual_aid_contribution" if link_id else "contribution",
            paid_on,
            [
                debit(payer, c.person_pays),
                debit(AccountRef.fund(AccountKind.MEDICAL_ASSISTANCE, area), c.assistance_paid),
                debit(
                    AccountRef.fund(AccountKind.FISCAL_SUBSIDY_RECEIVABLE, area), c.fiscal_subsidy
                ),
                credit(AccountRef.fund(AccountKind.RESIDENT_POOLING, area), c.total - critical),
                credit(AccountRef.fund(AccountKind.CRITICAL_ILLNESS, area), critical),
            ],
            f"resident contribution {year} of {person.label}"
            + (f" (assistance class {c.assistance_class})" if c.assistance_class else "")
            + (" from a relative's personal account" if link_id else ""),
            _reference(ContributionKind.RESIDENT, person.id, first),
        )
        record = uow.contributions.add(
            ContributionRecord(
                person_id=person.id,
                enrolment_id=enrolment.id,
                kind=ContributionKind.RESIDENT,
                period_start=first,
                period_end=last,
                paid_on=paid_on,
                transaction_id=uow.ledger.post(txn),
                individual=c.individual,
                fiscal_subsidy=c.fiscal_subsidy,
                assistance_paid=c.assistance_paid,
                mutual_aid_link_id=link_id,
            )
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
                _reference(ContributionKind.REPAIR, person.id, dt.date(y, 1, 1)),
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
