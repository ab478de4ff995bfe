"""Settlement use cases (一站式结算, 2201/2202/2206/2207/2208): register and cancel a visit,
pre-settle, settle (one claim, or many in one transaction) and reverse.

Every amount is computed by the settlement kernel (``yibao.kernel.online.settle_many``, once
per batch of claims) from what the store holds, read for the whole batch at once
(``services.person_file``): entitlement and waiting period from the enrolment and coverage
history (``yibao.rules.waiting``), the critical-illness incentive raise from the coverage years
(``yibao.rules.incentives``), the personal account balance from the ledger, the family
mutual-aid balance through an authorised link, and the person's year-to-date state.

A batch of settlements is one database transaction: the visits (if not registered before), the
settlements with their layers, one balanced ledger transaction each and the moved year-to-date
states. The persons' state rows are locked first, in (person, year) order, so two settlements
of one person run one after the other and cannot spend the same remaining cap or account
balance. A refused claim changes nothing and does not stop the others.

Reversal posts the exact negation of the settlement's transaction and takes the settlement's
stored state delta out of the year-to-date state, each capped layer's running total reset to
what it paid (``kernel.settle.reversed_state``, see ``docs/store.md``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError

from yibao.calc.scenario import ScenarioError
from yibao.calc.scenario import amount as yuan_amount
from yibao.calc.scenario import date as scenario_date
from yibao.calc.settle import OUTPUT_FIELDS
from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import (
    ForeignRecord,
    InvalidField,
    NotFound,
    RecordError,
    RequestConflict,
    SettlementRefused,
)
from yibao.domain.ledger import (
    Account,
    AccountKind,
    AccountRef,
    LedgerTransaction,
    Posting,
    credit,
    debit,
)
from yibao.domain.registry import MutualAidLink, Person
from yibao.domain.settlement import (
    Claim,
    Layer,
    Reversal,
    Settlement,
    SettlementStatus,
    Visit,
    VisitStatus,
    check_cross_region,
    check_level,
    check_med_type,
)
from yibao.domain.text import check_identifier
from yibao.kernel import online
from yibao.kernel.online import Request
from yibao.kernel.report import FUND_CODES, setl_detail
from yibao.kernel.settle import (
    REASONS,
    WAITING,
    Claims,
    Persons,
    Result,
    State,
    reversed_state,
    state_keys,
)
from yibao.kernel.tables import (
    CROSS_REGION,
    MED_TYPES,
    SCHEME_INPUT,
    Tables,
    compile_tables,
    epoch_days,
)
from yibao.policy import ParameterError, Policy, fen_to_yuan, money, yuan_to_fen
from yibao.services import clock
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.services.person_file import (
    Entitlement,
    PersonFile,
    aid_class,
    covering_enrolment,
    entitlement,
    incentive_raise,
    load_file,
    load_files,
    mutual_aid_link,
    rule_scheme,
)
from yibao.store.models import SETTLEMENT_AMOUNTS
from yibao.store.settlements import SettlementRecord, StoredSettlement
from yibao.store.uow import UnitOfWork

#: Far in the future: the kernel settles every claim before it as self-paid.
NEVER = 10**9
#: State keys whose limit is a live balance read from the ledger, not a yearly cap.
BALANCE_LAYERS = ("acct.raw", "acct.paid", "mulaid.raw", "mulaid.paid")
#: Fund type code (基金支付类型) → the ledger account the layer is paid from.
FUND_ACCOUNTS = {
    FUND_CODES["basic_employee"][0]: AccountKind.EMPLOYEE_POOLING,
    FUND_CODES["basic_resident"][0]: AccountKind.RESIDENT_POOLING,
    FUND_CODES["critical_illness"][0]: AccountKind.CRITICAL_ILLNESS,
    FUND_CODES["large_amount"][0]: AccountKind.LARGE_AMOUNT,
    FUND_CODES["assistance"][0]: AccountKind.MEDICAL_ASSISTANCE,
}


@lru_cache(maxsize=64)
def tables_for(policy: Policy, year: int) -> Tables:
    """The policy compiled for the kernel, once per (policy, year)."""
    return compile_tables(policy, year)


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24].upper()}"


def not_after_today(field: str, day: dt.date) -> None:
    """Refuse a settlement, visit or reversal dated after today (``clock.today``)."""
    today = clock.today()
    if day > today:
        raise InvalidField(field, f"{day.isoformat()} is after today ({today.isoformat()})", day)


# ------------------------------------------------------------------------------------ visits


def register_visit(
    uow: UnitOfWork,
    who: str | int,
    fixmedins_code: str,
    med_type: str,
    level: int,
    begin_date: dt.date,
    *,
    cross_region: str = "none",
    mdtrt_id: str | None = None,
) -> Visit:
    """Register a visit (2201). The person must be enrolled on ``begin_date``, not later than
    today."""
    not_after_today("begntime", begin_date)
    check_identifier("fixmedins_code", fixmedins_code)
    if mdtrt_id is not None:
        check_identifier("mdtrt_id", mdtrt_id)
    with uow:
        person = find_person(uow, who)
        assert person.id is not None
        covering_enrolment(person, uow.enrolments.history(person.id), begin_date)
        visit = uow.settlements.add_visit(
            Visit(
                mdtrt_id=mdtrt_id or _new_id("V"),
                person_id=person.id,
                fixmedins_code=fixmedins_code,
                med_type=med_type,
                level=level,
                begin_date=begin_date,
                cross_region=cross_region,
            )
        )
        uow.commit()
    return visit


def cancel_visit(uow: UnitOfWork, mdtrt_id: str, on: dt.date | None = None) -> Visit:
    """Cancel a registered visit (2202); refused while a settlement of it is in force."""
    day = on or clock.today()
    not_after_today("date", day)
    with uow:
        visit = uow.settlements.visit(mdtrt_id, lock=True)
        if visit is None:
            raise NotFound("visit", mdtrt_id)
        assert visit.id is not None
        if visit.status is VisitStatus.CANCELLED:
            raise SettlementRefused(f"visit {mdtrt_id}", "already cancelled")
        setl_id = uow.settlements.settled_on_visit(visit.id)
        if setl_id is not None:
            raise SettlementRefused(
                f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it first"
            )
        if day < visit.begin_date:
            raise InvalidField("cancelled_on", "is before the visit began", day)
        uow.settlements.cancel_visit(visit.id, day)
        uow.commit()
        found = uow.settlements.visit(mdtrt_id)
        assert found is not None
    return found


# ----------------------------------------------------------------------------- claim input


def claim_from_mapping(doc: Mapping[str, Any]) -> Claim:
    """A claim from a YAML/JSON mapping (amounts in yuan); errors name the field."""
    try:
        person = doc.get("person") or doc.get("psn_no")
        if person is None:
            raise InvalidField("person", "missing (national ID)")
        on = scenario_date(doc.get("date") or doc.get("setl_time"), "date")
        level = doc.get("level")
        if level is not None and not isinstance(level, int):
            raise InvalidField("level", f"unknown institution level {level!r}; expected 1, 2 or 3")
        use_account = doc.get("use_account", True)
        if not isinstance(use_account, bool):
            raise InvalidField("use_account", "must be true or false")
        return Claim(
            person=str(person),
            date=on,
            total=yuan_amount(doc.get("total", doc.get("medfee_sumamt")), "total"),
            med_type=None if doc.get("med_type") is None else str(doc["med_type"]),
            level=level,
            fully_self_paid=yuan_amount(
                doc.get("fully_self_paid", doc.get("fulamt_ownpay_amt")),
                "fully_self_paid",
                allow_none=True,
            ),
            over_limit=yuan_amount(
                doc.get("over_limit", doc.get("overlmt_selfpay")), "over_limit", allow_none=True
            ),
            category_b=yuan_amount(doc.get("category_b"), "category_b", allow_none=True),
            cross_region=None if doc.get("cross_region") is None else str(doc["cross_region"]),
            fixmedins_code=None
            if doc.get("fixmedins_code") is None
            else check_identifier("fixmedins_code", str(doc["fixmedins_code"])),
            mdtrt_id=None
            if doc.get("mdtrt_id") is None
            else check_identifier("mdtrt_id", str(doc["mdtrt_id"])),
            use_account=use_account,
            mutual_aid_from=None
            if doc.get("mutual_aid_from") is None
            else str(doc["mutual_aid_from"]),
        )
    except ScenarioError as exc:
        raise InvalidField(exc.field, exc.reason) from exc


# ----------------------------------------------------------------------------- computation


@dataclass
class _Input:
    """A claim made ready for the kernel: what was read for it and the kernel's request."""

    file: PersonFile
    claim: Claim
    visit: Visit | None  # None: a visit is registered with the settlement
    med_type: str
    level: int
    cross_region: str
    enrolment: Enrolment
    tables: Tables
    scheme: str
    ent: Entitlement
    incentive_raise: int
    account: int
    link: MutualAidLink | None
    stored_state: dict[str, int]
    given: dict[str, int]
    request: Request


