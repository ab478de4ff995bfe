"""The kernel adapter: a claim made ready for the settlement kernel from the person's file
(``prepare``, pure), settled by the kernel once per parameter table (``compute_all``), and the
kernel's columns read back as a typed answer (``computed``). Nothing is stored here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from yibao.domain.enrolment import Enrolment
from yibao.domain.errors import ForeignRecord, InvalidField, NotFound, SettlementRefused
from yibao.domain.fees import LineSums
from yibao.domain.ledger import Account, AccountRef
from yibao.domain.registry import MutualAidLink, Person
from yibao.domain.settlement import Claim, Layer, SettlementAnswer, Visit, VisitStatus
from yibao.kernel import online
from yibao.kernel.entitled import NEVER, entitled_days
from yibao.kernel.online import Request
from yibao.kernel.report import detail_fen
from yibao.kernel.settle import (
    REASONS,
    WAITING,
    Result,
    state_keys,
    warm,
)
from yibao.kernel.tables import (
    MED_TYPES,
    SCHEME_INPUT,
    Tables,
    compile_tables,
    disease_index,
    epoch_days,
    product_columns,
)
from yibao.policy import Policy, fen_to_yuan, money
from yibao.policy.commercial import Product, products
from yibao.policy.vocab import CROSS_REGIONS
from yibao.rules.chronic import certified_disease
from yibao.rules.commercial import Cover, cover_on
from yibao.services.common import PolicySource
from yibao.services.person_file import (
    Entitlement,
    PersonFile,
    aid_class,
    covering_enrolment,
    entitlement,
    incentive_raise,
    mutual_aid_link,
    rule_scheme,
)
from yibao.services.settlement.bill import claim_amounts
from yibao.store.models import SETTLEMENT_AMOUNTS

#: State keys whose limit is a live balance read from the ledger, not a yearly cap.
BALANCE_LAYERS = ("acct.raw", "acct.paid", "mulaid.raw", "mulaid.paid")


@lru_cache(maxsize=64)
def tables_for(policy: Policy, year: int) -> Tables:
    """The policy compiled for the kernel, once per (policy, year)."""
    return compile_tables(policy, year)


def warm_kernel(year: int) -> None:
    """Load the compiled kernel now (compiled once per installation, then read from its cache:
    ``kernel.jit``), so that the first settlement does not wait for it: ``yibao serve`` calls
    it at start."""
    warm(tables_for(Policy("000000"), year))


@dataclass(frozen=True)
class Prepared:
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
    stored_state: Mapping[str, int]
    given: Mapping[str, int]
    request: Request
    lines: LineSums | None = None  # the visit's live fee lines summed, when it has any
    #: the person's supplementary commercial purchase (惠民保) covering the claim, if any
    cover: Cover | None = None


@dataclass(frozen=True)
class Computed:
    """A claim worked out by the kernel, before anything is stored: the answer (without its
    ids), the reason flags, and how the person's year-to-date state moves."""

    input: Prepared
    answer: SettlementAnswer
    flags: int
    delta: dict[str, int]
    state_after: dict[str, int]

    @property
    def amounts(self) -> Mapping[str, int]:
        return self.answer.amounts

    @property
    def fixmedins_code(self) -> str:
        i = self.input
        return (i.visit.fixmedins_code if i.visit else i.claim.fixmedins_code) or ""


