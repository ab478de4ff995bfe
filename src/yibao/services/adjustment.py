"""The year's provincial adjustment on the ledger (省级调剂金, back-office.md section 2): each
city's pooling fund figures are read from the ledger, ``rules.funds.adjust_year`` (the rules of
``yibao calc funds``) gives the draws and gap payments, and one balanced transaction per
province, scheme and year posts them between the cities' pooling funds and the province's
adjustment fund of the scheme.

Figures of year Y's adjustment, per pooling account (``employee_pooling:<area>`` or
``resident_pooling:<area>``), from the postings dated in Y − 1:

- income last year: the credits, without settlement reversals;
- expenditure last year: the debits less the credits of settlement reversals;
- balance: the account's balance from its postings dated up to 31 December of Y − 1;

the adjustment's own transactions (and opening balances) count as neither. The province's income
is the sum over its areas on the ledger; the adjustment fund's balance is its balance at the end
of Y − 1. Gaps caused by policy are given (the ledger cannot tell which part of a deficit a
policy caused). The transaction (kind ``adjustment``, reference
``adjust:<province>:<scheme>:<year>``, dated 31 December of Y unless given) debits each city's
pooling fund with its draw and credits it with the adjustment fund's part of its gap; the
adjustment fund takes the draws in and pays the gaps out. Running it again posts nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.funds import REVERSAL_KINDS
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, Posting, credit, debit
from yibao.domain.registry import check_area
from yibao.policy import Policy, fen_to_yuan
from yibao.policy.money import AmountError, parse_fund_yuan
from yibao.policy.vocab import InsuranceScheme
from yibao.rules.funds import (
    Adjustment,
    AreaFigures,
    adjust_year,
    adjustment_parameters,
    province_of,
    warning_thresholds,
)
from yibao.services.common import PolicySource, policy_for
from yibao.store.uow import UnitOfWork

ADJUSTMENT_KIND = "adjustment"
#: Transactions that are not a pooling fund's income or expenditure.
NOT_FLOWS = frozenset({ADJUSTMENT_KIND, "opening_balance"})
#: Transactions whose credits undo expenditure (not income).
REVERSALS = frozenset(REVERSAL_KINDS)

#: Policy-caused gaps (fen) by scheme and pooling area.
Gaps = Mapping[InsuranceScheme, Mapping[str, int]]


def adjustment_reference(province: str, scheme: InsuranceScheme, year: int) -> str:
    return f"adjust:{province}:{scheme.value}:{year}"


def parse_gaps(doc: object) -> dict[InsuranceScheme, dict[str, int]]:
    """Gaps from a document ``{scheme: {area: yuan}}`` (a gaps file), each refusal naming
    ``gaps.<scheme>.<area>``."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidField("gaps", "must be a mapping of scheme to {area: yuan}")
    out: dict[InsuranceScheme, dict[str, int]] = {}
    for key, areas in doc.items():
        if key not in tuple(InsuranceScheme):
            schemes = ", ".join(InsuranceScheme)
            raise InvalidField(f"gaps.{key}", f"unknown scheme; expected one of {schemes}")
        scheme = InsuranceScheme(key)
        if areas is None:
            continue
        if not isinstance(areas, dict):
            raise InvalidField(f"gaps.{key}", "must be a mapping of area to yuan")
        for area, amount in areas.items():
            field = f"gaps.{key}.{area}"
            check_area(area, field)
            try:
                out.setdefault(scheme, {})[area] = parse_fund_yuan(amount, field)
            except AmountError as exc:
                raise InvalidField(exc.field, exc.reason, amount) from exc
    return out


@dataclass(frozen=True, slots=True)
class YearAdjustment:
    """One province's adjustment of one scheme for a year, as computed and (once) posted."""

    province: str
    scheme: InsuranceScheme
    year: int
    on: dt.date
    reference: str
    province_income_last_year: int
    adjustment_balance: int  # at the end of last year
    result: Adjustment
    transaction: int | None  # the posted transaction (this run or before); None: nothing moves
    posted: bool  # posted by this run
    matches_ledger: bool  # the stored transaction has exactly the postings computed now

    def as_dict(self) -> dict[str, Any]:
        return {
            "province": self.province,
            "scheme": self.scheme.value,
            "year": self.year,
            "on": self.on.isoformat(),
            "reference": self.reference,
            "province_income_last_year": fen_to_yuan(self.province_income_last_year),
            "adjustment_balance": fen_to_yuan(self.adjustment_balance),
            **self.result.as_dict(),
            "transaction": self.transaction,
            "posted": self.posted,
            "matches_ledger": self.matches_ledger,
        }


