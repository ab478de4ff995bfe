"""A part's enrolment, coverage and ledger rows, built by the services' own builders (pure: no
SQL).

The amounts, legs, references, descriptions and records are those of ``services.payments``,
``services.enrolment.new_enrolment``, ``services.ledger`` (opening balances),
``services.yearend.past_rows`` and ``domain.year_end.insured_year``; this module applies them to
each generated person through the year's memoised rules (``year_rules``). Ids are given:
``write`` reserves them before the rows refer to each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import EnrolmentKind, EventKind
from yibao.domain.ledger import AccountKind, AccountRef, Legs
from yibao.domain.year_end import insured_year
from yibao.services import ledger, payments
from yibao.services.area_load import generated as gen
from yibao.services.area_load.read import GeneratedPerson
from yibao.services.area_load.year_rules import Row, Rules, coverage_row
from yibao.services.enrolment import new_enrolment


class Entry(NamedTuple):
    """One balanced transaction to write, and the contribution it records (if any)."""

    person_id: int
    kind: str
    occurred_on: str  # ISO date
    description: str
    reference: str
    legs: Legs
    #: the contribution it records: the template of its row (``Rules.heads``) and paid_on
    contribution: tuple[int, str] | None


@dataclass
class Built:
    """The rows of a slice of persons, ids to be filled in by ``Ids``."""

    enrolments: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    coverage: list[Row] = field(default_factory=list)  # the year's
    history: list[Row] = field(default_factory=list)  # (template, person_id): years before
    entries: list[Entry] = field(default_factory=list)
    enrolment_of: dict[int, int] = field(default_factory=dict)  # person → enrolment id
    kinds: dict[str, int] = field(default_factory=dict)  # enrolments by kind
    history_years: int = 0  # coverage rows of the years before


def person_rows(
    p: GeneratedPerson,
    person_id: int,
    enrolment_id: int,
    region: str,
    persons: int,
    rules_: Rules,
    out: Built,
) -> None:
    """The enrolment, its event, the coverage years and the ledger entries of one person."""
    year = rules_.year
    kind = gen.KIND_OF_SCHEME[p.scheme]
    start = p.enrolled_on
    employer = (
        gen.employer_code_of(region, p.psn_no, persons) if kind is EnrolmentKind.EMPLOYER else None
    )
    e = new_enrolment(person_id, kind, region, start, employer_code=employer)
    start_iso = start.isoformat()
    out.enrolments.append(
        (
            enrolment_id,
            person_id,
            e.scheme.value,
            e.kind.value,
            e.pooling_area,
            e.employer_code,
            start_iso,
            e.status.value,
            e.carried_employee_months,
            e.carried_resident_years,
        )
    )
    out.enrolment_of[person_id] = enrolment_id
    out.kinds[kind.value] = out.kinds.get(kind.value, 0) + 1
    out.events.append((enrolment_id, EventKind.ENROL.value, start_iso))
    history = rules_.history(p, region)
    if history.template is not None:
        out.history.append((history.template, person_id))
        out.history_years += history.years
    previous = history.last
    label = p.national_id
    if kind is EnrolmentKind.RESIDENT:
        paid_on = gen.resident_paid_on(p.psn_no, start, year)
        payment, legs, head = rules_.resident(p.assistance_class)
        first = payments.resident_period(year)[0]
        paid_iso = paid_on.isoformat()
        out.entries.append(
            Entry(
                person_id,
                payments.TRANSACTION_KIND[ContributionKind.RESIDENT],
                paid_iso,
                payments.resident_description(year, label, payment.contribution.assistance_class),
                payments.contribution_reference(ContributionKind.RESIDENT, person_id, first),
                legs,
                (head, paid_iso),
            )
        )
        out.coverage.append(
            coverage_row(insured_year(person_id, year, kind.scheme, region, paid_on, previous))
        )
        return
    credits = 0
    first_paid: dt.date | None = None
    for month, m, head in rules_.year_of(kind, p.wage or 0, p.contribution_base or 0):
        if month.last < start:
            continue
        if month.pay_day >= start:
            paid_on, paid_iso = month.pay_day, month.pay_day_iso
        else:
            paid_on = gen.monthly_paid_on(month.first, start)
            paid_iso = paid_on.isoformat()
        first_paid = first_paid or paid_on
        credits += m.account_credit
        out.entries.append(
            Entry(
                person_id,
                m.transaction_kind,
                paid_iso,
                payments.monthly_description(m.kind, month.first, label, employer),
                payments.contribution_reference(m.kind, person_id, month.first),
                m.legs,
                (head, paid_iso),
            )
        )
    if kind is not EnrolmentKind.RETIREE and first_paid is not None:  # a retiree pays nothing
        out.coverage.append(
            coverage_row(insured_year(person_id, year, kind.scheme, region, first_paid, previous))
        )
    opening = gen.opening_balance(p.account_balance or 0, credits, start, year)
    if opening:
        out.entries.append(
            Entry(
                person_id,
                ledger.OPENING_KIND,
                dt.date(year, 1, 1).isoformat(),
                ledger.opening_description(label),
                ledger.opening_reference(person_id),
                ledger.opening_legs(opening),
                None,
            )
        )


@dataclass
class Ledger:
    """The ledger rows of a slice's entries, with the ids reserved for them."""

    transactions: list[Row] = field(default_factory=list)
    #: the postings: (template, account id or 0 for the personal account, amount) and, per
    #: transaction, (transaction id, template, personal account id)
    templates: list[Row] = field(default_factory=list)
    legs: list[Row] = field(default_factory=list)
    postings: int = 0
    #: (template of ``Rules.heads``, person_id, enrolment_id, paid_on, transaction_id)
    contributions: list[Row] = field(default_factory=list)
    personal_accounts: list[Row] = field(default_factory=list)
    fund_moves: dict[int, int] = field(default_factory=dict)  # account id → signed amount
    counts: dict[str, int] = field(default_factory=dict)  # contributions by kind


