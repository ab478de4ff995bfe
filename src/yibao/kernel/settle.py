"""The settlement kernel (一站式结算): every layer of a batch of claims in one vectorised pass.

Claims are sorted by (person, date); person k's claims form segment k. Every layer's payment is
the growth of a cumulative function of the person's year-to-date base, so the batch needs only
grouped cumulative sums, grouped running maxima and piecewise-linear schedules. A single claim is
the same call with a batch of one and the person's stored year-to-date state.

Layers, in order (rules.md §6; one module each in ``kernel.layers``): policy scope → basic
pooling fund (hifp) → critical illness (hifmi, residents) or large-amount insurance (hifob,
employees) → medical assistance (maf, by tier) → personal account (acct) → family mutual aid
(acct_mulaid) → cash.

Amounts are int64 fen. Within the bounds of ``yibao.policy.money`` (each amount at most
``MAX_FEN``, each year-to-date accumulator at most ``MAX_YEAR_FEN``, share ratios at most 1) no
product or running sum here passes 2^63: the reasoning is in that module's docstring.
"""

from __future__ import annotations

import numpy as np

from yibao.kernel.columns import Claims, Persons, Result
from yibao.kernel.layers.accounts import family_mutual_aid, personal_account
from yibao.kernel.layers.assistance import medical_assistance
from yibao.kernel.layers.basic import basic_pooling
from yibao.kernel.layers.common import Context
from yibao.kernel.layers.critical_illness import critical_illness
from yibao.kernel.layers.large_amount import large_amount
from yibao.kernel.layers.scope import entitled_claims, policy_scope
from yibao.kernel.memory import keep_freed_memory
from yibao.kernel.reasons import (
    BASIC_CAP,
    BASIC_DEDUCTIBLE,
    CI_CAP,
    CI_DEDUCTIBLE,
    LA_CAP,
    MA_CAP,
    NOT_AID_RECIPIENT,
    REASONS,
    WAITING,
)
from yibao.kernel.segments import segments
from yibao.kernel.state import (
    FREE_ADMISSIONS,
    State,
    released_rank,
    reversed_state,
    state_keys,
)
from yibao.kernel.tables import SCHEMES, Tables

RESIDENT = SCHEMES.index("resident")

# the kernel's temporaries reuse freed memory instead of re-faulting it (kernel.memory)
keep_freed_memory()


def settle_claims(
    tables: Tables,
    claims: Claims,
    persons: Persons,
    state: State | None = None,
    explain: bool = True,
) -> Result:
    """Settle a batch of claims of many persons (rules.md §6), carrying year-to-date state.

    ``explain`` adds the ``reasons`` flags (why a layer paid nothing); batch work may skip them.
    """
    segs = segments(claims.person)
    entitled = entitled_claims(segs, claims, persons)
    ctx = Context(
        tables=tables,
        segs=segs,
        version=tables.version_of(claims.date),
        entitled=entitled,
        state=State(dict(state.values)) if state is not None else State(),
        explain=explain,
        reasons=np.where(entitled, 0, WAITING) if explain else np.zeros(len(claims), np.int64),
    )
    scheme = segs.spread(persons.scheme)
    aid_class = segs.spread(persons.aid_class)

    scope = policy_scope(ctx, claims)
    basic = basic_pooling(ctx, claims, scheme, scope.basic_base)
    resident = entitled & (scheme == RESIDENT)
    ci = critical_illness(ctx, resident, aid_class, persons.incentive_raise, scope, basic)
    employee = entitled & (scheme != RESIDENT) & (basic.cap_group == tables.la_group)
    la = large_amount(ctx, employee, scope.basic_base, basic)
    owed = np.maximum(scope.in_scope - basic.paid - ci.paid - la.paid, 0)
    ma = medical_assistance(ctx, aid_class, owed)

    fund = basic.paid + ci.paid + la.paid + ma.paid
    share = claims.total - fund
    acct = personal_account(ctx, share, persons)
    mulaid = family_mutual_aid(ctx, share - acct, persons)
    columns = {
        "preselfpay_amt": scope.category_b_prepay,
        "inscp_scp_amt": scope.in_scope,
        "cross_prepay": scope.cross_region_prepay,
        "act_pay_dedc": basic.deductible,
        "basic_raw": basic.raw,
        "hifp_pay": basic.paid,
        "ci_base": ci.base,
        "hifmi_pay": ci.paid,
        "la_base": la.base,
        "hifob_pay": la.paid,
        "maf_pay": ma.paid,
        **ma.tiers,
        "fund_pay_sumamt": fund,
        "psn_part_amt": share,
        "acct_pay": acct,
        "acct_mulaid_pay": mulaid,
        "psn_cash_pay": share - acct - mulaid,
        "reasons": ctx.reasons,
        "admission_no": np.where(basic.admission, basic.admission_no, 0),
        "version": ctx.version,
    }
    return Result(columns=columns, state=ctx.state)


__all__ = [
    "BASIC_CAP",
    "BASIC_DEDUCTIBLE",
    "CI_CAP",
    "CI_DEDUCTIBLE",
    "FREE_ADMISSIONS",
    "LA_CAP",
    "MA_CAP",
    "NOT_AID_RECIPIENT",
    "REASONS",
    "WAITING",
    "Claims",
    "Persons",
    "Result",
    "State",
    "released_rank",
    "reversed_state",
    "settle_claims",
    "state_keys",
]