def adjust(
    uow: UnitOfWork,
    year: int,
    *,
    gaps: Gaps | None = None,
    province: str | None = None,
    on: dt.date | None = None,
    policies: PolicySource = policy_for,
) -> list[YearAdjustment]:
    """The adjustment of ``year`` for every province (or ``province``) and scheme with pooling
    accounts on the ledger, each posted once (see the module)."""
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 < year < 3000:
        raise InvalidField("year", "not a plausible year", year)
    if province is not None and province_of(check_area(province, "province")) != province:
        raise InvalidField("province", "must be a province code (two digits and 0000)", province)
    on = on or dt.date(year, 12, 31)
    if on.year != year:
        raise InvalidField("on", f"must be a day of {year}", on.isoformat())
    gaps = gaps or {}
    out: list[YearAdjustment] = []
    with uow:
        pooling = uow.ledger.fund_accounts(AccountKind.pooling(s) for s in InsuranceScheme)
        found: dict[tuple[str, InsuranceScheme], list[str]] = defaultdict(list)
        for account in pooling:
            area = account.ref.pooling_area
            scheme = _scheme_of(account.ref.kind)
            if area is not None and (province is None or province_of(area) == province):
                found[(province_of(area), scheme)].append(area)
        _check_gaps(gaps, found, province)
        for (prov, scheme), areas in sorted(found.items()):
            given = gaps.get(scheme, {})
            out.append(_adjust_one(uow, prov, scheme, year, on, areas, given, policies(prov)))
    return out


def _scheme_of(kind: AccountKind) -> InsuranceScheme:
    return next(s for s in InsuranceScheme if AccountKind.pooling(s) is kind)


def _check_gaps(
    gaps: Gaps, found: Mapping[tuple[str, InsuranceScheme], list[str]], province: str | None
) -> None:
    """Refuse a gap of an area that is not adjusted (no pooling fund of the scheme on the
    ledger, or outside ``province``)."""
    known = {(scheme, area) for (_, scheme), areas in found.items() for area in areas}
    where = f" in province {province}" if province else ""
    for scheme, areas in gaps.items():
        for area in areas:
            if (scheme, area) not in known:
                raise InvalidField(
                    f"gaps.{scheme.value}.{area}",
                    f"no {scheme.value} pooling fund of {area} on the ledger{where}",
                )


def _figures(
    uow: UnitOfWork, scheme: InsuranceScheme, areas: list[str], year: int, gaps: Mapping[str, int]
) -> list[AreaFigures]:
    kind = AccountKind.pooling(scheme)
    codes = {area: AccountRef.fund(kind, area).code for area in areas}
    first, last = dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31)
    income: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    for code, txn_kind, debits, credits in uow.ledger.flows(list(codes.values()), first, last):
        if txn_kind in NOT_FLOWS:
            continue
        if txn_kind in REVERSALS:
            spent[code] += debits - credits
        else:
            income[code] += credits
            spent[code] += debits
    balances = uow.ledger.balances_on(list(codes.values()), last)
    return [
        AreaFigures(
            code=area,
            income_last_year=income[code],
            expenditure_last_year=max(spent[code], 0),
            balance=-balances[code],  # a fund is credit-normal
            gap=gaps.get(area, 0),
        )
        for area, code in codes.items()
    ]


def _postings(result: Adjustment, scheme: InsuranceScheme, province: str) -> list[Posting]:
    pooling = AccountKind.pooling(scheme)
    fund = AccountRef.fund(AccountKind.adjustment(scheme), province)
    legs: list[Posting] = []
    for a in result.areas:
        legs.append(debit(AccountRef.fund(pooling, a.code), a.draw))
        legs.append(credit(AccountRef.fund(pooling, a.code), a.gap_from_adjustment))
    legs.append(credit(fund, sum(a.draw for a in result.areas)))
    legs.append(debit(fund, sum(a.gap_from_adjustment for a in result.areas)))
    return [p for p in legs if p.amount != 0]


def _adjust_one(
    uow: UnitOfWork,
    province: str,
    scheme: InsuranceScheme,
    year: int,
    on: dt.date,
    areas: list[str],
    gaps: Mapping[str, int],
    policy: Policy,
) -> YearAdjustment:
    figures = _figures(uow, scheme, areas, year, gaps)
    fund_code = AccountRef.fund(AccountKind.adjustment(scheme), province).code
    held = -uow.ledger.balances_on([fund_code], dt.date(year - 1, 12, 31))[fund_code]
    income = sum(f.income_last_year for f in figures)
    first = dt.date(year, 1, 1)
    result = adjust_year(
        figures,
        income,
        held,
        adjustment_parameters(policy, first),
        warning_thresholds(policy, first),
    )
    reference = adjustment_reference(province, scheme, year)
    postings = _postings(result, scheme, province)

    def outcome(transaction: int | None, posted: bool, matches: bool) -> YearAdjustment:
        return YearAdjustment(
            province,
            scheme,
            year,
            on,
            reference,
            income,
            held,
            result,
            transaction,
            posted,
            matches,
        )

    stored = uow.ledger.transaction_id(reference)
    if stored is not None:
        same = Counter(uow.ledger.postings_of(stored)) == Counter(postings)
        return outcome(stored, False, same)
    if len(postings) < 2:  # nothing moves: no draw (paused) and no gap
        return outcome(None, False, True)
    txn = LedgerTransaction.of(
        ADJUSTMENT_KIND,
        on,
        postings,
        f"provincial adjustment {year} of the {scheme.value} pooling funds of {province}",
        reference,
    )
    try:
        txn_id = uow.ledger.post(txn)
    except AlreadyExists:  # posted meanwhile by another run
        uow.rollback()
        return outcome(uow.ledger.transaction_id(reference), False, True)
    uow.commit()
    return outcome(txn_id, True, True)