@dataclass
class _Computed:
    """A claim worked out by the kernel, before anything is stored."""

    input: _Input
    amounts: dict[str, int]
    layers: tuple[Layer, ...]
    reasons: tuple[str, ...]
    flags: int
    admission_no: int
    body: dict[str, Any]  # the answer without the ids
    delta: dict[str, int]
    state_after: dict[str, int]

    @property
    def fixmedins_code(self) -> str:
        i = self.input
        return (i.visit.fixmedins_code if i.visit else i.claim.fixmedins_code) or ""


def _visit_for(
    file: PersonFile, claim: Claim, visit: Visit | None, institution: str | None
) -> tuple[str, int, str]:
    """The claim's med type, level and cross-region status: its registered visit's, if named."""
    if claim.mdtrt_id is None:
        assert claim.med_type is not None and claim.level is not None
        return claim.med_type, claim.level, claim.cross_region or "none"
    if visit is None:
        raise NotFound("visit", claim.mdtrt_id)
    if institution is not None and visit.fixmedins_code != institution:
        raise ForeignRecord(f"visit {claim.mdtrt_id}")
    if visit.person_id != file.id:
        raise InvalidField("mdtrt_id", f"visit {claim.mdtrt_id} is not {file.person.label}'s")
    if visit.status is VisitStatus.CANCELLED:
        raise SettlementRefused(f"visit {claim.mdtrt_id}", "was cancelled")
    for name in ("med_type", "level", "cross_region", "fixmedins_code"):
        given = getattr(claim, name)
        if given is not None and given != getattr(visit, name):
            raise InvalidField(name, f"{given!r} differs from the registered visit's")
    if claim.date < visit.begin_date:
        raise InvalidField("date", "is before the visit began", claim.date)
    return visit.med_type, visit.level, visit.cross_region


