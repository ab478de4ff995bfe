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

from yibao.kernel.columns import Claims, Persons, Result, Rows
from yibao.kernel.jit import compiled
from yibao.kernel.layers.accounts import family_mutual_aid, personal_account
from yibao.kernel.layers.assistance import medical_assistance
from yibao.kernel.layers.basic import basic_pooling
from yibao.kernel.layers.chronic import CHRONIC, UNCHECKED, chronic_care
from yibao.kernel.layers.commercial import commercial_insurance
from yibao.kernel.layers.critical_illness import critical_illness
from yibao.kernel.layers.large_amount import large_amount
from yibao.kernel.layers.scope import entitled_claim, policy_scope
from yibao.kernel.reasons import BASIC_CAP, BASIC_DEDUCTIBLE, NOT_AID_RECIPIENT, WAITING
from yibao.kernel.segments import I64
from yibao.kernel.state import Slots, State, slots, state_keys
from yibao.kernel.tables import PACKED, SCHEMES, KernelTables, Tables

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
    "commercial_pay",
)
_PRESELFPAY, _INSCP, _CROSS, _DEDC, _BASIC_RAW, _HIFP, _CI_BASE, _HIFMI = 0, 1, 2, 3, 4, 5, 6, 7
_LA_BASE, _HIFOB, _MAF, _FUND, _SHARE, _ACCT, _MULAID, _CASH = 8, 9, 10, 11, 12, 13, 14, 15
_REASONS, _ADMISSION_NO, _VERSION, _COMMERCIAL, _TIERS = 16, 17, 18, 19, 20


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
def _view1(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    return buf[layout[at] : layout[at] + layout[at + 1]]


@compiled
def _view2(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    d0, d1 = layout[at + 1], layout[at + 2]
    return buf[layout[at] : layout[at] + d0 * d1].reshape((d0, d1))


@compiled
def _view3(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    d0, d1, d2 = layout[at + 1], layout[at + 2], layout[at + 3]
    return buf[layout[at] : layout[at] + d0 * d1 * d2].reshape((d0, d1, d2))


@compiled
def _view4(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    d0, d1, d2, d3 = layout[at + 1], layout[at + 2], layout[at + 3], layout[at + 4]
    return buf[layout[at] : layout[at] + d0 * d1 * d2 * d3].reshape((d0, d1, d2, d3))


@compiled
def _view5(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    d0, d1, d2 = layout[at + 1], layout[at + 2], layout[at + 3]
    d3, d4 = layout[at + 4], layout[at + 5]
    size = d0 * d1 * d2 * d3 * d4
    return buf[layout[at] : layout[at] + size].reshape((d0, d1, d2, d3, d4))


@compiled
def unpack(buf: I64, layout: I64) -> KernelTables:
    """The tables by name from ``Tables.packed`` (views into the buffer, in field order)."""
    return KernelTables(
        _view1(buf, layout, 0),  # version_dates
        _view3(buf, layout, 1),  # style
        _view4(buf, layout, 2),  # deductible
        _view4(buf, layout, 3),  # repeat
        _view5(buf, layout, 4),  # band_edges
        _view5(buf, layout, 5),  # band_ratios
        _view3(buf, layout, 6),  # band_basis
        _view3(buf, layout, 7),  # annual_cap
        _view3(buf, layout, 8),  # cap_group
        _view3(buf, layout, 9),  # ded_group
        _view1(buf, layout, 10),  # prepay_b
        _view2(buf, layout, 11),  # cross_prepay
        _view1(buf, layout, 12),  # ci_residual_excl_ded
        _view1(buf, layout, 13),  # ci_include_b
        _view2(buf, layout, 14),  # ci_deductible
        _view3(buf, layout, 15),  # ci_edges
        _view3(buf, layout, 16),  # ci_ratios
        _view1(buf, layout, 17),  # ci_basis
        _view2(buf, layout, 18),  # ci_cap
        _view2(buf, layout, 19),  # type: ignore[arg-type]  # ci_vulnerable, 0/1 as int64
        _view1(buf, layout, 20),  # la_ratio
        _view1(buf, layout, 21),  # la_cap
        layout[len(layout) - 1],  # la_group
        _view3(buf, layout, 22),  # ma_deductible
        _view3(buf, layout, 23),  # ma_ratio
        _view3(buf, layout, 24),  # ma_cap
        _view2(buf, layout, 25),  # chronic_class
        _view2(buf, layout, 26),  # chronic_cap
        _view2(buf, layout, 27),  # chronic_ded
    )


@compiled
def settle_pass(
    tables: I64,
    layout: I64,
    state_slots: I64,
    person: I64,
    date: I64,
    med_type: I64,
    level: I64,
    cross_region: I64,
    total: I64,
    fully_self_paid: I64,
    over_limit: I64,
    category_b: I64,
    disease: I64,
    listed_self_paid: I64,
    scheme: I64,
    aid_class: I64,
    account_balance: I64,
    use_account: I64,
    mutual_aid_balance: I64,
    incentive_raise: I64,
    entitled_from: I64,
    com_deductible: I64,
    com_ratio: I64,
    com_cap: I64,
    com_covers: I64,
    state: I64,
    out: I64,
    tiers: I64,
    explain: bool,
) -> bool:
    """Settle every claim (rules.md §6), writing ``out[column, claim]`` and updating ``state``
    (``tiers``: room for one claim's tier columns); True when an aid recipient's claim was
    settled (the tier columns are then part of the result). The policy tables come packed
    (``Tables.packed``), the state's slots as an array (``Slots`` in order)."""
    kt = unpack(tables, layout)
    s_ = state_slots
    sl = Slots(
        s_[0], s_[1], s_[2], s_[3], s_[4], s_[5], s_[6], s_[7], s_[8], s_[9], s_[10], s_[11],
        s_[12],
    )  # fmt: skip
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
            if med_type[i] == CHRONIC and disease[i] != UNCHECKED:
                basic, why = chronic_care(kt, state, sl, p, v, s, level[i], disease[i], base)
                reasons |= why
            else:
                basic = basic_pooling(kt, state, sl, p, v, s, med_type[i], level[i], base)
            dedc, basic_raw, hifp = basic.deductible, basic.raw, basic.paid
            admission_no = basic.admission_no
            if base > 0 and basic.deductible == base:
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
        commercial = 0
        if entitled and com_cap[p] > 0:
            commercial = commercial_insurance(
                state, sl, p, com_covers[p], com_deductible[p], com_ratio[p], com_cap[p],
                in_scope - fund, listed_self_paid[i], share,
            )  # fmt: skip
        left = share - commercial
        acct = personal_account(state, sl, p, left, use_account[p] != 0, account_balance[p])
        mulaid = family_mutual_aid(state, sl, p, left - acct, mutual_aid_balance[p])
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
        out[_CASH, i] = left - acct - mulaid
        out[_COMMERCIAL, i] = commercial
        out[_REASONS, i] = reasons if explain else 0
        out[_ADMISSION_NO, i] = admission_no
        out[_VERSION, i] = v
        for t in range(len(tiers)):
            out[_TIERS + t, i] = tiers[t]
    return aided


#: The fields of ``settle_person``'s ``row``: each claim field over the person's n claims, then
#: the person's fields (one value each), in ``settle_pass``'s order.
CLAIM_FIELDS = (
    "person",
    "date",
    "med_type",
    "level",
    "cross_region",
    "total",
    "fully_self_paid",
    "over_limit",
    "category_b",
    "disease",
    "listed_self_paid",
)
PERSON_FIELDS = (
    "scheme",
    "aid_class",
    "account_balance",
    "use_account",
    "mutual_aid_balance",
    "incentive_raise",
    "entitled_from",
    "com_deductible",
    "com_ratio",
    "com_cap",
    "com_covers",
)


@compiled
def settle_person(
    tables: I64,
    layout: I64,
    state_slots: I64,
    row: I64,
    state: I64,
    out: I64,
    tiers: I64,
    explain: bool,
) -> bool:
    """``settle_pass`` over one person's n claims given as one array (the one-person entry of the
    online path): ``CLAIM_FIELDS`` n values each, then ``PERSON_FIELDS`` one value each. One
    array instead of twenty-two: Numba's dispatcher checks each argument's type on every call."""
    n = (len(row) - 11) // 11
    c = 11 * n
    return settle_pass(
        tables, layout, state_slots,
        row[0:n], row[n : 2 * n], row[2 * n : 3 * n], row[3 * n : 4 * n], row[4 * n : 5 * n],
        row[5 * n : 6 * n], row[6 * n : 7 * n], row[7 * n : 8 * n], row[8 * n : 9 * n],
        row[9 * n : 10 * n], row[10 * n : c],
        row[c : c + 1], row[c + 1 : c + 2], row[c + 2 : c + 3], row[c + 3 : c + 4],
        row[c + 4 : c + 5], row[c + 5 : c + 6], row[c + 6 : c + 7], row[c + 7 : c + 8],
        row[c + 8 : c + 9], row[c + 9 : c + 10], row[c + 10 : c + 11],
        state, out, tiers, explain,
    )  # fmt: skip


def _layout(tables: Tables) -> tuple[list[str], dict[str, int], I64, list[str]]:
    """The state keys, their slots and the output column names of ``tables`` (once)."""
    layout = tables.derived.get("layout")
    if layout is None:
        keys = state_keys(tables)
        tier_names = [f"{k}:{t}" for t in range(tables.n_tiers) for k in ("ma_base", "maf_pay")]
        state_slots = np.array(slots(tables), dtype=np.int64)
        layout = (keys, {k: i for i, k in enumerate(keys)}, state_slots, tier_names)
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
    if (
        isinstance(given, Rows)
        and given.own is None
        and given.at is at
        and given.matrix.shape[1] == n_persons
    ):
        return given.matrix.copy(), {}  # a state this kernel returned, unchanged
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
    if len(persons.scheme) == 1 and n and claims.person[0] == claims.person[n - 1]:
        return _settle_person(tables, claims, persons, state, explain, keys, at, sl, tier_names)
    person = _i64(claims.person)
    n_persons = 1 if n == 1 else count_persons(person)
    matrix, extra = _state_matrix(state, keys, at, n_persons)
    out = np.empty((len(COLUMNS) + len(tier_names), n), dtype=np.int64)
    aided = settle_pass(
        *tables.packed(),
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
        _i64(claims.disease),
        _i64(claims.listed_self_paid),
        _i64(persons.scheme),
        _i64(persons.aid_class),
        _i64(persons.account_balance),
        _i64(persons.use_account),
        _i64(persons.mutual_aid_balance),
        _i64(persons.incentive_raise),
        _i64(persons.entitled_from),
        _i64(persons.com_deductible),
        _i64(persons.com_ratio),
        _i64(persons.com_cap),
        _i64(persons.com_covers),
        matrix,
        out,
        np.zeros(len(tier_names), dtype=np.int64),
        explain,
    )
    return _result(tables, out, matrix, extra, aided)


def _settle_person(
    tables: Tables,
    claims: Claims,
    persons: Persons,
    state: State | None,
    explain: bool,
    keys: list[str],
    at: dict[str, int],
    sl: I64,
    tier_names: list[str],
) -> Result:
    """``settle`` of one person's claims (the online path) through ``settle_person``: the
    columns in one array (the dataclasses' fields in order, which are ``CLAIM_FIELDS`` and
    ``PERSON_FIELDS``; converted one by one where a column is not integer), one call with eight
    arguments. ``keys``, ``at``, ``sl``, ``tier_names``: ``_layout(tables)``."""
    row = np.concatenate((*vars(claims).values(), *vars(persons).values()))
    if row.dtype != _INT64 or len(row) != 11 * len(claims.person) + 11:
        row = np.concatenate(
            [getattr(claims, f) for f in CLAIM_FIELDS]
            + [getattr(persons, f) for f in PERSON_FIELDS],
            dtype=np.int64,
            casting="unsafe",
        )
    matrix, extra = _state_matrix(state, keys, at, 1)
    out = np.empty((len(COLUMNS) + len(tier_names), len(claims.person)), dtype=np.int64)
    tiers = np.empty(len(tier_names), dtype=np.int64)
    aided = settle_person(*tables.packed(), sl, row, matrix, out, tiers, explain)
    return _result(tables, out, matrix, extra, aided)


def _rows(tier_names: list[str], aided: bool) -> dict[str, int]:
    """The result's column names and their rows of ``out`` (the tier columns after ``maf_pay``
    when an aid recipient was settled)."""
    at = {name: k for k, name in enumerate(COLUMNS[: _MAF + 1])}
    if aided:
        at.update({name: _TIERS + t for t, name in enumerate(tier_names)})
    at.update({name: _MAF + 1 + k for k, name in enumerate(COLUMNS[_MAF + 1 : _TIERS])})
    return at


def _result(tables: Tables, out: I64, matrix: I64, extra: dict[str, I64], aided: bool) -> Result:
    """The output rows as named columns (read as views: ``Rows``), the state matrix's rows as
    the state's keys."""
    _, at, _, tier_names = _layout(tables)
    rows = tables.derived.get("rows")
    if rows is None:
        rows = tables.derived["rows"] = (_rows(tier_names, False), _rows(tier_names, True))
    state = Rows(matrix, at)
    if extra:
        state.update(extra)
    return Result(columns=Rows(out, rows[aided]), state=State(state))