def visit_for(
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


def paying_link(file: PersonFile, claim: Claim, owner: Person | None) -> MutualAidLink | None:
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


def prepare(
    file: PersonFile,
    claim: Claim,
    stored_state: Mapping[str, int],
    visit: Visit | None,
    link: MutualAidLink | None,
    accounts: Mapping[AccountRef, Account],
    policies: PolicySource,
    institution: str | None = None,
    lines: LineSums | None = None,
) -> Prepared:
    """Everything the kernel needs for one claim, from the person's file (pure); the amounts
    from the visit's fee lines (``lines``) when it has any (``bill.claim_amounts``)."""
    med_type, level, cross = visit_for(file, claim, visit, institution)
    total, fully_self_paid, over_limit, category_b = claim_amounts(claim, lines)
    if claim.listed_self_paid > fully_self_paid:
        raise InvalidField(
            "listed_self_paid",
            f"{fen_to_yuan(claim.listed_self_paid)} is larger than the claim's fully self-paid "
            f"{fen_to_yuan(fully_self_paid)}",
        )
    _check_year_room(stored_state, total)
    enrolment = covering_enrolment(file.person, file.enrolments, claim.date)
    policy = policies(enrolment.pooling_area)
    cover, product = commercial_cover(file, claim.date, policies)
    year = claim.date.year
    tables = tables_for(policy, year)
    scheme = rule_scheme(enrolment)
    ent = entitlement(file, enrolment, claim.date, policy)
    raise_ = incentive_raise(file, year, policy) if scheme == "resident" else 0
    account = _natural(accounts, file.id) if claim.use_account and scheme != "resident" else 0
    mutual = _natural(accounts, link.owner_id) if link is not None else 0
    # no entitlement date: no benefits at all (``kernel.entitled``)
    entitled_from = entitled_days(ent.entitled_from, if_none=NEVER)
    disease = certified_disease(file.certifications, claim.disease, claim.date)
    # The account layers are limited by the live balance, not by a yearly running total.
    given = {k: 0 if k in BALANCE_LAYERS else stored_state.get(k, 0) for k in state_keys(tables)}
    request = online.one_claim(
        online.state_of(tables, given),
        date=epoch_days(claim.date),
        med_type=MED_TYPES.index(med_type),
        level=level - 1,
        cross_region=CROSS_REGIONS.index(cross),
        total=total,
        fully_self_paid=fully_self_paid,
        over_limit=over_limit,
        category_b=category_b,
        disease=disease_index(tables, disease),
        # the self-paid items on the product's list (a product covering ``listed`` pays on them)
        listed_self_paid=claim.listed_self_paid,
        scheme=SCHEME_INPUT[scheme],
        aid_class=aid_class(file, claim.date),
        account_balance=account,
        use_account=claim.use_account,
        mutual_aid_balance=mutual,
        incentive_raise=raise_,
        entitled_from=entitled_from,
        # the commercial product covering the claim's date (none: all 0, it pays nothing)
        **product_columns(product),
    )
    return Prepared(
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
        request=request,
        lines=lines,
        cover=cover,
    )


def commercial_cover(
    file: PersonFile, on: dt.date, policies: PolicySource
) -> tuple[Cover | None, Product | None]:
    """The person's commercial purchase covering ``on`` and its product's terms for the year
    (``rules.commercial.cover_on``); (None, None) without one, or when the product is no longer
    on its area's list for the year."""
    cover = cover_on(file.covers, on)
    if cover is None:
        return None, None
    product = products_for(policies(cover.area), cover.year).get(cover.product)
    return (cover, product) if product is not None else (None, None)


@lru_cache(maxsize=64)
def products_for(policy: Policy, year: int) -> Mapping[str, Product]:
    """The policy's commercial products for the year, read once per (policy, year)."""
    return products(policy, year)


def _check_year_room(stored_state: Mapping[str, int], total: int) -> None:
    """Refuse a claim that would take a year-to-date accumulator past ``MAX_YEAR_FEN``: each
    grows by at most the claim's total, so the largest one plus the total bounds them all
    (``policy.money``: the kernel cannot overflow within it)."""
    largest = max((v for k, v in stored_state.items() if k != "admissions"), default=0)
    try:
        money.year_room(largest, total)
    except money.AmountError as exc:
        raise InvalidField(exc.field, exc.reason) from None


def compute_all(inputs: Sequence[Prepared]) -> list[Computed]:
    """Settle prepared claims: one kernel call per parameter table (``kernel.online.settle_many``,
    requests of distinct persons), results in input order."""
    by_tables: dict[int, list[int]] = {}
    for i, inp in enumerate(inputs):
        by_tables.setdefault(id(inp.tables), []).append(i)
    out: list[Computed | None] = [None] * len(inputs)
    for members in by_tables.values():
        tables = inputs[members[0]].tables
        results = online.settle_many(tables, [inputs[i].request for i in members])
        for i, result in zip(members, results, strict=True):
            out[i] = computed(inputs[i], result)
    return [c for c in out if c is not None]


def _reasons(flags: int, ent: Entitlement) -> list[str]:
    """The reason texts of the kernel's flags; a waiting period says until when and why."""
    reasons = [text for bit, text in REASONS.items() if flags & bit and bit != WAITING]
    if flags & WAITING:
        if ent.entitled_from is None:
            reasons.insert(0, ent.rule)
        else:
            reasons.insert(
                0, f"{REASONS[WAITING]} until {ent.entitled_from.isoformat()} ({ent.rule})"
            )
    return reasons


def computed(inp: Prepared, result: Result) -> Computed:
    """The kernel's answer for one claim as a typed answer (without its ids) and state moves."""
    claim, request, ent = inp.claim, inp.request, inp.ent
    given, stored_state = inp.given, inp.stored_state
    after = result.state.row(0)
    delta = {k: v - given.get(k, 0) for k, v in after.items() if v != given.get(k, 0)}
    state_after = {
        k: stored_state.get(k, 0) + delta.get(k, 0) for k in set(stored_state) | set(delta)
    }
    state_after = {k: v for k, v in state_after.items() if v}
    col = {
        **result.columns,
        "medfee_sumamt": request.column("total"),
        "fulamt_ownpay_amt": request.column("fully_self_paid"),
        "overlmt_selfpay": request.column("over_limit"),
    }
    amounts = {a: int(col[a][0]) for a in SETTLEMENT_AMOUNTS}
    if inp.cover is not None:  # the product's share (part of psn_part_amt)
        amounts["commercial_pay"] = int(col["commercial_pay"][0])
    layers = fund_layers(
        col, 0, inp.scheme, inp.tables.n_tiers, bool(request.column("aid_class")[0])
    )
    if sum(layer.payment for layer in layers) != amounts["fund_pay_sumamt"]:
        raise AssertionError("fund layers do not add up to fund_pay_sumamt")
    flags = int(col["reasons"][0])
    visit = inp.visit
    answer = SettlementAnswer(
        setl_id=None,
        mdtrt_id=None,
        psn_no=inp.file.person.label,
        fixmedins_code=claim.fixmedins_code
        if visit is None
        else visit.fixmedins_code or claim.fixmedins_code,
        date=claim.date,
        med_type=inp.med_type,
        level=inp.level,
        cross_region=inp.cross_region,
        scheme=inp.scheme,
        pooling_area=inp.enrolment.pooling_area,
        admission_no=int(col["admission_no"][0]),
        amounts=amounts,
        layers=layers,
        reasons=tuple(_reasons(flags, ent)),
        entitled_from=ent.entitled_from,
        entitlement_rule=ent.rule,
        incentive_raise=inp.incentive_raise,
        acct_balance_after=inp.account - amounts["acct_pay"],
        fee_lines=inp.lines,
    )
    return Computed(inp, answer, flags, delta, state_after)


def fund_layers(
    col: dict[str, np.ndarray], i: int, scheme: str, n_tiers: int, aided: bool
) -> tuple[Layer, ...]:
    """Claim ``i``'s fund layers (setldetail) as the answer stores them, fen (one pass over
    ``kernel.report.detail_fen``; the area loader's settlements are built by it too)."""
    return tuple(Layer(*row) for row in detail_fen(col, i, scheme, n_tiers, aided))