def _mutual_aid_link(file: PersonFile, claim: Claim, owner: Person | None) -> MutualAidLink | None:
    """The family mutual-aid link that pays, if any (``owner``: the one the claim names)."""
    if claim.mutual_aid_from is None:
        return mutual_aid_link(file, claim.date, None)
    if owner is None:
        raise NotFound("person", claim.mutual_aid_from)
    link = mutual_aid_link(file, claim.date, owner.id)
    if link is None:
        raise InvalidField(
            "mutual_aid_from",
            f"no mutual-aid authorisation from {owner.label} in force on {claim.date.isoformat()}",
        )
    return link


def _natural(accounts: Mapping[AccountRef, Account], person_id: int) -> int:
    account = accounts.get(AccountRef.personal(person_id))
    return max(account.natural_balance, 0) if account is not None else 0


def _prepare(
    file: PersonFile,
    claim: Claim,
    stored_state: dict[str, int],
    visit: Visit | None,
    link: MutualAidLink | None,
    accounts: Mapping[AccountRef, Account],
    policies: PolicySource,
    institution: str | None = None,
) -> _Input:
    """Everything the kernel needs for one claim, from the person's file (pure)."""
    _check_year_room(stored_state, claim.total)
    med_type, level, cross = _visit_for(file, claim, visit, institution)
    enrolment = covering_enrolment(file.person, file.enrolments, claim.date)
    policy = policies(enrolment.pooling_area)
    year = claim.date.year
    tables = tables_for(policy, year)
    scheme = rule_scheme(enrolment)
    ent = entitlement(file, enrolment, claim.date, policy)
    raise_ = incentive_raise(file, year, policy) if scheme == "resident" else 0
    account = _natural(accounts, file.id) if claim.use_account and scheme != "resident" else 0
    mutual = _natural(accounts, link.owner_id) if link is not None else 0
    claims = Claims(
        person=np.zeros(1, dtype=np.int64),
        date=np.array([epoch_days(claim.date)], dtype=np.int64),
        med_type=np.array([MED_TYPES.index(med_type)], dtype=np.int64),
        level=np.array([level - 1], dtype=np.int64),
        cross_region=np.array([CROSS_REGION.index(cross)], dtype=np.int64),
        total=np.array([claim.total], dtype=np.int64),
        fully_self_paid=np.array([claim.fully_self_paid], dtype=np.int64),
        over_limit=np.array([claim.over_limit], dtype=np.int64),
        category_b=np.array([claim.category_b], dtype=np.int64),
    )
    entitled_from = NEVER if ent.entitled_from is None else epoch_days(ent.entitled_from)
    persons = Persons(
        scheme=np.array([SCHEME_INPUT[scheme]], dtype=np.int64),
        aid_class=np.array([aid_class(file, claim.date)], dtype=np.int64),
        account_balance=np.array([account], dtype=np.int64),
        use_account=np.array([claim.use_account]),
        mutual_aid_balance=np.array([mutual], dtype=np.int64),
        incentive_raise=np.array([raise_], dtype=np.int64),
        entitled_from=np.array([entitled_from], dtype=np.int64),
    )
    # The account layers are limited by the live balance, not by a yearly running total.
    given = {k: 0 if k in BALANCE_LAYERS else stored_state.get(k, 0) for k in state_keys(tables)}
    state = State({k: np.array([v], dtype=np.int64) for k, v in given.items()})
    return _Input(
        file=file,
        claim=claim,
        visit=visit,
        med_type=med_type,
        level=level,
        cross_region=cross,
        enrolment=enrolment,
        tables=tables,
        scheme=scheme,
        ent=ent,
        incentive_raise=raise_,
        account=account,
        link=link,
        stored_state=stored_state,
        given=given,
        request=Request(claims, persons, state),
    )


