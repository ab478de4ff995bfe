"""Settlement use cases (一站式结算, 2201/2202/2206/2207/2208): register and cancel a visit,
pre-settle, settle and reverse.

Every amount is computed by the settlement kernel (``yibao.kernel.online.settle_one``) from
what the store holds: entitlement and waiting period from the enrolment and coverage history
(``yibao.rules.waiting``), the critical-illness incentive raise from the coverage years
(``yibao.rules.incentives``), the personal account balance from the ledger, the family
mutual-aid balance through an authorised link, and the person's year-to-date state.

A settlement is one database transaction: the visit (if not registered before), the settlement
with its layers, one balanced ledger transaction and the moved year-to-date state. The person's
state row is locked first (``SELECT ... FOR UPDATE`` semantics through ``INSERT ... ON CONFLICT
DO UPDATE``), so two settlements of one person run one after the other and cannot spend the
same remaining cap or account balance. A refused request changes nothing.

Reversal posts the exact negation of the settlement's transaction and subtracts the
settlement's stored state delta from the year-to-date state (see ``docs/store.md``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError

from yibao.calc.scenario import ScenarioError
from yibao.calc.scenario import amount as yuan_amount
from yibao.calc.scenario import date as scenario_date
from yibao.calc.settle import OUTPUT_FIELDS
from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import CoverageStatus, CoverageYear, Enrolment, EnrolmentKind, Status
from yibao.domain.errors import InvalidField, NotFound, RequestConflict, SettlementRefused
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, Posting, credit, debit
from yibao.domain.registry import ASSISTANCE_CLASSES, Person, SpecialGroup
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
from yibao.kernel.online import Request, settle_one
from yibao.kernel.report import FUND_CODES, setl_detail
from yibao.kernel.settle import REASONS, WAITING, Claims, Persons, State, state_keys
from yibao.kernel.tables import (
    AID_CLASSES,
    CROSS_REGION,
    MED_TYPES,
    SCHEME_INPUT,
    Tables,
    compile_tables,
    epoch_days,
)
from yibao.policy import Policy, fen_to_yuan, yuan_to_fen
from yibao.rules.incentives import YearRecord, incentives
from yibao.rules.waiting import Enrolment as WaitingEnrolment
from yibao.rules.waiting import Person as WaitingPerson
from yibao.rules.waiting import waiting_period
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.store.models import SETTLEMENT_AMOUNTS
from yibao.store.settlements import StoredSettlement
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
EMPLOYEE_MONTHS = (ContributionKind.EMPLOYEE, ContributionKind.FLEXIBLE)


@lru_cache(maxsize=64)
def tables_for(policy: Policy, year: int) -> Tables:
    """The policy compiled for the kernel, once per (policy, year)."""
    return compile_tables(policy, year)


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24].upper()}"


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
    """Register a visit (2201). The person must be enrolled on ``begin_date``."""
    with uow:
        person = find_person(uow, who)
        assert person.id is not None
        _covering_enrolment(uow, person, begin_date)
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
    day = on or dt.date.today()
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
            else str(doc["fixmedins_code"]),
            mdtrt_id=None if doc.get("mdtrt_id") is None else str(doc["mdtrt_id"]),
            use_account=use_account,
            mutual_aid_from=None
            if doc.get("mutual_aid_from") is None
            else str(doc["mutual_aid_from"]),
        )
    except ScenarioError as exc:
        raise InvalidField(exc.field, exc.reason) from exc


# ----------------------------------------------------------------------------- computation


@dataclass
class _Computed:
    """A claim worked out by the kernel, before anything is stored."""

    person: Person
    enrolment: Enrolment
    visit: Visit | None  # None: a visit is registered with the settlement
    med_type: str
    level: int
    cross_region: str
    fixmedins_code: str
    year: int
    scheme: str
    amounts: dict[str, int]
    layers: tuple[Layer, ...]
    reasons: tuple[str, ...]
    flags: int
    admission_no: int
    body: dict[str, Any]  # the answer without the ids
    delta: dict[str, int]
    state_after: dict[str, int]
    link_owner_id: int | None
    link_id: int | None


def _covering_enrolment(uow: UnitOfWork, person: Person, on: dt.date) -> Enrolment:
    assert person.id is not None
    for e in reversed(uow.enrolments.history(person.id)):
        if e.start_date <= on and (e.end_date is None or on <= e.end_date):
            return e
    raise SettlementRefused(f"person {person.label}", f"not enrolled on {on.isoformat()}")


def _rule_scheme(enrolment: Enrolment) -> str:
    return {
        EnrolmentKind.EMPLOYER: "employee",
        EnrolmentKind.FLEXIBLE: "flexible",
        EnrolmentKind.RETIREE: "retiree",
        EnrolmentKind.RESIDENT: "resident",
    }[enrolment.kind]


@dataclass(frozen=True)
class Entitlement:
    entitled_from: dt.date | None  # None: no benefits at all (unpaid, suspended)
    rule: str


def _in_force(groups: list[SpecialGroup], on: dt.date) -> list[SpecialGroup]:
    """The special groups valid on ``on`` (as ``PersonRepository.groups(person, on)``)."""
    return [g for g in groups if g.active_on(on)]


def entitlement(
    uow: UnitOfWork,
    person: Person,
    enrolment: Enrolment,
    on: dt.date,
    policy: Policy,
    *,
    history: list[CoverageYear] | None = None,
    groups: list[SpecialGroup] | None = None,
) -> Entitlement:
    """From when the person's funds pay in the claim's year, by the waiting-period rule applied
    to the stored enrolment, contributions and coverage history (``history`` and ``groups``:
    the person's coverage years and special groups, when already read)."""
    assert person.id is not None and enrolment.id is not None
    if enrolment.status is Status.SUSPENDED and (
        enrolment.suspended_on is None or on >= enrolment.suspended_on
    ):
        since = enrolment.suspended_on.isoformat() if enrolment.suspended_on else "?"
        return Entitlement(None, f"coverage suspended since {since}: all self-paid")
    kind = enrolment.kind
    if kind is EnrolmentKind.RETIREE:
        return Entitlement(enrolment.start_date, "retiree: no waiting period")
    if kind in (EnrolmentKind.EMPLOYER, EnrolmentKind.FLEXIBLE):
        if enrolment.carried_employee_months > 0:
            return Entitlement(
                enrolment.start_date,
                f"{enrolment.carried_employee_months} contribution months carried from the"
                " previous enrolment: continuity kept, no wait",
            )
        first = uow.contributions.first_paid_on(enrolment.id, EMPLOYEE_MONTHS)
        if first is None:
            return Entitlement(None, "no contribution paid under the enrolment: all self-paid")
        w = waiting_period(
            policy,
            WaitingPerson(_rule_scheme(enrolment), person.birth_date),
            {},
            WaitingEnrolment(date=first),
        )
        return Entitlement(w.benefit_start, w.rule)
    year = on.year
    if history is None:
        history = uow.coverage.history(person.id)
    this = next((c for c in history if c.year == year), None)
    if this is None or this.status is not CoverageStatus.INSURED or this.paid_on is None:
        return Entitlement(None, f"resident contribution for {year} not paid: all self-paid")
    before = {c.year: c.status.value for c in history if c.year < year}
    repaired = 0
    y = year - 1
    while before.get(y) == CoverageStatus.LAPSED.value:
        repaired += any(c.year == y and c.repaired for c in history)
        y -= 1
    in_force = (
        uow.persons.groups(person.id, this.paid_on)
        if groups is None
        else _in_force(groups, this.paid_on)
    )
    kinds = frozenset(g.kind.value for g in in_force)
    w = waiting_period(
        policy,
        WaitingPerson("resident", person.birth_date, kinds),
        before,
        WaitingEnrolment(
            date=this.paid_on,
            in_collection_period=this.paid_on < dt.date(year, 1, 1),
            repaired_years=repaired,
            coverage_year=year,
            zero_claim_years=sum(1 for c in history if c.year < year and c.zero_claim),
        ),
    )
    return Entitlement(w.benefit_start, w.rule)


def _incentive_raise(
    uow: UnitOfWork,
    person: Person,
    year: int,
    policy: Policy,
    history: list[CoverageYear] | None = None,
) -> int:
    """The critical-illness cap raise earned in the years before ``year`` (residents)."""
    assert person.id is not None
    before = [
        c
        for c in (uow.coverage.history(person.id) if history is None else history)
        if c.year < year
    ]
    if not before:  # no earlier year: nothing earned (and no need to sum the settlements)
        return 0
    paid = uow.settlements.fund_paid_by_year(person.id)
    records = {
        c.year: YearRecord(
            insured=c.status is CoverageStatus.INSURED,
            fund_paid=c.fund_paid + paid.get(c.year, 0),
        )
        for c in before
    }
    r = incentives(policy, records, year)
    return r.cap - r.base_cap


def _aid_class(
    uow: UnitOfWork, person: Person, on: dt.date, groups: list[SpecialGroup] | None = None
) -> int:
    assert person.id is not None
    in_force = uow.persons.groups(person.id, on) if groups is None else _in_force(groups, on)
    kinds = {g.kind.value for g in in_force if g.kind in ASSISTANCE_CLASSES}
    for i, name in enumerate(AID_CLASSES):
        if i and name in kinds:
            return i
    return 0


def _balance(uow: UnitOfWork, ref: AccountRef, lock: bool) -> int:
    account = uow.ledger.account(ref, lock=lock)
    return max(account.natural_balance, 0) if account is not None else 0


def _visit_for(uow: UnitOfWork, person: Person, claim: Claim) -> tuple[Visit | None, str, int, str]:
    """The claim's registered visit (if named) and its med type, level, cross-region status."""
    if claim.mdtrt_id is None:
        assert claim.med_type is not None and claim.level is not None
        return None, claim.med_type, claim.level, claim.cross_region or "none"
    visit = uow.settlements.visit(claim.mdtrt_id)
    if visit is None:
        raise NotFound("visit", claim.mdtrt_id)
    assert visit.id is not None
    if visit.person_id != person.id:
        raise InvalidField("mdtrt_id", f"visit {claim.mdtrt_id} is not {person.label}'s")
    if visit.status is VisitStatus.CANCELLED:
        raise SettlementRefused(f"visit {claim.mdtrt_id}", "was cancelled")
    for name in ("med_type", "level", "cross_region", "fixmedins_code"):
        given = getattr(claim, name)
        if given is not None and given != getattr(visit, name):
            raise InvalidField(name, f"{given!r} differs from the registered visit's")
    if claim.date < visit.begin_date:
        raise InvalidField("date", "is before the visit began", claim.date)
    return visit, visit.med_type, visit.level, visit.cross_region


def _compute(
    uow: UnitOfWork,
    person: Person,
    claim: Claim,
    stored_state: dict[str, int],
    *,
    lock: bool,
    policies: PolicySource,
) -> _Computed:
    assert person.id is not None
    visit, med_type, level, cross = _visit_for(uow, person, claim)
    enrolment = _covering_enrolment(uow, person, claim.date)
    policy = policies(enrolment.pooling_area)
    year = claim.date.year
    tables = tables_for(policy, year)
    scheme = _rule_scheme(enrolment)
    # read once what several rules look at: the special groups, the coverage years (residents)
    groups = uow.persons.groups(person.id)
    history = uow.coverage.history(person.id) if scheme == "resident" else None
    ent = entitlement(uow, person, enrolment, claim.date, policy, history=history, groups=groups)
    raise_ = _incentive_raise(uow, person, year, policy, history) if scheme == "resident" else 0

    account = 0
    if claim.use_account and scheme != "resident":
        account = _balance(uow, AccountRef.personal(person.id), lock)
    owner_id, link_id, mutual = _mutual_aid(uow, person, claim, lock)

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
        aid_class=np.array([_aid_class(uow, person, claim.date, groups)], dtype=np.int64),
        account_balance=np.array([account], dtype=np.int64),
        use_account=np.array([claim.use_account]),
        mutual_aid_balance=np.array([mutual], dtype=np.int64),
        incentive_raise=np.array([raise_], dtype=np.int64),
        entitled_from=np.array([entitled_from], dtype=np.int64),
    )
    # The account layers are limited by the live balance, not by a yearly running total.
    given = {k: 0 if k in BALANCE_LAYERS else stored_state.get(k, 0) for k in state_keys(tables)}
    state = State({k: np.array([v], dtype=np.int64) for k, v in given.items()})
    result = settle_one(tables, Request(claims, persons, state))

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
    detail = setl_detail(col, 0, scheme, tables.n_tiers)
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
    body: dict[str, Any] = {
        "psn_no": person.label,
        "fixmedins_code": claim.fixmedins_code
        if visit is None
        else visit.fixmedins_code or claim.fixmedins_code,
        "setl_time": claim.date.isoformat(),
        "med_type": med_type,
        "level": level,
        "cross_region": cross,
        "scheme": scheme,
        "pooling_area": enrolment.pooling_area,
        "admission_no": int(col["admission_no"][0]),
        **{f: fen_to_yuan(amounts[f]) for f in OUTPUT_FIELDS},
        "cross_prepay": fen_to_yuan(amounts["cross_prepay"]),
        "setldetail": detail,
        "reasons": reasons,
        "entitled_from": ent.entitled_from.isoformat() if ent.entitled_from else None,
        "entitlement_rule": ent.rule,
        "incentive_raise": fen_to_yuan(raise_),
        "acct_balance_after": fen_to_yuan(account - amounts["acct_pay"]),
    }
    return _Computed(
        person=person,
        enrolment=enrolment,
        visit=visit,
        med_type=med_type,
        level=level,
        cross_region=cross,
        fixmedins_code=(visit.fixmedins_code if visit else claim.fixmedins_code) or "",
        year=year,
        scheme=scheme,
        amounts=amounts,
        layers=layers,
        reasons=tuple(reasons),
        flags=flags,
        admission_no=int(col["admission_no"][0]),
        body=body,
        delta=delta,
        state_after=state_after,
        link_owner_id=owner_id,
        link_id=link_id,
    )


