"""The maternity allowance (生育津贴) of an insured employee: computed by
``rules.maternity`` and paid from the employee pooling fund in one ledger transaction per birth.

Who is entitled: a person whose employer enrolment (单位职工) covers the birth date. Flexible
workers (灵活就业), retirees and residents are refused: the allowance replaces an employer's wage
while on leave (the Special Provisions 2012, art. 8, "按照用人单位上年度职工月平均工资"), and
the 2019 merger of maternity insurance into employee medical insurance (国办发〔2019〕10号) keeps
it with the employer scheme.

The wage: the employer's average monthly contribution wage of the year before the birth, from the
store (the bases of every employee contribution month of that year under the employer's code ÷
the months, ``rules.maternity.average_monthly_wage``). When the store holds no month of that year
the caller gives the wage (``wage``); a given wage is used as given, but not above the area's
monthly contribution base ceiling of that year (``rules.contributions.monthly_base_range``).

Legs: D employee_pooling:<area> (the fund pays), C cash:<area> (paid out to the person or the
employer that advanced it), reference ``maternity:<person id>:<birth date>`` (one application
in force per birth; a second is refused, not paid twice; once undone, the next application takes
``…#2``, and so on).

The one step (一站式申领, Beijing's 2022 measures: "one-stop application for the payment of
maternity allowance and the reimbursement of maternity medical expenses"): ``settle_birth``
settles the birth's medical claim through the settlement (med type maternity) and pays the
allowance in one database transaction; ``undo_birth`` reverses both in one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.domain.enrolment import EnrolmentKind
from yibao.domain.errors import AlreadyExists, InvalidField, NotFound, RequestConflict
from yibao.domain.ids import NotStored
from yibao.domain.ledger import (
    AccountKind,
    AccountRef,
    LedgerTransaction,
    Posting,
    credit,
    debit,
)
from yibao.domain.registry import Person
from yibao.domain.settlement import Claim, Reversal, Settlement
from yibao.policy import fen_to_yuan
from yibao.rules.contributions import monthly_base_range
from yibao.rules.maternity import Birth, average_monthly_wage, maternity_allowance
from yibao.services.clock import today
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.services.settlement import ClaimRequest, reverse_within, settle_within
from yibao.store.uow import UnitOfWork

TRANSACTION_KIND = "maternity_allowance"
#: The med type of a birth's medical expenses (生育医疗费用).
MATERNITY = "maternity"


class AllowanceRefused(InvalidField):
    """The allowance cannot be paid (the person is not entitled); nothing was changed."""


class AllowanceAlreadyPaid(AlreadyExists):
    """The allowance of this birth was paid already; nothing was changed."""

    def __init__(self, person: str, birth_date: dt.date) -> None:
        super().__init__("maternity allowance", f"of {person}'s birth {birth_date}")
        self.args = (f"the maternity allowance of {person}'s birth {birth_date} is paid",)

    def __str__(self) -> str:
        return str(self.args[0])


#: The most applications of one birth (each one after the previous was undone): a guard.
MAX_APPLICATIONS = 20
REVERSAL_KIND = "maternity_allowance_reversal"


def allowance_reference(person_id: int, birth_date: dt.date, n: int = 1) -> str:
    """The reference of the ``n``-th application for a birth (the next one is taken only once
    the one before was undone)."""
    base = f"maternity:{person_id}:{birth_date.isoformat()}"
    return base if n == 1 else f"{base}#{n}"


def reversal_reference(reference: str) -> str:
    """The reference of the undoing of the application ``reference``."""
    return "maternity-reversal:" + reference.removeprefix("maternity:")


def _references(uow: UnitOfWork, person_id: int, birth_date: dt.date) -> tuple[str | None, str]:
    """(the birth's application in force, if any; the reference a new application takes)."""
    for n in range(1, MAX_APPLICATIONS + 1):
        ref = allowance_reference(person_id, birth_date, n)
        if uow.ledger.transaction_id(ref) is None:
            return None, ref
        if uow.ledger.transaction_id(reversal_reference(ref)) is None:
            return ref, ref
    raise InvalidField("birth_date", f"applied for {MAX_APPLICATIONS} times already")


@dataclass(frozen=True)
class AllowancePaid:
    person: str
    employer_code: str
    area: str
    birth_date: dt.date
    wage: int
    wage_source: str  # "store" (the employer's contributions of last year) or "given"
    leave_days: int
    daily: int
    allowance: int
    reference: str
    transaction_id: int
    person_id: int  # the stored person's (for the audit; not shown)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "employer_code": self.employer_code,
            "area": self.area,
            "birth_date": self.birth_date.isoformat(),
            "employer_avg_monthly_wage": fen_to_yuan(self.wage),
            "wage_source": self.wage_source,
            "leave_days": self.leave_days,
            "daily": fen_to_yuan(self.daily),
            "allowance": fen_to_yuan(self.allowance),
            "reference": self.reference,
            "transaction_id": self.transaction_id,
        }


