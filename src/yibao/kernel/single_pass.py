"""The settlement kernel's one compiled pass (一站式结算): each person's claims in date order,
every layer of a claim in turn, carrying the person's year-to-date state.

Claims are sorted by (person, date); person k's claims are the k-th run of equal ``person`` keys
and read row k of the persons' columns. ``settle_pass`` (compiled, ``kernel.jit``) calls the
layers of ``kernel.layers`` on each claim in the order of rules.md §6: policy scope → basic
pooling fund (hifp) → critical illness (hifmi, residents) or large-amount insurance (hifob,
employees) → medical assistance (maf, by tier) → personal account (acct) → family mutual aid
(acct_mulaid) → cash. It reads the policy tables (``Tables.kernel``), keeps the year-to-date
state in a matrix ``[slot, person]`` (``kernel.state.Slots``) and writes one row of ``out`` per
output column. ``settle`` is its Python edge: columns and ``State`` in, ``Result`` out.

Amounts are int64 fen. Within the bounds of ``yibao.policy.money`` (each amount at most
``MAX_FEN``, each year-to-date accumulator at most ``MAX_YEAR_FEN``, share ratios at most 1) no
product or running sum here passes 2^63: the reasoning is in that module's docstring.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

from yibao.kernel.columns import Claims, Persons, Result
from yibao.kernel.jit import compiled
from yibao.kernel.layers.accounts import family_mutual_aid, personal_account
from yibao.kernel.layers.assistance import medical_assistance
from yibao.kernel.layers.basic import basic_pooling
from yibao.kernel.layers.critical_illness import critical_illness
from yibao.kernel.layers.large_amount import large_amount
from yibao.kernel.layers.scope import entitled_claim, policy_scope
from yibao.kernel.reasons import BASIC_CAP, BASIC_DEDUCTIBLE, NOT_AID_RECIPIENT, WAITING
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots, State, slots, state_keys
from yibao.kernel.tables import SCHEMES, KernelTables, Tables

RESIDENT = SCHEMES.index("resident")

#: The output columns, one row of ``out`` each, then ``ma_base:<t>``, ``maf_pay:<t>`` per tier.
COLUMNS = (
    "preselfpay_amt",
    "inscp_scp_amt",
    "cross_prepay",
    "act_pay_dedc",
    "basic_raw",
    "hifp_pay",
    "ci_base",
    "hifmi_pay",
    "la_base",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "reasons",
    "admission_no",
    "version",
)
_PRESELFPAY, _INSCP, _CROSS, _DEDC, _BASIC_RAW, _HIFP, _CI_BASE, _HIFMI = 0, 1, 2, 3, 4, 5, 6, 7
_LA_BASE, _HIFOB, _MAF, _FUND, _SHARE, _ACCT, _MULAID, _CASH = 8, 9, 10, 11, 12, 13, 14, 15
_REASONS, _ADMISSION_NO, _VERSION, _TIERS = 16, 17, 18, 19


@compiled
def count_persons(person: I64) -> int:
    """The number of persons (runs of equal keys) of claims sorted by person."""
    n = 0
    for i in range(len(person)):
        if i == 0 or person[i] != person[i - 1]:
            n += 1
    return n


@compiled
def version_of(version_dates: I64, day: int) -> int:
    """The parameter version in force on ``day`` (the first before the year's start)."""
    v = 0
    while v + 1 < len(version_dates) and version_dates[v + 1] <= day:
        v += 1
    return v


@compiled
def settle_pass(
    kt: KernelTables,
    sl: Slots,
    person: I64,
    date: I64,
    med_type: I64,
    level: I64,
    cross_region: I64,
    total: I64,
    fully_self_paid: I64,
    over_limit: I64,
    category_b: I64,
    scheme: I64,
    aid_class: I64,
    account_balance: I64,
    use_account: I64,
    mutual_aid_balance: I64,
    incentive_raise: I64,
    entitled_from: I64,
    state: I64,
    out: I64,
    tiers: I64,
    explain: bool,
) -> bool:
    """Settle every claim (rules.md §6), writing ``out[column, claim]`` and updating ``state``
    (``tiers``: room for one claim's tier columns); True when an aid recipient's claim was
    settled (the tier columns are then part of the result)."""
    aided = False
    p = -1
    for i in range(len(person)):
        if i == 0 or person[i] != person[i - 1]:
            p += 1
        v = version_of(kt.version_dates, date[i])
        s, aid = scheme[p], aid_class[p]
        entitled = entitled_claim(date[i], entitled_from[p])
        reasons = 0 if entitled else WAITING
        b_prepay, in_scope, cross = policy_scope(
            kt,
            v,
            total[i],
            fully_self_paid[i],
            over_limit[i],
            category_b[i],
            cross_region[i],
        )
        dedc = basic_raw = hifp = admission_no = 0
        ci_base = hifmi = la_base = hifob = maf = 0
        tiers[:] = 0
        if entitled:
            base = in_scope - cross
            basic = basic_pooling(kt, state, sl, p, v, s, med_type[i], level[i], base)
            dedc, basic_raw, hifp = basic.deductible, basic.raw, basic.paid
            admission_no = basic.admission_no
            if base > 0 and basic.eligible == 0:
                reasons |= BASIC_DEDUCTIBLE
            if basic.paid < basic.raw:
                reasons |= BASIC_CAP
            if s == RESIDENT:
                hifmi, ci_base, why = critical_illness(
                    kt, state, sl, p, v, aid, incentive_raise[p], b_prepay, in_scope,
                    basic.deductible, basic.paid,
                )  # fmt: skip
                reasons |= why
            elif basic.cap_group == kt.la_group:
                hifob, la_base, why = large_amount(kt, state, sl, p, v, base, basic)
                reasons |= why
            owed = max(in_scope - hifp - hifmi - hifob, 0)
            if aid > 0:
                aided = True
                maf, why = medical_assistance(kt, state, sl, p, v, aid, owed, tiers)
                reasons |= why
            elif owed > 0:
                reasons |= NOT_AID_RECIPIENT
        fund = hifp + hifmi + hifob + maf
        share = total[i] - fund
        acct = personal_account(state, sl, p, share, use_account[p] != 0, account_balance[p])
        mulaid = family_mutual_aid(state, sl, p, share - acct, mutual_aid_balance[p])
        out[_PRESELFPAY, i] = b_prepay
        out[_INSCP, i] = in_scope
        out[_CROSS, i] = cross
        out[_DEDC, i] = dedc
        out[_BASIC_RAW, i] = basic_raw
        out[_HIFP, i] = hifp
        out[_CI_BASE, i] = ci_base
        out[_HIFMI, i] = hifmi
        out[_LA_BASE, i] = la_base
        out[_HIFOB, i] = hifob
        out[_MAF, i] = maf
        out[_FUND, i] = fund
        out[_SHARE, i] = share
        out[_ACCT, i] = acct
        out[_MULAID, i] = mulaid
        out[_CASH, i] = share - acct - mulaid
        out[_REASONS, i] = reasons if explain else 0
        out[_ADMISSION_NO, i] = admission_no
        out[_VERSION, i] = v
        for t in range(len(tiers)):
            out[_TIERS + t, i] = tiers[t]
    return aided


def _layout(tables: Tables) -> tuple[list[str], dict[str, int], Slots, list[str]]:
    """The state keys, their slots and the output column names of ``tables`` (once)."""
    layout = tables.derived.get("layout")
    if layout is None:
        keys = state_keys(tables)
        tier_names = [f"{k}:{t}" for t in range(tables.n_tiers) for k in ("ma_base", "maf_pay")]
        layout = (keys, {k: i for i, k in enumerate(keys)}, slots(tables), tier_names)
        tables.derived["layout"] = layout
    return layout


_INT64 = np.dtype(np.int64)


def _i64(x: npt.NDArray[Any]) -> I64:
    """A column as the compiled pass takes it: int64, contiguous, writeable (one compiled
    version for every caller)."""
    if x.dtype == _INT64:
        flags = x.flags
        if flags.c_contiguous and flags.writeable:
            return cast(I64, x)
    return np.array(x, dtype=np.int64)


def _state_matrix(
    state: State | None, keys: list[str], at: dict[str, int], n_persons: int
) -> tuple[I64, dict[str, I64]]:
    """The state's accumulators as the matrix ``[slot, person]`` (0 where not given), and the
    keys the kernel does not keep (passed through)."""
    if state is None:
        return np.zeros((len(keys), n_persons), dtype=np.int64), {}
    given = state.values
    if list(given) == keys:  # every slot, in order (a state the kernel returned, the service's)
        stacked = np.concatenate(list(given.values()))
        if len(stacked) == len(keys) * n_persons:
            return stacked.reshape(len(keys), n_persons), {}
    matrix = np.zeros((len(keys), n_persons), dtype=np.int64)
    extra: dict[str, I64] = {}
    for key, values in given.items():
        slot = at.get(key)
        if slot is None:
            extra[key] = values
        else:
            matrix[slot] = values[:n_persons]
    return matrix, extra


def settle(
    tables: Tables, claims: Claims, persons: Persons, state: State | None, explain: bool
) -> Result:
    """``settle_pass`` over a batch: the state's keys to slots, the output rows to columns."""
    keys, at, sl, tier_names = _layout(tables)
    n = len(claims.person)
    person = _i64(claims.person)
    n_persons = 1 if n == 1 else count_persons(person)
    matrix, extra = _state_matrix(state, keys, at, n_persons)
    out = np.empty((len(COLUMNS) + len(tier_names), n), dtype=np.int64)
    aided = settle_pass(
        tables.kernel(),
        sl,
        person,
        _i64(claims.date),
        _i64(claims.med_type),
        _i64(claims.level),
        _i64(claims.cross_region),
        _i64(claims.total),
        _i64(claims.fully_self_paid),
        _i64(claims.over_limit),
        _i64(claims.category_b),
        _i64(persons.scheme),
        _i64(persons.aid_class),
        _i64(persons.account_balance),
        _i64(persons.use_account),
        _i64(persons.mutual_aid_balance),
        _i64(persons.incentive_raise),
        _i64(persons.entitled_from),
        matrix,
        out,
        np.zeros(len(tier_names), dtype=np.int64),
        explain,
    )
    columns = dict(zip(COLUMNS[: _MAF + 1], out[: _MAF + 1], strict=True))
    if aided:
        columns.update(zip(tier_names, out[_TIERS:], strict=True))
    columns.update(zip(COLUMNS[_MAF + 1 :], out[_MAF + 1 : _TIERS], strict=True))
    values = dict(zip(keys, matrix, strict=True))
    values.update(extra)
    return Result(columns=columns, state=State(values))