def _mutual_aid(
    uow: UnitOfWork, person: Person, claim: Claim, lock: bool
) -> tuple[int | None, int | None, int]:
    """(owner id, link id, owner's balance) of the family mutual-aid link that pays, if any."""
    assert person.id is not None
    if claim.mutual_aid_from is not None:
        owner = find_person(uow, claim.mutual_aid_from)
        assert owner.id is not None
        link = uow.persons.active_link(owner.id, person.id, claim.date)
        if link is None:
            raise InvalidField(
                "mutual_aid_from",
                f"no mutual-aid authorisation from {owner.label} in force on"
                f" {claim.date.isoformat()}",
            )
        return owner.id, link.id, _balance(uow, AccountRef.personal(owner.id), lock)
    link = uow.persons.link_to(person.id, claim.date)
    if link is None:
        return None, None, 0
    return link.owner_id, link.id, _balance(uow, AccountRef.personal(link.owner_id), lock)


def _check_claim(claim: Claim) -> None:
    if claim.med_type is not None:
        check_med_type(claim.med_type)
    if claim.level is not None:
        check_level(claim.level)
    if claim.cross_region is not None:
        check_cross_region(claim.cross_region)


def _postings(c: _Computed) -> list[Posting]:
    area = c.enrolment.pooling_area
    assert c.person.id is not None
    legs = [
        debit(AccountRef.fund(FUND_ACCOUNTS[layer.fund_pay_type], area), layer.payment)
        for layer in c.layers
    ]
    legs.append(debit(AccountRef.personal(c.person.id), c.amounts["acct_pay"]))
    if c.link_owner_id is not None:
        legs.append(debit(AccountRef.personal(c.link_owner_id), c.amounts["acct_mulaid_pay"]))
    paid = c.amounts["fund_pay_sumamt"] + c.amounts["acct_pay"] + c.amounts["acct_mulaid_pay"]
    legs.append(credit(AccountRef.fund(AccountKind.CASH, area), paid))
    return legs