def employer_wage(uow: UnitOfWork, employer_code: str, year: int) -> int | None:
    """The employer's average monthly contribution wage of ``year`` from the store (None: no
    contribution month of that year)."""
    total, months = uow.contributions.employer_wage_months(employer_code, year)
    return average_monthly_wage(total, months) if months else None


def pay_allowance(
    uow: UnitOfWork,
    who: str | int,
    birth: Birth,
    *,
    wage: int | None = None,
    policies: PolicySource = policy_for,
) -> AllowancePaid:
    """Pay the maternity allowance of ``birth`` to ``who`` (an employer-enrolled employee on the
    birth date): one ledger transaction, refused if the birth is in the future, the person is
    not entitled, or the allowance of that birth was paid already."""
    _check_request(birth, wage)
    with uow:
        paid = allowance_within(uow, find_person(uow, who), birth, wage, policies)
        uow.commit()
    return paid


def _check_request(birth: Birth, wage: int | None) -> None:
    if birth.date > today():
        raise InvalidField("birth_date", f"{birth.date} is in the future", birth.date.isoformat())
    if wage is not None and (isinstance(wage, bool) or not isinstance(wage, int) or wage <= 0):
        raise InvalidField("wage", "must be a positive amount", wage)


def allowance_within(
    uow: UnitOfWork, person: Person, birth: Birth, wage: int | None, policies: PolicySource
) -> AllowancePaid:
    """``pay_allowance`` inside a unit of work the caller opened and commits: the entitlement,
    the wage, the amount, and its ledger transaction posted (not committed)."""
    if person.id is None:
        raise NotStored("person")
    covering = [e for e in uow.enrolments.history(person.id) if e.covers(birth.date)]
    if not covering:
        raise AllowanceRefused(
            "person", f"{person.label} has no enrolment on {birth.date}: not insured"
        )
    enrolment = covering[-1]
    if enrolment.kind is not EnrolmentKind.EMPLOYER or enrolment.employer_code is None:
        raise AllowanceRefused(
            "person",
            f"{person.label} is not an employer-enrolled employee on {birth.date} "
            f"({enrolment.describe()}): the maternity allowance is for employees",
        )
    in_force, reference = _references(uow, person.id, birth.date)
    if in_force is not None:
        raise AllowanceAlreadyPaid(person.label, birth.date)
    employer = enrolment.employer_code
    source = "given"
    if wage is None:
        wage = employer_wage(uow, employer, birth.date.year - 1)
        source = "store"
        if wage is None:
            raise InvalidField(
                "wage",
                f"no contributions of employer {employer} in {birth.date.year - 1}: "
                "give the employer's average monthly wage",
            )
    area = enrolment.pooling_area
    if source == "given":
        last_year = birth.date.year - 1
        ceiling = monthly_base_range(policies(area), dt.date(last_year, 12, 31)).ceiling
        if wage > ceiling:
            raise InvalidField(
                "wage",
                f"{fen_to_yuan(wage)} is above the monthly contribution base ceiling of {area} "
                f"in {last_year} ({fen_to_yuan(ceiling)}), which no average contribution wage "
                "exceeds",
                wage,
            )
    r = maternity_allowance(policies(area), wage, birth)
    if r.allowance == 0:
        raise AllowanceRefused("wage", "the allowance is 0.00: nothing to pay")
    txn = LedgerTransaction.of(
        TRANSACTION_KIND,
        birth.date,
        [
            debit(AccountRef.fund(AccountKind.EMPLOYEE_POOLING, area), r.allowance),
            credit(AccountRef.fund(AccountKind.CASH, area), r.allowance),
        ],
        f"maternity allowance of {person.label}, birth {birth.date} "
        f"({r.leave_days} days, employer {employer})",
        reference,
    )
    try:
        transaction_id = uow.ledger.post(txn)
    except AlreadyExists as exc:  # an application of the same birth committed meanwhile
        raise AllowanceAlreadyPaid(person.label, birth.date) from exc
    return AllowancePaid(
        person.label,
        employer,
        area,
        birth.date,
        wage,
        source,
        r.leave_days,
        r.daily,
        r.allowance,
        reference,
        transaction_id,
        person.id,
    )


