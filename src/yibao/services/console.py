"""The staff console's use cases (经办工作台): signing in and out with a staff account, finding a
person and reading their file (masked by role, every read audited), a settlement and its
reversal, the funds and the ledger check, the institutions and their keys.

The console (``yibao.web``) is a thin edge over these functions and the services it shares with
the command line (enrolment, contributions). Each read of a person's file or a settlement, each
sign-in, sign-out and write is written to ``audit_log`` as the API writes it, with ``actor``
``staff:<username>`` and ``detail`` starting ``console``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from yibao.domain.credentials import token_hash
from yibao.domain.errors import NotFound, RecordError
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.domain.masking import mask_ids_in, mask_name, mask_national_id, mask_phone
from yibao.domain.roles import UNMASKED, Role, allowed
from yibao.domain.text import printable
from yibao.services import accounts, ledger
from yibao.services.benefits import Entitlement, entitlement
from yibao.services.common import find_person
from yibao.services.person_file import load_file
from yibao.services.settlement.queries import SettlementOnRecord, settlement_on_record
from yibao.services.settlement.reverse import reverse
from yibao.store import console as store
from yibao.store.db import utcnow
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.uow import UnitOfWork

#: Roles that may use the console: the bureau's staff (not institutions, not insured persons).
CONSOLE_ROLES = frozenset(
    {Role.ENROLMENT_CLERK, Role.SETTLEMENT_AUDITOR, Role.FUND_MANAGER, Role.ADMINISTRATOR}
)


@dataclass(frozen=True)
class Staff:
    """A signed-in staff member."""

    username: str
    role: Role

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    def may(self, action: str) -> bool:
        return allowed(self.role, action)

    @property
    def sees_identity(self) -> bool:
        return self.role in UNMASKED


class ConsoleRefused(RecordError):
    """Signing in refused: unknown user, wrong password, or a role the console is not for."""


def _audit(uow: UnitOfWork, entry: AuditEntry) -> None:
    ApiRepository(uow.session).audit(entry)


def write_audit(uow: UnitOfWork, entry: AuditEntry) -> None:
    """Write one audit entry in its own transaction."""
    with uow:
        _audit(uow, entry)
        uow.commit()


def sign_in(uow: UnitOfWork, username: str, password: str, ttl_seconds: int) -> tuple[str, Staff]:
    """A session token for a staff account of a console role (``accounts.log_in``: the login
    audited); a refusal is audited (``auth:login``, denied) and raised as ``ConsoleRefused``."""
    name = printable(username, 64) or "?"
    try:
        issued = accounts.log_in(uow, username, password, ttl_seconds)
    except accounts.LoginRefused as exc:
        write_audit(
            uow,
            AuditEntry(
                f"staff:{name}", "unknown", "auth:login", "denied", detail=f"console; {exc.why}"
            ),
        )
        raise ConsoleRefused(str(exc)) from None
    role = Role(issued.role)
    if role not in CONSOLE_ROLES:
        with uow:
            store.revoke_token(uow.session, token_hash(issued.token))
            _audit(
                uow,
                AuditEntry(
                    f"staff:{name}", role.value, "auth:login", "denied", detail="console; role"
                ),
            )
            uow.commit()
        raise ConsoleRefused(f"role {role.value} does not use the staff console")
    return issued.token, Staff(username, role)


def staff_of(uow: UnitOfWork, token: str) -> Staff | None:
    """The account of a live session token of a console role, or None."""
    with uow:
        account = ApiRepository(uow.session).staff_by_token(token_hash(token), utcnow())
    if account is None or Role(account.role) not in CONSOLE_ROLES:
        return None
    return Staff(account.username, Role(account.role))


def sign_out(uow: UnitOfWork, token: str, staff: Staff) -> None:
    """Withdraw the session's token, audited (``auth:logout``)."""
    with uow:
        store.revoke_token(uow.session, token_hash(token))
        _audit(uow, AuditEntry(staff.actor, staff.role.value, "auth:logout", detail="console"))
        uow.commit()


# ------------------------------------------------------------------------------------ persons


@dataclass(frozen=True)
class Found:
    id: int
    national_id: str
    name: str
    region: str | None


def _query_kind(query: str) -> dict[str, Any]:
    q = query.strip()
    if len(q) == 18 and q[:17].isdigit() and q[17] in "0123456789Xx":
        return {"national_id": q.upper()}
    if q.isascii() and q.isdigit() and len(q) <= 18:
        return {"person_id": int(q)}
    return {"name": q}


