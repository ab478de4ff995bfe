"""The reference settlement: rules.md §6 claim by claim, in ``Decimal``, for the tests only.

Each person's claims are settled one after the other in the order given (date order), each
reading the parameters in force on its own date and the year-to-date totals the claims before it
left (``Year``). Each layer's payment is rounded to the fen, half up, once. Where the spec is
silent the reference takes the kernel's documented choice (docs/rules.md, "Decisions where the
spec is silent"); those places say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from tests.reference.parameters import (
    Band,
    assistance_tiers,
    basic,
    category_b_prepay_ratio,
    chronic_disease,
    critical_illness,
    cross_region_prepay_ratio,
    half_up,
)
from yibao.policy import Policy


@dataclass(frozen=True)
class Product:
    """A supplementary commercial product (惠民保) the person bought for the year."""

    deductible: int  # fen a year
    ratio: Decimal
    cap: int  # fen a year
    in_scope: bool  # covers the in-scope remainder after the funds
    listed: bool  # covers the claim's self-paid items on its list


@dataclass(frozen=True)
class Person:
    scheme: str  # benefit scheme: employee, retiree, resident
    aid_class: str | None = None
    account_balance: int = 0
    use_account: bool = True
    mutual_aid_balance: int = 0
    incentive_raise: int = 0  # the critical illness cap raise earned (rules.md §5)
    entitled_from: dt.date = dt.date.min  # claims before it are all self-paid
    commercial: Product | None = None


@dataclass(frozen=True)
class Claim:
    date: dt.date
    med_type: str
    level: int  # 1..3
    cross_region: str  # none, registered, referred, temporary
    total: int
    fully_self_paid: int = 0
    over_limit: int = 0
    category_b: int = 0
    #: a chronic claim's certified disease (门诊慢特病): its code, None when the person is
    #: certified for none on the claim's date, ``UNCHECKED`` when no certification was looked up
    disease: str | None = "?"
    listed_self_paid: int = 0  # self-paid items on the commercial product's list


#: ``Claim.disease``: no certification looked up (the chronic benefit alone pays).
UNCHECKED = "?"


@dataclass
class Year:
    """A person's year-to-date totals."""

    admissions: int = 0
    deductible_base: dict[str, int] = field(default_factory=dict)  # per med type paid as
    basic_paid: dict[str, int] = field(default_factory=dict)  # per cap group
    ci_base: int = 0
    ci_paid: int = 0
    la_paid: int = 0
    ma_base: dict[int, int] = field(default_factory=dict)  # per tier
    ma_paid: dict[int, int] = field(default_factory=dict)
    account_spent: int = 0
    mutual_aid_spent: int = 0
    chronic_paid: dict[str, int] = field(default_factory=dict)  # per disease, within its limit
    commercial_base: int = 0
    commercial_paid: int = 0


def within_cap(amount: int, paid: int, cap: int | None) -> int:
    """What a capped layer pays of ``amount`` when it has paid ``paid`` this year: the claim's
    own amount at most, up to the cap in force on its date (docs/rules.md: a raised cap pays
    nothing of what the old cap cut from an earlier claim)."""
    return amount if cap is None else min(amount, max(cap - paid, 0))


def above_deductible(ytd: int, base: int, deductible: int) -> int:
    """The part of a claim's ``base`` that lies above an annual deductible, the year's base
    being ``ytd`` after the claim."""
    return max(ytd - deductible, 0) - max(ytd - base - deductible, 0)


def banded(bands: list[Band], lo: int, hi: int) -> Decimal:
    """Σ ratio × the part of [lo, hi] inside each band (band k spans (upto_{k-1}, upto_k])."""
    total, bottom = Decimal(0), 0
    for band in bands:
        top = hi if band.upto is None else band.upto
        width = min(hi, top) - max(lo, bottom)
        if width > 0:
            total += band.ratio * width
        if band.upto is None:
            break
        bottom = band.upto
    return total


def schedule(bands: list[Band], on_excess: bool, deductible: int, amount: int) -> Decimal:
    """What a banded ratio pays on ``amount`` above ``deductible``: bands measured on the amount
    itself, or on the excess above the deductible."""
    if on_excess:
        return banded(bands, 0, max(amount - deductible, 0))
    return banded(bands, min(deductible, amount), amount)