def _check_year_room(stored_state: Mapping[str, int], total: int) -> None:
    """Refuse a claim that would take a year-to-date accumulator past ``MAX_YEAR_FEN``: each
    grows by at most the claim's total, so the largest one plus the total bounds them all
    (``policy.money``: the kernel cannot overflow within it)."""
    largest = max((v for k, v in stored_state.items() if k != "admissions"), default=0)
    try:
        money.year_room(largest, total)
    except money.AmountError as exc:
        raise InvalidField(exc.field, exc.reason) from None


def _compute_all(inputs: Sequence[_Input]) -> list[_Computed]:
    """Settle prepared claims: one kernel call per parameter table (``kernel.online.settle_many``,
    requests of distinct persons), results in input order."""
    by_tables: dict[int, list[int]] = {}
    for i, inp in enumerate(inputs):
        by_tables.setdefault(id(inp.tables), []).append(i)
    out: list[_Computed | None] = [None] * len(inputs)
    for members in by_tables.values():
        tables = inputs[members[0]].tables
        results = online.settle_many(tables, [inputs[i].request for i in members])
        for i, result in zip(members, results, strict=True):
            out[i] = _computed(inputs[i], result)
    return [c for c in out if c is not None]


def _computed(inp: _Input, result: Result) -> _Computed:
    """The kernel's answer for one claim as amounts, layers, reasons and the answer body."""
    claim, claims, tables, ent = inp.claim, inp.request.claims, inp.tables, inp.ent
    given, stored_state = inp.given, inp.stored_state
    after = result.state.row(0)
    delta = {k: v - given.get(k, 0) for k, v in after.items() if v != given.get(k, 0)}
    state_after = {
        k: stored_state.get(k, 0) + delta.get(k, 0) for k in set(stored_state) | set(delta)
    }
    state_after = {k: v for k, v in state_after.items() if v}
    col = {
        **result.columns,
        "medfee_sumamt": claims.total,
        "fulamt_ownpay_amt": claims.fully_self_paid,
        "overlmt_selfpay": claims.over_limit,
    }
    amounts = {a: int(col[a][0]) for a in SETTLEMENT_AMOUNTS}
    detail = setl_detail(col, 0, inp.scheme, tables.n_tiers)
    layers = tuple(
        Layer(
            d["fund_pay_type"],
            d["fund_name"],
            yuan_to_fen(d["base"]),
            yuan_to_fen(d["fund_payamt"]),
        )
        for d in detail
    )
    if sum(layer.payment for layer in layers) != amounts["fund_pay_sumamt"]:
        raise AssertionError("fund layers do not add up to fund_pay_sumamt")
    flags = int(col["reasons"][0])
    reasons = [text for bit, text in REASONS.items() if flags & bit and bit != WAITING]
    if flags & WAITING:
        if ent.entitled_from is None:
            reasons.insert(0, ent.rule)
        else:
            reasons.insert(
                0, f"{REASONS[WAITING]} until {ent.entitled_from.isoformat()} ({ent.rule})"
            )
    visit = inp.visit
    body: dict[str, Any] = {
        "psn_no": inp.file.person.label,
        "fixmedins_code": claim.fixmedins_code
        if visit is None
        else visit.fixmedins_code or claim.fixmedins_code,
        "setl_time": claim.date.isoformat(),
        "med_type": inp.med_type,
        "level": inp.level,
        "cross_region": inp.cross_region,
        "scheme": inp.scheme,
        "pooling_area": inp.enrolment.pooling_area,
        "admission_no": int(col["admission_no"][0]),
        **{f: fen_to_yuan(amounts[f]) for f in OUTPUT_FIELDS},
        "cross_prepay": fen_to_yuan(amounts["cross_prepay"]),
        "setldetail": detail,
        "reasons": reasons,
        "entitled_from": ent.entitled_from.isoformat() if ent.entitled_from else None,
        "entitlement_rule": ent.rule,
        "incentive_raise": fen_to_yuan(inp.incentive_raise),
        "acct_balance_after": fen_to_yuan(inp.account - amounts["acct_pay"]),
    }
    return _Computed(
        input=inp,
        amounts=amounts,
        layers=layers,
        reasons=tuple(reasons),
        flags=flags,
        admission_no=int(col["admission_no"][0]),
        body=body,
        delta=delta,
        state_after=state_after,
    )