def search(uow: UnitOfWork, staff: Staff, query: str, limit: int = 50) -> list[Found]:
    """Persons by national ID (18 characters), person number (digits) or name (its beginning),
    masked unless the role may see identities. The search is audited (``person:search``, the
    query masked, how many found)."""
    q = printable(query, 100) or ""
    if not q.strip():
        return []
    with uow:
        hits = store.find_persons(uow.session, **_query_kind(q), limit=limit)
        shown = "identity shown" if staff.sees_identity else "identity masked"
        _audit(
            uow,
            AuditEntry(
                staff.actor,
                staff.role.value,
                "person:search",
                target=printable(mask_ids_in(q), 80),
                detail=f"console; {len(hits)} found; {shown}",
            ),
        )
        uow.commit()
    if staff.sees_identity:
        return [Found(h.id, h.national_id, h.name, h.region) for h in hits]
    return [
        Found(h.id, mask_national_id(h.national_id) or "", mask_name(h.name) or "", h.region)
        for h in hits
    ]


@dataclass
class PersonView:
    """A person's file as the console shows it (amounts in fen)."""

    id: int
    national_id: str
    name: str
    phone: str | None
    birth_date: dt.date | None
    sex: str
    age: int
    region: str | None
    enrolments: list[dict[str, Any]]
    coverage_years: list[dict[str, Any]]
    entitlement: Entitlement
    contributions: list[dict[str, Any]]
    personal_account: int
    links: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    settlements: list[store.SettlementLine] | None = field(default=None)


def person_view(uow: UnitOfWork, staff: Staff, person_id: int, on: dt.date) -> PersonView:
    """The person's file on ``on``: identity (masked unless the role may see it), enrolments,
    coverage years, the waiting period and caps (with the incentive raise), contributions, the
    personal account, mutual-aid links, special groups and (for roles that read settlements)
    settlements. The read is audited (``person:read``) in the same transaction."""
    with uow:
        p = find_person(uow, person_id)
        assert p.id is not None
        file = load_file(uow, p)
        ent = entitlement(uow, p, on)
        account = uow.ledger.account(AccountRef.personal(p.id))
        shown = staff.sees_identity
        view = PersonView(
            id=p.id,
            national_id=p.label if shown else mask_national_id(p.label) or "",
            name=p.name if shown else mask_name(p.name) or "",
            phone=p.phone if shown else mask_phone(p.phone),
            birth_date=p.birth_date if shown else None,
            sex=p.sex.value,
            age=p.age_on(on),
            region=p.region,
            enrolments=[
                {
                    "id": e.id,
                    "scheme": e.scheme.value,
                    "kind": e.kind.value,
                    "area": e.pooling_area,
                    "start": e.start_date,
                    "end": e.end_date,
                    "status": e.status.value,
                    "employer": e.employer_code,
                }
                for e in file.enrolments
            ],
            coverage_years=[
                {
                    "year": c.year,
                    "status": c.status.value,
                    "continuous": c.continuous_years,
                    "zero_claim": c.zero_claim,
                    "repaired": c.repaired,
                    "fund_paid": c.fund_paid,
                    "closed": c.closed,
                }
                for c in file.coverage
            ],
            entitlement=ent,
            contributions=[
                {
                    "kind": c.kind.value,
                    "period_start": c.period_start,
                    "period_end": c.period_end,
                    "paid_on": c.paid_on,
                    "total": c.total,
                    "account_credit": c.account_credit,
                    "transaction": c.transaction_id,
                }
                for c in sorted(
                    uow.contributions.for_person(p.id), key=lambda c: c.period_start, reverse=True
                )
            ],
            personal_account=account.natural_balance if account else 0,
            links=[
                {
                    "owner": link.owner_id,
                    "authorised_on": link.authorised_on,
                    "revoked_on": link.revoked_on,
                }
                for link in file.links
            ],
            groups=[
                {"kind": g.kind.value, "from": g.valid_from, "to": g.valid_to} for g in file.groups
            ],
            settlements=(
                store.settlements_of(uow.session, p.id) if staff.may("settlement:read") else None
            ),
        )
        _audit(
            uow,
            AuditEntry(
                staff.actor,
                staff.role.value,
                "person:read",
                person_id=p.id,
                target=f"person:{p.id}",
                detail="console; identity shown" if shown else "console; identity masked",
            ),
        )
        uow.commit()
    return view


# -------------------------------------------------------------------------------- settlements


@dataclass(frozen=True)
class SettlementView:
    record: SettlementOnRecord
    person_id: int


