"""Writing a part's rows: ids reserved, rows built (``build``), copied (``store.bulk_write``),
fund balances moved and every transaction checked, inside the part's database transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from yibao.domain.errors import UnbalancedTransaction
from yibao.domain.funds import MonthKey, month_moves
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.services import ledger
from yibao.services.area_load import build, households, year_rules
from yibao.services.area_load.read import GeneratedPerson
from yibao.services.area_load.report import LoadReport
from yibao.store import bulk_write
from yibao.store.bulk_write import copy_expanded, next_ids
from yibao.store.repositories.funds import add_month_totals
from yibao.store.sql import copy_rows

RELATION_COLUMNS = ("person_id", "relative_id", "kind")
GROUP_COLUMNS = ("person_id", "kind", "valid_from", "valid_to")
ENROLMENT_COLUMNS = (
    "id",
    "person_id",
    "scheme",
    "kind",
    "pooling_area",
    "employer_code",
    "start_date",
    "status",
    "carried_employee_months",
    "carried_resident_years",
)
EVENT_COLUMNS = ("enrolment_id", "kind", "on_date")
COVERAGE_COLUMNS = (
    "person_id",
    "year",
    "status",
    "scheme",
    "pooling_area",
    "paid_on",
    "repaired",
    "fund_paid",
    "continuous_years",
    "zero_claim",
    "closed",
)
#: a closed past year's columns but the person's (shared by equal generated histories)
COVERAGE_SHARED = COVERAGE_COLUMNS[1:]
ACCOUNT_COLUMNS = ("id", "code", "kind", "person_id", "normal_side", "balance")
TRANSACTION_COLUMNS = ("id", "kind", "occurred_on", "description", "reference")
CONTRIBUTION_COLUMNS = (
    "person_id",
    "enrolment_id",
    "kind",
    "period_start",
    "period_end",
    "base",
    "employer_part",
    "employee_part",
    "individual",
    "fiscal_subsidy",
    "assistance_paid",
    "account_credit",
    "paid_on",
    "transaction_id",
)
#: a contribution's own columns; the others (``year_rules.Rules.heads``) are shared by the payments
#: of a kind, month and amount
CONTRIBUTION_OWN = ("person_id", "enrolment_id", "paid_on", "transaction_id")
CONTRIBUTION_SHARED = tuple(c for c in CONTRIBUTION_COLUMNS if c not in CONTRIBUTION_OWN)
#: the fund accounts a year's contributions move (opened with every part, as the services
#: open them on first use)
CONTRIBUTION_FUNDS = (
    AccountKind.CASH,
    AccountKind.EMPLOYEE_POOLING,
    AccountKind.RESIDENT_POOLING,
    AccountKind.MEDICAL_ASSISTANCE,
    AccountKind.FISCAL_SUBSIDY_RECEIVABLE,
    AccountKind.LARGE_AMOUNT,
    AccountKind.CRITICAL_ILLNESS,
)


@dataclass
class Part:
    """What a slice of a part needs: the connection, the area, its rules, the report."""

    conn: Connection
    region: str
    persons: int  # in the area (employer codes are drawn over it)
    rules: year_rules.Rules
    report: LoadReport
    funds: dict[AccountKind, int] = field(default_factory=dict)

    def fund_id(self, kind: AccountKind) -> int:
        found = self.funds.get(kind)
        if found is None:
            found = bulk_write.fund_account_id(self.conn, AccountRef.fund(kind, self.region))
            self.funds[kind] = found
        return found


def write_registry(
    part: Part, people: Sequence[GeneratedPerson], person_ids: dict[int, int]
) -> None:
    """The close relations and special groups of the registered persons of a part."""
    relations = households.relations(people, person_ids)
    relations.sort()  # in the order of the primary key: its index is filled at its end
    copy_rows(part.conn, "relations", RELATION_COLUMNS, relations)
    part.report.relations += len(relations)
    year = part.rules.year
    groups = [
        row
        for p in people
        if (pid := person_ids.get(p.psn_no)) is not None
        for row in households.groups(p, pid, year)
    ]
    copy_rows(part.conn, "special_groups", GROUP_COLUMNS, groups)
    part.report.groups += len(groups)


def month_totals(entries: Sequence[build.Entry], area: str) -> dict[MonthKey, int]:
    """What the entries add to the funds' month totals (as the ledger counts a posted
    transaction: ``domain.funds.month_moves``)."""
    out: dict[MonthKey, int] = {}
    for e in entries:
        legs = (
            (kind, None if kind is AccountKind.PERSONAL_ACCOUNT else area, amount)
            for kind, amount in e.legs.items()
        )
        on = dt.date.fromisoformat(e.occurred_on)
        for key, amount in month_moves(e.kind, on, legs).items():
            out[key] = out.get(key, 0) + amount
    return out


def write_slice(part: Part, people: Sequence[GeneratedPerson], person_ids: dict[int, int]) -> None:
    """Enrolments, coverage years, contributions and their ledger transactions (and the
    opening balances of personal accounts) of the registered persons of ``people``."""
    conn, report = part.conn, part.report
    todo = [(p, person_ids[p.psn_no]) for p in people if p.psn_no in person_ids]
    built = build.Built()
    for (p, pid), eid in zip(todo, next_ids(conn, "enrolments", len(todo)), strict=True):
        build.person_rows(p, pid, eid, part.region, part.persons, part.rules, built)
    kinds = set(CONTRIBUTION_FUNDS)
    for entry in built.entries:
        kinds.update(entry.legs)
    for kind in sorted(kinds - {AccountKind.PERSONAL_ACCOUNT}):  # before reserving accounts
        part.fund_id(kind)
    transaction_ids = next_ids(conn, "ledger_transactions", len(built.entries))
    holders = build.needs_personal_account(built.entries)
    accounts = dict(zip(holders, next_ids(conn, "accounts", len(holders)), strict=True))
    rules = part.rules
    rows = build.ledger_rows(built, transaction_ids, accounts, part.fund_id, rules.head_kinds)
    copy_rows(conn, "enrolments", ENROLMENT_COLUMNS, built.enrolments)
    copy_rows(conn, "enrolment_events", EVENT_COLUMNS, built.events)
    copy_expanded(
        conn, "coverage_years", ("person_id",), COVERAGE_SHARED, rules.histories, built.history
    )
    copy_rows(conn, "coverage_years", COVERAGE_COLUMNS, built.coverage)
    copy_rows(conn, "accounts", ACCOUNT_COLUMNS, rows.personal_accounts)
    copy_rows(conn, "ledger_transactions", TRANSACTION_COLUMNS, rows.transactions)
    bulk_write.copy_postings(conn, rows.templates, rows.legs)
    heads = [rules.heads[h] for h in sorted({c[0] for c in rows.contributions})]
    copy_expanded(
        conn, "contributions", CONTRIBUTION_OWN, CONTRIBUTION_SHARED, heads, rows.contributions
    )
    bulk_write.move_balances(conn, rows.fund_moves)
    add_month_totals(conn, month_totals(built.entries, part.region))
    if transaction_ids:
        bad = bulk_write.unbalanced_between(conn, min(transaction_ids), max(transaction_ids))
        if bad is not None:
            raise UnbalancedTransaction(f"#{bad[0]}", bad[1])
    for kind_, n in built.kinds.items():
        report.count(report.enrolments, kind_, n)
    for kind_, n in rows.counts.items():
        report.count(report.contributions, kind_, n)
    openings = [e for e in built.entries if e.kind == ledger.OPENING_KIND]
    report.opening_balances += len(openings)
    report.opening_total += sum(e.legs[AccountKind.OPENING_BALANCE] for e in openings)
    report.transactions += len(rows.transactions)
    report.postings += rows.postings
    report.history_years += built.history_years