def _check_claim(claim: Claim) -> None:
    not_after_today("date", claim.date)
    if claim.med_type is not None:
        check_med_type(claim.med_type)
    if claim.level is not None:
        check_level(claim.level)
    if claim.cross_region is not None:
        check_cross_region(claim.cross_region)


def _postings(c: _Computed) -> list[Posting]:
    area = c.input.enrolment.pooling_area
    legs = [
        debit(AccountRef.fund(FUND_ACCOUNTS[layer.fund_pay_type], area), layer.payment)
        for layer in c.layers
    ]
    legs.append(debit(AccountRef.personal(c.input.file.id), c.amounts["acct_pay"]))
    if c.input.link is not None:
        legs.append(debit(AccountRef.personal(c.input.link.owner_id), c.amounts["acct_mulaid_pay"]))
    paid = c.amounts["fund_pay_sumamt"] + c.amounts["acct_pay"] + c.amounts["acct_mulaid_pay"]
    legs.append(credit(AccountRef.fund(AccountKind.CASH, area), paid))
    return legs


def _people(uow: UnitOfWork, refs: Iterable[str | int]) -> Callable[[str | int], Person | None]:
    """The persons named by national ID (str) or id (int), read in two queries."""
    refs = list(refs)
    by_nid = uow.persons.find_many(r for r in refs if isinstance(r, str))
    by_id = uow.persons.get_many(r for r in refs if isinstance(r, int))

    def person(ref: str | int) -> Person | None:
        return by_id.get(ref) if isinstance(ref, int) else by_nid.get(ref.strip().upper())

    return person


# ------------------------------------------------------------------------------- use cases


def presettle(uow: UnitOfWork, claim: Claim, *, policies: PolicySource = policy_for) -> Settlement:
    """Pre-settlement (2206): the full breakdown; nothing is stored or locked."""
    _check_claim(claim)
    with uow:
        person_of = _people(
            uow, [claim.person] + ([claim.mutual_aid_from] if claim.mutual_aid_from else [])
        )
        person = person_of(claim.person)
        if person is None:
            raise NotFound("person", claim.person)
        assert person.id is not None
        file = load_file(uow, person)
        owner = person_of(claim.mutual_aid_from) if claim.mutual_aid_from else None
        link = _mutual_aid_link(file, claim, owner)
        visit = uow.settlements.visit(claim.mdtrt_id) if claim.mdtrt_id else None
        refs = [AccountRef.personal(person.id)] + (
            [AccountRef.personal(link.owner_id)] if link else []
        )
        state = uow.settlements.state(person.id, claim.date.year)
        inp = _prepare(file, claim, state, visit, link, uow.ledger.balances(refs), policies)
        c = _compute_all([inp])[0]
    return Settlement(
        setl_id=None,
        mdtrt_id=claim.mdtrt_id,
        person_id=person.id,
        year=c.input.claim.date.year,
        status=None,
        amounts=c.amounts,
        layers=c.layers,
        reasons=c.reasons,
        response={"setl_id": None, "mdtrt_id": claim.mdtrt_id, **c.body},
    )


def _replay(stored: StoredSettlement, claim: Claim, digest: str) -> Settlement:
    if stored.request_digest != digest:
        raise RequestConflict(
            f"request {stored.request_id}", f"already used for settlement {stored.setl_id}"
        )
    return Settlement(
        setl_id=stored.setl_id,
        mdtrt_id=stored.response.get("mdtrt_id"),
        person_id=stored.person_id,
        year=stored.year,
        status=SettlementStatus.SETTLED,
        amounts=stored.amounts,
        layers=tuple(
            Layer(
                d["fund_pay_type"],
                d["fund_name"],
                yuan_to_fen(d["base"]),
                yuan_to_fen(d["fund_payamt"]),
            )
            for d in stored.response.get("setldetail", [])
        ),
        reasons=tuple(stored.response.get("reasons", [])),
        response=stored.response,
        transaction_id=stored.transaction_id,
        replayed=True,
    )


