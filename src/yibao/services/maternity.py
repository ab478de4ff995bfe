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
the caller gives the wage (``wage``); a given wage is used as given.

Legs: D employee_pooling:<area> (the fund pays), C cash:<area> (paid out to the person or the
employer that advanced it), reference ``maternity:<person id>:<birth date>`` (one per birth; a
second application is refused, not paid twice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.domain.enrolment import EnrolmentKind
from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.ids import NotStored
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, credit, debit
from yibao.policy import fen_to_yuan
from yibao.rules.maternity import Birth, average_monthly_wage, maternity_allowance
from yibao.services.clock import today
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.store.uow import UnitOfWork

TRANSACTION_KIND = "maternity_allowance"


class AllowanceRefused(InvalidField):
    """The allowance cannot be paid (the person is not entitled); nothing was changed."""


class AllowanceAlreadyPaid(AlreadyExists):
    """The allowance of this birth was paid already; nothing was changed."""

    def __init__(self, person: str, birth_date: dt.date) -> None:
        super().__init__("maternity allowance", f"of {person}'s birth {birth_date}")
        self.args = (f"the maternity allowance of {person}'s birth {birth_date} is paid",)

    def __str__(self) -> str:
        return str(self.args[0])


def allowance_reference(person_id: int, birth_date: dt.date) -> str:
    return f"maternity:{person_id}:{birth_date.isoformat()}"


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
    if birth.date > today():
        raise InvalidField("birth_date", f"{birth.date} is in the future", birth.date.isoformat())
    if wage is not None and (isinstance(wage, bool) or not isinstance(wage, int) or wage <= 0):
        raise InvalidField("wage", "must be a positive amount", wage)
    with uow:
        person = find_person(uow, who)
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
        r = maternity_allowance(policies(area), wage, birth)
        reference = allowance_reference(person.id, birth.date)
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
        except AlreadyExists as exc:
            uow.rollback()
            raise AllowanceAlreadyPaid(person.label, birth.date) from exc
        uow.commit()
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
    )