def settlement_view(uow: UnitOfWork, staff: Staff, setl_id: str) -> SettlementView:
    """A settlement with its layers (setldetail), audited (``settlement:read``)."""
    record = settlement_on_record(uow, setl_id)
    with uow:
        row = uow.settlements.get(setl_id)
        if row is None:
            raise NotFound("settlement", setl_id)
        _audit(
            uow,
            AuditEntry(
                staff.actor,
                staff.role.value,
                "settlement:read",
                person_id=row.person_id,
                target=setl_id[:80],
                detail="console",
            ),
        )
        uow.commit()
    return SettlementView(record, row.person_id)


def reverse_settlement(
    uow: UnitOfWork, staff: Staff, setl_id: str, reason: str, on: dt.date | None = None
) -> dt.date:
    """Reverse a settlement (2208, ``settlement.reverse``) with the reason given; audited
    (``tx:2208``, the reason in ``detail``). The reason is required."""
    why = printable(reason, 400) or ""
    if len(why.strip()) < 2:
        from yibao.domain.errors import InvalidField

        raise InvalidField("reason", "say why the settlement is reversed")
    done = reverse(uow, setl_id, on=on)
    write_audit(
        uow,
        AuditEntry(
            staff.actor,
            staff.role.value,
            "tx:2208",
            target=setl_id[:80],
            detail=f"console; reason: {why.strip()}",
        ),
    )
    return done.reversed_on


# ------------------------------------------------------------------------------------ funds

#: The fund kinds charted month by month (the pooling funds, the big-illness and large-amount
#: insurance, medical assistance).
CHARTED_FUNDS = (
    AccountKind.EMPLOYEE_POOLING,
    AccountKind.RESIDENT_POOLING,
    AccountKind.CRITICAL_ILLNESS,
    AccountKind.LARGE_AMOUNT,
    AccountKind.MEDICAL_ASSISTANCE,
)


@dataclass
class FundsView:
    report: ledger.FundsReport
    check: ledger.ReconciliationReport
    #: month (YYYY-MM) labels and, per fund kind, the natural balance at each month's end (fen)
    months: list[str]
    series: dict[str, list[int]]
    #: (fund_pay_type, fund name, settlements, paid fen) of the settlements in force
    layers: list[tuple[str, str, int, int]]


def month_end_balances(
    movements: list[tuple[str, str, dt.date, int]], kinds: tuple[AccountKind, ...]
) -> tuple[list[str], dict[str, list[int]]]:
    """Per fund kind, the natural balance (summed over areas) at the end of every month from
    the first posting to the last; ``movements`` are (code, kind, day, signed sum)."""
    wanted = {k.value: k for k in kinds}
    by_month: dict[str, dict[str, int]] = {}
    for _code, kind, day, amount in movements:
        if kind not in wanted:
            continue
        natural = amount if wanted[kind].debit_normal else -amount
        month = f"{day:%Y-%m}"
        by_month.setdefault(month, {}).setdefault(kind, 0)
        by_month[month][kind] += natural
    if not by_month:
        return [], {}
    first, last = min(by_month), max(by_month)
    months: list[str] = []
    y, m = int(first[:4]), int(first[5:])
    while f"{y:04d}-{m:02d}" <= last:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    series: dict[str, list[int]] = {}
    for kind in wanted:
        running, points = 0, []
        for month in months:
            running += by_month.get(month, {}).get(kind, 0)
            points.append(running)
        if any(points):
            series[kind] = points
    return months, series


def funds_view(uow: UnitOfWork) -> FundsView:
    """Fund balances, the ledger check (``ledger.reconcile``), balances month by month and the
    settlements' layers."""
    report = ledger.funds_report(uow)
    check = ledger.reconcile(uow)
    with uow:
        movements = store.fund_movements(uow.session)
        layers = store.layer_totals(uow.session)
    months, series = month_end_balances(movements, CHARTED_FUNDS)
    return FundsView(report, check, months, series, layers)


def institutions(uow: UnitOfWork) -> list[store.InstitutionKey]:
    """The institutions and their keys."""
    with uow:
        return store.institutions_and_keys(uow.session)


def console_audit(
    uow: UnitOfWork,
    staff: Staff,
    action: str,
    detail: str,
    *,
    person_id: int | None = None,
    target: str | None = None,
) -> None:
    """Audit a read or write done through the console as ``staff:<user>``, its detail
    beginning ``console``."""
    write_audit(
        uow,
        AuditEntry(
            staff.actor,
            staff.role.value,
            action,
            person_id=person_id,
            target=target,
            detail=f"console; {detail}"[:500],
        ),
    )


def record_write(
    uow: UnitOfWork, staff: Staff, action: str, person_id: int | None, detail: str
) -> None:
    """Audit a write done through the console (enrolment, payment)."""
    target = None if person_id is None else f"person:{person_id}"
    console_audit(uow, staff, action, detail, person_id=person_id, target=target)