@dataclass(frozen=True)
class ClaimRequest:
    """A claim to settle with its idempotency key (request id, the caller's msgid) and, for an
    institution calling, its code: a registered visit of another institution is refused."""

    claim: Claim
    request_id: str
    institution: str | None = None


#: What ``settle_many`` gives for each request: the settlement, or the refusal.
Outcome = Settlement | RecordError | ParameterError


def settle(
    uow: UnitOfWork,
    claim: Claim,
    request_id: str | None = None,
    *,
    policies: PolicySource = policy_for,
    institution: str | None = None,
) -> Settlement:
    """Settlement (2207): computed by the kernel, stored with its layers, funds posted as one
    balanced ledger transaction and the year-to-date state moved, all in one database
    transaction. The same ``request_id`` (msgid) is settled once: a repeat returns the first
    answer; a different claim under a used request id is refused."""
    request = ClaimRequest(claim, request_id or _new_id("R"), institution)
    try:
        outcome = settle_many(uow, [request], policies=policies)[0]
    except IntegrityError:
        # A concurrent request with the same id won the race: answer as it did.
        with uow:
            stored = uow.settlements.by_request(request.request_id)
            if stored is None:
                raise
            return _replay(stored, claim, claim.digest())
    if isinstance(outcome, Settlement):
        return outcome
    raise outcome


def settle_many(
    uow: UnitOfWork, requests: Sequence[ClaimRequest], *, policies: PolicySource = policy_for
) -> list[Outcome]:
    """Settle many claims in one database transaction (group commit): one read per table for
    the whole batch, one kernel call per parameter table, one write per table. Each claim gets
    its own outcome: a refused claim does not stop the others, and its refusal is returned, not
    raised. A database error (e.g. a request id settled concurrently) rolls back everything and
    propagates."""
    with uow:
        batch = settle_within(uow, requests, policies=policies)
        if batch.wrote:
            uow.commit()
    return batch.outcomes


@dataclass(frozen=True)
class Batch:
    """What ``settle_within`` did: each request's outcome, the person it named (None if not
    found), and whether anything was written."""

    outcomes: list[Outcome]
    person_ids: list[int | None]
    wrote: bool


def settle_within(
    uow: UnitOfWork, requests: Sequence[ClaimRequest], *, policies: PolicySource = policy_for
) -> Batch:
    """``settle_many`` inside a unit of work the caller opened and commits (the API stores its
    answers and audit entries in the same transaction). Claims of one person (or sharing a
    personal account through mutual aid) are settled one after the other, each seeing the
    previous one's state."""
    outcomes: list[Outcome | None] = [None] * len(requests)
    person_ids: list[int | None] = [None] * len(requests)
    for i, r in enumerate(requests):
        try:
            _check_claim(r.claim)
            if len(r.request_id) > 64:
                raise InvalidField("request_id", "longer than 64 characters")
        except (RecordError, ParameterError) as exc:
            outcomes[i] = exc
    todo = [i for i, o in enumerate(outcomes) if o is None]
    wrote = False
    while todo:
        todo, written = _settle_round(uow, requests, todo, outcomes, person_ids, policies)
        wrote = wrote or written
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(requests)
    return Batch(done, person_ids, wrote)