# ------------------------------------------------------------------------ the one step


@dataclass(frozen=True)
class BirthSettled:
    """A birth applied for in one step (生育医疗费用和生育津贴一站式申领): the settlement of its
    medical claim (med type maternity) and the allowance, committed together."""

    settlement: Settlement
    allowance: AllowancePaid

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.allowance.reference,
            "settlement": dict(self.settlement.response),
            "allowance": self.allowance.as_dict(),
        }


def settle_birth(
    uow: UnitOfWork,
    claim: Claim,
    birth: Birth,
    *,
    wage: int | None = None,
    policies: PolicySource = policy_for,
) -> BirthSettled:
    """The maternity medical expenses and the maternity allowance of one birth in one step: the
    claim settled as 2207 settles it (``services.settlement.settle_within``, med type maternity)
    and the allowance paid (``allowance_within``) in one database transaction, both on the
    ledger. Refused as a whole, nothing stored, when either is refused: a non-employee, a birth
    in the future, a claim dated before the birth or of another med type, the birth applied
    for already (in one step or the allowance alone), a claim the settlement refuses. The
    settlement's request id is the application's reference (``maternity:<person id>:<birth
    date>``): one settlement per application."""
    _check_request(birth, wage)
    if claim.med_type not in (None, MATERNITY):
        raise InvalidField("med_type", f"must be {MATERNITY} for a birth's medical expenses")
    if claim.date < birth.date:
        raise InvalidField("date", f"the claim is dated before the birth ({birth.date})")
    claim = dataclasses.replace(claim, med_type=MATERNITY)  # a registered visit's must agree
    with uow:
        paid = allowance_within(uow, find_person(uow, claim.person), birth, wage, policies)
        request = ClaimRequest(claim, paid.reference)
        outcome = settle_within(uow, [request], policies=policies).outcomes[0]
        if not isinstance(outcome, Settlement):
            raise outcome
        if outcome.replayed:  # the request id names a settlement stored before: not this one
            raise RequestConflict(
                f"request {paid.reference}", f"already used for settlement {outcome.setl_id}"
            )
        uow.commit()
    return BirthSettled(outcome, paid)


@dataclass(frozen=True)
class BirthUndone:
    """A birth's application undone: the settlement's reversal (None when the allowance was
    paid alone) and the allowance's reversing transaction."""

    reference: str
    on: dt.date
    reversal: Reversal | None
    allowance: int
    transaction_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "on": self.on.isoformat(),
            "settlement": None if self.reversal is None else dict(self.reversal.response),
            "allowance_reversed": fen_to_yuan(self.allowance),
            "transaction_id": self.transaction_id,
        }


def undo_birth(
    uow: UnitOfWork, who: str | int, birth_date: dt.date, *, on: dt.date | None = None
) -> BirthUndone:
    """Undo the application in force for a birth, both parts together in one database
    transaction: the settlement reversed (2208, ``reverse_within``) and the allowance's
    transaction negated (kind ``maternity_allowance_reversal``, a reversal of expenditure). The
    birth may then be applied for again (the next application takes the next reference)."""
    day = on or today()
    if day > today():
        raise InvalidField("on", f"{day} is in the future", day.isoformat())
    if day < birth_date:
        raise InvalidField("on", f"is before the birth ({birth_date})", day.isoformat())
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        reference, _ = _references(uow, person.id, birth_date)
        if reference is None:
            raise NotFound("maternity application", f"of {person.label}'s birth {birth_date}")
        stored = uow.settlements.by_request(reference)
        reversal = None if stored is None else reverse_within(uow, stored.setl_id, day)
        txn_id = uow.ledger.transaction_id(reference)
        assert txn_id is not None
        legs = [Posting(p.account, -p.amount) for p in uow.ledger.postings_of(txn_id)]
        undone = uow.ledger.post(
            LedgerTransaction.of(
                REVERSAL_KIND,
                day,
                legs,
                f"maternity allowance of {person.label}, birth {birth_date}, undone",
                reversal_reference(reference),
            )
        )
        uow.commit()
    allowance = sum(p.amount for p in legs if p.amount > 0)
    return BirthUndone(reference, day, reversal, allowance, undone)
