"""The staff console's reads (工作台查询): persons found by national ID, person number or name;
a person's settlements; the fund accounts' daily movements; settlement layers summed; the
institutions and their keys; one staff token withdrawn at sign-out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from yibao.store.api_models import InstitutionKeyRow, InstitutionRow, StaffTokenRow
from yibao.store.models import (
    AccountRow,
    LedgerTransactionRow,
    PersonRow,
    PostingRow,
    SettlementLayerRow,
    SettlementRow,
)


@dataclass(frozen=True, slots=True)
class PersonHit:
    id: int
    national_id: str
    name: str
    region: str | None


def find_persons(
    session: Session,
    *,
    national_id: str | None = None,
    person_id: int | None = None,
    name: str | None = None,
    limit: int = 50,
) -> list[PersonHit]:
    """Persons by exact national ID, person number, or name (exact, or beginning with it, in
    name order), then by person number; at most ``limit``."""
    stmt = select(PersonRow.id, PersonRow.national_id, PersonRow.name, PersonRow.region)
    if national_id is not None:
        stmt = stmt.where(PersonRow.national_id == national_id)
    elif person_id is not None:
        stmt = stmt.where(PersonRow.id == person_id)
    elif name is not None:  # in name order: the index gives the first ``limit`` at once
        stmt = stmt.where(PersonRow.name.startswith(name, autoescape=True)).order_by(PersonRow.name)
    else:
        return []
    rows = session.execute(stmt.order_by(PersonRow.id).limit(limit)).all()
    return [PersonHit(int(r[0]), r[1], r[2], r[3]) for r in rows]


@dataclass(frozen=True, slots=True)
class SettlementLine:
    setl_id: str
    settled_on: dt.date
    medfee_sumamt: int
    fund_pay_sumamt: int
    psn_cash_pay: int
    status: str
    reversed_on: dt.date | None


def settlements_of(session: Session, person_id: int, limit: int = 100) -> list[SettlementLine]:
    """The person's settlements, newest first."""
    rows = session.execute(
        select(
            SettlementRow.setl_id,
            SettlementRow.settled_on,
            SettlementRow.medfee_sumamt,
            SettlementRow.fund_pay_sumamt,
            SettlementRow.psn_cash_pay,
            SettlementRow.status,
            SettlementRow.reversed_on,
        )
        .where(SettlementRow.person_id == person_id)
        .order_by(SettlementRow.settled_on.desc(), SettlementRow.id.desc())
        .limit(limit)
    ).all()
    return [SettlementLine(*r) for r in rows]


def fund_movements(session: Session) -> list[tuple[str, str, dt.date, int]]:
    """(account code, kind, day, signed sum of postings) of every fund account (not the
    personal accounts) per day with postings."""
    rows = session.execute(
        select(
            AccountRow.code,
            AccountRow.kind,
            LedgerTransactionRow.occurred_on,
            func.sum(PostingRow.amount),
        )
        .join(PostingRow, PostingRow.account_id == AccountRow.id)
        .join(LedgerTransactionRow, LedgerTransactionRow.id == PostingRow.transaction_id)
        .where(AccountRow.person_id.is_(None))
        .group_by(AccountRow.code, AccountRow.kind, LedgerTransactionRow.occurred_on)
    ).all()
    return [(code, kind, day, int(total)) for code, kind, day, total in rows]


def layer_totals(
    session: Session, first: dt.date | None = None, last: dt.date | None = None
) -> list[tuple[str, str, int, int]]:
    """(fund_pay_type, fund name, settlements, sum paid) of the layers of settlements in force
    (settled ``first`` to ``last`` when given), by fund_pay_type."""
    stmt = (
        select(
            SettlementLayerRow.fund_pay_type,
            func.min(SettlementLayerRow.fund_name),
            func.count(),
            func.sum(SettlementLayerRow.payment),
        )
        .join(SettlementRow, SettlementRow.id == SettlementLayerRow.settlement_id)
        .where(SettlementRow.status == "settled")
        .group_by(SettlementLayerRow.fund_pay_type)
        .order_by(SettlementLayerRow.fund_pay_type)
    )
    if first is not None:
        stmt = stmt.where(SettlementRow.settled_on >= first)
    if last is not None:
        stmt = stmt.where(SettlementRow.settled_on <= last)
    return [(t, n, int(c), int(s or 0)) for t, n, c, s in session.execute(stmt).all()]


@dataclass(frozen=True, slots=True)
class InstitutionKey:
    code: str
    name: str
    #: 定点医药机构类别 (``InstitutionKind``: hospital, village_clinic, pharmacy)
    kind: str
    level: int | None
    area: str | None
    key_id: str | None
    active: bool
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None


def institutions_and_keys(session: Session, limit: int = 500) -> list[InstitutionKey]:
    """Every institution with each of its keys (one line per key; one without keys: one line
    with no key), by code."""
    rows = session.execute(
        select(
            InstitutionRow.code,
            InstitutionRow.name,
            InstitutionRow.kind,
            InstitutionRow.level,
            InstitutionRow.area,
            InstitutionKeyRow.key_id,
            InstitutionKeyRow.active,
            InstitutionKeyRow.created_at,
            InstitutionKeyRow.revoked_at,
        )
        .outerjoin(InstitutionKeyRow, InstitutionKeyRow.institution_id == InstitutionRow.id)
        .order_by(InstitutionRow.code, InstitutionKeyRow.id)
        .limit(limit)
    ).all()
    return [
        InstitutionKey(c, n, kd, lv, a, k, bool(act) if k is not None else False, ca, ra)
        for c, n, kd, lv, a, k, act, ca, ra in rows
    ]


def revoke_token(session: Session, token_sha256: str) -> None:
    """Withdraw one staff token (sign-out); the account's other tokens stay."""
    session.execute(
        update(StaffTokenRow).where(StaffTokenRow.token_hash == token_sha256).values(revoked=True)
    )