def _settle_round(
    uow: UnitOfWork,
    requests: Sequence[ClaimRequest],
    todo: list[int],
    outcomes: list[Outcome | None],
    person_ids: list[int | None],
    policies: PolicySource,
) -> tuple[list[int], bool]:
    """Settle the requests of ``todo`` that touch distinct persons, accounts and request ids;
    returns the others (for the next round) and whether anything was written."""
    claims = {i: requests[i].claim for i in todo}
    person_of = _people(
        uow,
        [c.person for c in claims.values()]
        + [c.mutual_aid_from for c in claims.values() if c.mutual_aid_from],
    )
    now: list[tuple[int, Person]] = []
    later: list[int] = []
    persons_taken: set[int] = set()
    ids_taken: set[str] = set()
    for i in todo:
        person = person_of(claims[i].person)
        if person is None:
            outcomes[i] = NotFound("person", claims[i].person)
            continue
        assert person.id is not None
        person_ids[i] = person.id
        if person.id in persons_taken or requests[i].request_id in ids_taken:
            later.append(i)
            continue
        persons_taken.add(person.id)
        ids_taken.add(requests[i].request_id)
        now.append((i, person))
    # the persons' states first (the lock serialises their settlements), then the request ids:
    # a duplicate that waited for the lock finds the first one's settlement and replays it
    states = uow.settlements.lock_states((p.id or 0, claims[i].date.year) for i, p in now)
    stored = uow.settlements.by_requests(requests[i].request_id for i, _ in now)
    fresh = []
    for i, person in now:
        found = stored.get(requests[i].request_id)
        if found is None:
            fresh.append((i, person))
            continue
        try:
            outcomes[i] = _replay(found, claims[i], claims[i].digest())
        except RequestConflict as exc:
            outcomes[i] = exc
    files = load_files(
        uow, (p for _, p in fresh), {p.id or 0: claims[i].date.year for i, p in fresh}
    )
    visits = uow.settlements.visits(c.mdtrt_id for c in claims.values() if c.mdtrt_id)
    settled = uow.settlements.settled_on_visits(v.id for v in visits.values() if v.id)

    # the personal accounts each claim may spend; an account shared with an earlier claim of
    # this round (family mutual aid) waits for the next round
    plans: list[tuple[int, PersonFile, MutualAidLink | None]] = []
    accounts_taken: set[int] = set()
    for i, person in fresh:
        claim, file = claims[i], files[person.id or 0]
        try:
            owner = person_of(claim.mutual_aid_from) if claim.mutual_aid_from else None
            link = _mutual_aid_link(file, claim, owner)
        except (RecordError, ParameterError) as exc:
            outcomes[i] = exc
            continue
        touched = {file.id} | ({link.owner_id} if link is not None else set())
        if touched & accounts_taken:
            later.append(i)
            continue
        accounts_taken |= touched
        plans.append((i, file, link))
    accounts = uow.ledger.balances(
        (AccountRef.personal(pid) for pid in sorted(accounts_taken)), lock=True
    )

    ready: list[tuple[int, _Input]] = []
    for i, file, link in plans:
        claim = claims[i]
        visit = visits.get(claim.mdtrt_id) if claim.mdtrt_id else None
        try:
            state = states[(file.id, claim.date.year)]
            inp = _prepare(
                file, claim, state, visit, link, accounts, policies, requests[i].institution
            )
            if visit is not None and visit.id in settled:
                raise SettlementRefused(
                    f"visit {visit.mdtrt_id}", f"already settled ({settled[visit.id]})"
                )
        except (RecordError, ParameterError) as exc:
            outcomes[i] = exc
            continue
        ready.append((i, inp))
    if not ready:
        return sorted(later), False
    computed = _compute_all([inp for _, inp in ready])
    _store(uow, requests, ready, computed, outcomes)
    return sorted(later), True


def _store(
    uow: UnitOfWork,
    requests: Sequence[ClaimRequest],
    ready: list[tuple[int, _Input]],
    computed: list[_Computed],
    outcomes: list[Outcome | None],
) -> None:
    """Write a round's settlements: new visits, ledger transactions, settlements with their
    layers and the moved states, one statement (or executemany) each."""
    new = [
        Visit(
            mdtrt_id=_new_id("V"),
            person_id=c.input.file.id,
            fixmedins_code=c.fixmedins_code or "unknown",
            med_type=c.input.med_type,
            level=c.input.level,
            begin_date=c.input.claim.date,
            cross_region=c.input.cross_region,
        )
        for c in computed
        if c.input.visit is None
    ]
    setl_ids = [_new_id("S") for _ in computed]
    legs = [[p for p in _postings(c) if p.amount] for c in computed]
    txns = [
        LedgerTransaction.of(
            "settlement",
            c.input.claim.date,
            lg,
            f"settlement {sid} of {c.input.file.person.label} at {c.fixmedins_code or 'unknown'}",
            f"settlement:{sid}",
        )
        for c, sid, lg in zip(computed, setl_ids, legs, strict=True)
        if lg  # nothing to post when everything is paid in cash (a waiting period)
    ]
    ids = uow.settlements.reserve_ids(len(new), len(txns), len(computed))
    fresh_visits = iter(uow.settlements.add_visits(new, ids[0] if ids else None))
    visits = [c.input.visit or next(fresh_visits) for c in computed]
    posted = iter(uow.ledger.post_many(txns, ids[1] if ids else None))
    records = []
    for (i, inp), c, visit, sid, lg in zip(ready, computed, visits, setl_ids, legs, strict=True):
        assert visit.id is not None
        result = Settlement(
            setl_id=sid,
            mdtrt_id=visit.mdtrt_id,
            person_id=inp.file.id,
            year=inp.claim.date.year,
            status=SettlementStatus.SETTLED,
            amounts=c.amounts,
            layers=c.layers,
            reasons=c.reasons,
            response={"setl_id": sid, "mdtrt_id": visit.mdtrt_id, **c.body},
            transaction_id=next(posted) if lg else None,
        )
        records.append(
            SettlementRecord(
                settlement=result,
                request_id=requests[i].request_id,
                request_digest=inp.claim.digest(),
                visit_id=visit.id,
                pooling_area=inp.enrolment.pooling_area,
                settled_on=inp.claim.date,
                scheme=inp.scheme,
                admission_no=c.admission_no,
                reasons=c.flags,
                mutual_aid_link_id=inp.link.id
                if inp.link is not None and c.amounts["acct_mulaid_pay"]
                else None,
                state_delta=c.delta,
            )
        )
        outcomes[i] = result
    uow.settlements.add_many(records, ids[2] if ids else None)
    uow.settlements.save_states(
        [
            (inp.file.id, inp.claim.date.year, c.state_after, 1)
            for (_, inp), c in zip(ready, computed, strict=True)
        ]
    )