def needs_personal_account(entries: Sequence[Entry]) -> list[int]:
    """The persons with a personal-account leg, once each, in order."""
    seen: dict[int, None] = {}
    for e in entries:
        if AccountKind.PERSONAL_ACCOUNT in e.legs:
            seen.setdefault(e.person_id, None)
    return list(seen)


def ledger_rows(
    built: Built,
    transaction_ids: Sequence[int],
    personal_ids: dict[int, int],
    fund_id: Callable[[AccountKind], int],
    head_kinds: Sequence[str],
) -> Ledger:
    """Transactions, postings (fund legs on the area's accounts, personal legs on the
    person's account), contributions, the new personal accounts with their balances, and the
    fund accounts' balance moves."""
    out = Ledger()
    personal_balance: dict[int, int] = {}
    # the postings of each distinct legs (shared by the payments of equal amounts) as one
    # template: its number, then per leg the account id (0: the person's personal account)
    templates: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = {}
    uses: dict[int, int] = {}
    heads: dict[int, int] = {}  # contributions by template
    personal = AccountKind.PERSONAL_ACCOUNT
    for e, txn in zip(built.entries, transaction_ids, strict=True):
        out.transactions.append((txn, e.kind, e.occurred_on, e.description, e.reference))
        key = id(e.legs)
        found = templates.get(key)
        if found is None:
            legs = tuple(
                (0 if kind is personal else fund_id(kind), fen) for kind, fen in e.legs.items()
            )
            found = templates[key] = (len(templates) + 1, legs)
            out.templates.extend((found[0], account, fen) for account, fen in legs)
        uses[key] = uses.get(key, 0) + 1
        account = personal_ids.get(e.person_id)
        out.legs.append((txn, found[0], account))
        out.postings += len(found[1])
        for held, fen in found[1]:
            if not held and account is not None:
                personal_balance[account] = personal_balance.get(account, 0) + fen
        if e.contribution is not None:
            head, paid_on = e.contribution
            out.contributions.append(
                (head, e.person_id, built.enrolment_of[e.person_id], paid_on, txn)
            )
            heads[head] = heads.get(head, 0) + 1
    for head, n in heads.items():
        out.counts[head_kinds[head]] = out.counts.get(head_kinds[head], 0) + n
    for key, n in uses.items():
        for account, fen in templates[key][1]:
            if account:
                out.fund_moves[account] = out.fund_moves.get(account, 0) + n * fen
    for person_id, account in personal_ids.items():
        ref = AccountRef.personal(person_id)
        out.personal_accounts.append(
            (
                account,
                ref.code,
                ref.kind.value,
                person_id,
                ref.kind.normal_side,
                personal_balance.get(account, 0),
            )
        )
    return out