# ------------------------------------------------------------------------------- use cases


def presettle(uow: UnitOfWork, claim: Claim, *, policies: PolicySource = policy_for) -> Settlement:
    """Pre-settlement (2206): the full breakdown; nothing is stored or locked."""
    _check_claim(claim)
    with uow:
        person = find_person(uow, claim.person)
        assert person.id is not None
        state = uow.settlements.state(person.id, claim.date.year)
        c = _compute(uow, person, claim, state, lock=False, policies=policies)
    return Settlement(
        setl_id=None,
        mdtrt_id=claim.mdtrt_id,
        person_id=person.id,
        year=c.year,
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


def settle(
    uow: UnitOfWork,
    claim: Claim,
    request_id: str | None = None,
    *,
    policies: PolicySource = policy_for,
) -> Settlement:
    """Settlement (2207): computed by the kernel, stored with its layers, funds posted as one
    balanced ledger transaction and the year-to-date state moved, all in one database
    transaction. The same ``request_id`` (msgid) is settled once: a repeat returns the first
    answer; a different claim under a used request id is refused."""
    _check_claim(claim)
    request_id = request_id or _new_id("R")
    if len(request_id) > 64:
        raise InvalidField("request_id", "longer than 64 characters")
    digest = claim.digest()
    try:
        return _settle(uow, claim, request_id, digest, policies)
    except IntegrityError:
        # A concurrent request with the same id won the race: answer as it did.
        with uow:
            stored = uow.settlements.by_request(request_id)
            if stored is None:
                raise
            return _replay(stored, claim, digest)


def _settle(
    uow: UnitOfWork, claim: Claim, request_id: str, digest: str, policies: PolicySource
) -> Settlement:
    with uow:
        person = find_person(uow, claim.person)
        assert person.id is not None
        year = claim.date.year
        state = uow.settlements.lock_state(person.id, year)  # serialises the person's settlements
        stored = uow.settlements.by_request(request_id)
        if stored is not None:
            return _replay(stored, claim, digest)
        c = _compute(uow, person, claim, state, lock=True, policies=policies)
        visit = c.visit
        if visit is None:
            visit = uow.settlements.add_visit(
                Visit(
                    mdtrt_id=_new_id("V"),
                    person_id=person.id,
                    fixmedins_code=c.fixmedins_code or "unknown",
                    med_type=c.med_type,
                    level=c.level,
                    begin_date=claim.date,
                    cross_region=c.cross_region,
                ),
                fresh_id=True,
            )
        else:
            assert visit.id is not None
            settled = uow.settlements.settled_on_visit(visit.id)
            if settled is not None:
                raise SettlementRefused(f"visit {visit.mdtrt_id}", f"already settled ({settled})")
        assert visit.id is not None
        setl_id = _new_id("S")
        txn_id: int | None = None
        legs = [p for p in _postings(c) if p.amount]
        if legs:  # nothing to post when everything is paid in cash (e.g. a waiting period)
            txn_id = uow.ledger.post(
                LedgerTransaction.of(
                    "settlement",
                    claim.date,
                    legs,
                    f"settlement {setl_id} of {person.label} at {c.fixmedins_code or 'unknown'}",
                    f"settlement:{setl_id}",
                )
            )
        response = {"setl_id": setl_id, "mdtrt_id": visit.mdtrt_id, **c.body}
        result = Settlement(
            setl_id=setl_id,
            mdtrt_id=visit.mdtrt_id,
            person_id=person.id,
            year=year,
            status=SettlementStatus.SETTLED,
            amounts=c.amounts,
            layers=c.layers,
            reasons=c.reasons,
            response=response,
            transaction_id=txn_id,
        )
        uow.settlements.add(
            result,
            request_id=request_id,
            request_digest=digest,
            visit_id=visit.id,
            pooling_area=c.enrolment.pooling_area,
            settled_on=claim.date,
            scheme=c.scheme,
            admission_no=c.admission_no,
            reasons=c.flags,
            mutual_aid_link_id=c.link_id if c.amounts["acct_mulaid_pay"] else None,
            state_delta=c.delta,
        )
        uow.settlements.save_state(person.id, year, c.state_after, 1)
        uow.commit()
    return result


def reverse(
    uow: UnitOfWork,
    setl_id: str,
    *,
    on: dt.date | None = None,
    request_id: str | None = None,
) -> Reversal:
    """Reverse a settlement (2208): a transaction with every posting negated, the settlement's
    state delta subtracted from the year-to-date state, the settlement marked reversed. An
    unknown or already reversed settlement is refused (a repeat of the same reversal request
    id gets the first answer)."""
    day = on or dt.date.today()
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
        for k, v in row.state_delta.items():
            state[k] = state.get(k, 0) - v
        uow.settlements.save_state(
            row.person_id, row.year, {k: v for k, v in state.items() if v}, -1
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