def reverse(
    uow: UnitOfWork,
    setl_id: str,
    *,
    on: dt.date | None = None,
    request_id: str | None = None,
) -> Reversal:
    """Reverse a settlement (2208): a transaction with every posting negated, the year-to-date
    state what the settlements still in force contributed (``reversed_state``: the settlement's
    delta taken out, running totals reset to what was paid), the settlement marked reversed. An
    unknown or already reversed settlement is refused (a repeat of the same reversal request
    id gets the first answer)."""
    day = on or clock.today()
    not_after_today("date", day)
    with uow:
        found = uow.settlements.get(setl_id)
        if found is None:
            raise NotFound("settlement", setl_id)
        state = uow.settlements.lock_state(found.person_id, found.year)
        row = uow.settlements.get(setl_id, lock=True)
        assert row is not None
        if row.status is SettlementStatus.REVERSED:
            if request_id is not None and request_id == row.reversal_request_id:
                assert row.reversed_on is not None
                return Reversal(
                    row.setl_id,
                    row.reversed_on,
                    row.reversal_transaction_id,
                    row.reversal_response or {},
                    replayed=True,
                )
            assert row.reversed_on is not None
            raise SettlementRefused(
                f"settlement {setl_id}", f"already reversed on {row.reversed_on.isoformat()}"
            )
        settled_on = dt.date.fromisoformat(str(row.response.get("setl_time")))
        if day < settled_on:
            raise InvalidField("on", "is before the settlement", day)
        txn_id: int | None = None
        if row.transaction_id is not None:
            legs = [
                Posting(p.account, -p.amount) for p in uow.ledger.postings_of(row.transaction_id)
            ]
            txn_id = uow.ledger.post(
                LedgerTransaction.of(
                    "settlement_reversal",
                    day,
                    legs,
                    f"reversal of settlement {setl_id}",
                    f"settlement-reversal:{setl_id}",
                )
            )
        uow.settlements.save_state(
            row.person_id,
            row.year,
            reversed_state(state, row.state_delta, int(row.response.get("admission_no") or 0)),
            -1,
        )
        response = {
            "setl_id": setl_id,
            "mdtrt_id": row.response.get("mdtrt_id"),
            "psn_no": row.response.get("psn_no"),
            "status": SettlementStatus.REVERSED.value,
            "reversed_on": day.isoformat(),
            **{f: fen_to_yuan(-row.amounts[f]) for f in OUTPUT_FIELDS},
        }
        uow.settlements.mark_reversed(
            row.id, day, request_id or f"reverse:{setl_id}", txn_id, response
        )
        uow.commit()
    return Reversal(setl_id, day, txn_id, response)


def settlement_of(uow: UnitOfWork, setl_id: str) -> dict[str, Any]:
    """A stored settlement read back: its answer, status and layers (fen)."""
    with uow:
        row = uow.settlements.get(setl_id)
        if row is None:
            raise NotFound("settlement", setl_id)
        return {
            **row.response,
            "status": row.status.value,
            "reversed_on": row.reversed_on.isoformat() if row.reversed_on else None,
            "layers": [
                {"fund_pay_type": layer.fund_pay_type, "base": layer.base, "payment": layer.payment}
                for layer in uow.settlements.layers(row.id)
            ],
        }


def year_to_date(uow: UnitOfWork, who: str | int, year: int) -> dict[str, int]:
    """The person's stored year-to-date state (5206's source)."""
    with uow:
        person = find_person(uow, who)
        assert person.id is not None
        return uow.settlements.state(person.id, year)