@dataclass(frozen=True)
class Settled:
    """One claim's amounts (fen, named as the kernel's output columns) and the layers whose
    annual cap (or balance) cut it: basic, ci, la, ma:<tier>."""

    amounts: dict[str, int]
    capped: tuple[str, ...]


def settle_claim(policy: Policy, person: Person, claim: Claim, year: Year) -> Settled:
    """One claim's layers (rules.md §6), updating the person's ``year``."""
    on = claim.date
    out: dict[str, int] = {}
    capped: list[str] = []
    entitled = on >= person.entitled_from

    # policy scope: total − fully self-paid − over the price limit − category-B pre-payment;
    # treated away from home: a share of it first (cross-region pre-payment)
    b_prepay = half_up(claim.category_b * category_b_prepay_ratio(policy, on))
    in_scope = claim.total - claim.fully_self_paid - claim.over_limit - b_prepay
    cross_prepay = half_up(in_scope * cross_region_prepay_ratio(policy, claim.cross_region, on))
    base = in_scope - cross_prepay if entitled else 0
    out |= {"preselfpay_amt": b_prepay, "inscp_scp_amt": in_scope, "cross_prepay": cross_prepay}

    # basic pooling fund
    terms = basic(policy, person.scheme, claim.med_type, claim.level, on)
    deductible = eligible = raw = paid = admission_no = 0
    paid_before = 0
    chronic = claim.med_type == "chronic" and claim.disease != UNCHECKED
    if entitled and chronic:
        # a certified, listed disease only; its class picks the ratio, its flag the deductible,
        # its limit caps the fund before the cap group does
        disease = chronic_disease(policy, claim.disease, on)
        paid_before = year.basic_paid.get(terms.cap_group, 0)
        if disease is None:
            capped.append("not_certified")
        else:
            ratio_terms = terms
            if disease.like_inpatient:
                ratio_terms = basic(policy, person.scheme, "inpatient", claim.level, on)
            eligible = base
            if disease.deductible_applies:
                ytd = year.deductible_base.get(terms.paid_as, 0) + base
                year.deductible_base[terms.paid_as] = ytd
                eligible = above_deductible(ytd, base, terms.deductible)
            deductible = base - eligible
            uncut = half_up(ratio_terms.bands[0].ratio * eligible)
            code = str(claim.disease)
            raw = within_cap(uncut, year.chronic_paid.get(code, 0), disease.annual_cap)
            year.chronic_paid[code] = year.chronic_paid.get(code, 0) + raw
            if raw < uncut:
                capped.append("chronic")
                eligible = half_up(Decimal(eligible) * raw / uncut)
            terms = ratio_terms
            paid_before = year.basic_paid.get(terms.cap_group, 0)
            paid = within_cap(raw, paid_before, terms.annual_cap)
            year.basic_paid[terms.cap_group] = paid_before + paid
            if paid < raw:
                capped.append("basic")
    elif entitled:
        if terms.per_admission:
            year.admissions += 1
            admission_no = year.admissions
            factor = terms.factors[min(admission_no, len(terms.factors)) - 1]
            deductible = min(half_up(terms.deductible * factor), base)
            raw = half_up(schedule(terms.bands, terms.on_excess, deductible, base))
            eligible = base - deductible
        else:
            ytd = year.deductible_base.get(terms.paid_as, 0) + base
            year.deductible_base[terms.paid_as] = ytd
            eligible = above_deductible(ytd, base, terms.deductible)
            deductible = base - eligible
            raw = half_up(terms.bands[0].ratio * eligible)  # one band with an annual deductible
        paid_before = year.basic_paid.get(terms.cap_group, 0)
        paid = within_cap(raw, paid_before, terms.annual_cap)
        year.basic_paid[terms.cap_group] = paid_before + paid
        if paid < raw:
            capped.append("basic")
    out |= {"act_pay_dedc": deductible, "basic_raw": raw, "hifp_pay": paid}
    out["admission_no"] = admission_no

    # critical illness (residents): on what is still owed within policy scope, over the year
    ci_base = ci_paid = 0
    if entitled and person.scheme == "resident":
        ci = critical_illness(policy, person.aid_class, on)
        owed = in_scope - paid
        if ci.excluding_deductible:
            owed -= deductible
        if ci.with_category_b:
            owed += b_prepay
        ci_base = max(owed, 0)
        year.ci_base += ci_base
        ytd = year.ci_base
        ci_raw = half_up(
            schedule(ci.bands, ci.on_excess, ci.deductible, ytd)
            - schedule(ci.bands, ci.on_excess, ci.deductible, ytd - ci_base)
        )
        cap = None if ci.cap is None else ci.cap + person.incentive_raise
        ci_paid = within_cap(ci_raw, year.ci_paid, cap)
        year.ci_paid += ci_paid
        if ci_paid < ci_raw:
            capped.append("ci")
    out |= {"ci_base": ci_base, "hifmi_pay": ci_paid}

    # large-amount insurance (employees, retirees): beyond the basic cap's cost point, for the
    # claims of the cap group "basic" (the group large-amount insurance tops up)
    la_base = la_paid = 0
    if entitled and person.scheme != "resident" and terms.cap_group == "basic" and paid < raw:
        if terms.annual_cap is not None and paid_before >= terms.annual_cap:
            la_base = base  # the cap was reached before the claim: all of it is beyond
        else:  # the claim reaches the cap: the share of its eligible cost the fund left unpaid
            la_base = half_up(Decimal(eligible) * (raw - paid) / raw)
        la_raw = half_up(la_base * policy.rate("large_amount.ratio", on))
        la_paid = within_cap(la_raw, year.la_paid, policy.fen("large_amount.cap", on))
        year.la_paid += la_paid
        if la_paid < la_raw:
            capped.append("la")
    out |= {"la_base": la_base, "hifob_pay": la_paid}

    # medical assistance (aid recipients): tiers in order on what is still owed in scope
    owed = max(in_scope - paid - ci_paid - la_paid, 0)
    ma_paid = 0
    if entitled:
        for t, tier in enumerate(assistance_tiers(policy, person.aid_class, on)):
            if tier.ratio <= 0:
                continue
            remaining = owed - ma_paid
            ytd = year.ma_base.get(t, 0) + remaining
            year.ma_base[t] = ytd
            tier_raw = half_up(tier.ratio * above_deductible(ytd, remaining, tier.deductible))
            pay = within_cap(tier_raw, year.ma_paid.get(t, 0), tier.annual_cap)
            year.ma_paid[t] = year.ma_paid.get(t, 0) + pay
            if pay < tier_raw:
                capped.append(f"ma:{t}")
            out[f"ma_base:{t}"] = remaining
            out[f"maf_pay:{t}"] = pay
            ma_paid += pay
    out["maf_pay"] = ma_paid

    # the person's share: personal account (if allowed), family mutual aid, cash
    fund = paid + ci_paid + la_paid + ma_paid
    share = claim.total - fund

    # supplementary commercial insurance (惠民保): what the product covers of what is left,
    # above its annual deductible, at its ratio, up to its annual cap; never more than the share
    commercial = 0
    product = person.commercial
    if entitled and product is not None and product.cap > 0 and product.ratio > 0:
        covered = 0
        if product.in_scope:
            covered += max(in_scope - fund, 0)
        if product.listed:
            covered += max(claim.listed_self_paid, 0)
        covered = min(covered, max(share, 0))
        year.commercial_base += covered
        grown = above_deductible(year.commercial_base, covered, product.deductible)
        commercial_raw = half_up(product.ratio * grown)
        commercial = within_cap(commercial_raw, year.commercial_paid, product.cap)
        year.commercial_paid += commercial
        if commercial < commercial_raw:
            capped.append("commercial")
    out["commercial_pay"] = commercial
    left = share - commercial

    balance = person.account_balance if person.use_account else 0
    account = within_cap(left, year.account_spent, balance)
    year.account_spent += account
    mutual_aid = 0
    if person.mutual_aid_balance > 0:
        mutual_aid = within_cap(left - account, year.mutual_aid_spent, person.mutual_aid_balance)
        year.mutual_aid_spent += mutual_aid
    out |= {
        "fund_pay_sumamt": fund,
        "psn_part_amt": share,
        "acct_pay": account,
        "acct_mulaid_pay": mutual_aid,
        "psn_cash_pay": left - account - mutual_aid,
    }
    return Settled(out, tuple(capped))


def reference_settle(
    policy: Policy, person: Person, claims: Sequence[Claim], year: Year | None = None
) -> list[Settled]:
    """One person's claims in date order, from ``year`` (default: the start of the year)."""
    year = year if year is not None else Year()
    return [settle_claim(policy, person, c, year) for c in claims]
