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

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from yibao.kernel.columns import (
    CLAIM_FIELDS,
    PERSON_FIELDS,
    ROW_FIELDS,
    Claims,
    Persons,
    Result,
    Rows,
)
from yibao.kernel.jit import c_view, compiled
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
from yibao.kernel.state import Slots, State, layout
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
    return c_view(buf, layout[at], (layout[at + 1], layout[at + 2]))


@compiled
def _view3(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    shape = (layout[at + 1], layout[at + 2], layout[at + 3])
    return c_view(buf, layout[at], shape)


@compiled
def _view4(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    shape = (layout[at + 1], layout[at + 2], layout[at + 3], layout[at + 4])
    return c_view(buf, layout[at], shape)


@compiled
def _view5(buf: I64, layout: I64, k: int) -> I64:
    at = k * PACKED
    shape = (layout[at + 1], layout[at + 2], layout[at + 3], layout[at + 4], layout[at + 5])
    return c_view(buf, layout[at], shape)


@compiled
def unpack(buf: I64, layout: I64) -> KernelTables:
    """The tables by name from ``Tables.packed`` (views into the buffer, in field order: made
    without ``reshape``'s checks, ``jit.c_view``, since ``Tables.packed`` made the layout)."""
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
    explain: bool,
) -> bool:
    """Settle every claim (rules.md §6), writing ``out[column, claim]`` and updating ``state``;
    True when an aid recipient's claim was settled (the tier columns, written by medical
    assistance straight into ``out``, are then part of the result). The policy tables come
    packed (``Tables.packed``), the state's slots as an array (``Slots`` in order)."""
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
        tiers = out[_TIERS:, i]  # the claim's tier columns (ma_base:<t>, maf_pay:<t>)
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
    return aided


@compiled
def settle_each(static: I64, row: I64, given: I64, at: int, buf: I64, explain: bool) -> bool:
    """``settle_pass`` over k claims of k persons, one claim each (the online path: one request,
    or requests coalesced), in six arguments instead of twenty-nine (Numba's dispatcher checks
    each argument's type on every call): ``row`` each of ``CLAIM_FIELDS`` over the k claims,
    then each of ``PERSON_FIELDS`` over the k persons (``kernel.columns.ROW_FIELDS``, ``person``
    0..k−1); ``static`` the packed tables, their layout and the state's slots (``Online``);
    the given state in rows ``at:`` of ``given`` (``[slot, person]``, read only); ``buf``
    ``[row, claim]`` the output columns (``COLUMNS``, then the tier columns), then the new
    state."""
    k = buf.shape[1]
    end = len(static) - 4
    n_tables, n_layout = static[end], static[end + 1]
    n_out, n_keys = static[end + 2], static[end + 3]
    lay = n_tables + n_layout
    state = buf[n_out : n_out + n_keys]
    for j in range(n_keys):
        for p in range(k):
            state[j, p] = given[at + j, p]
    c = 11 * k
    return settle_pass(
        static[:n_tables], static[n_tables:lay], static[lay:end],
        row[0:k], row[k : 2 * k], row[2 * k : 3 * k], row[3 * k : 4 * k], row[4 * k : 5 * k],
        row[5 * k : 6 * k], row[6 * k : 7 * k], row[7 * k : 8 * k], row[8 * k : 9 * k],
        row[9 * k : 10 * k], row[10 * k : c],
        row[c : c + k], row[c + k : c + 2 * k], row[c + 2 * k : c + 3 * k],
        row[c + 3 * k : c + 4 * k], row[c + 4 * k : c + 5 * k], row[c + 5 * k : c + 6 * k],
        row[c + 6 * k : c + 7 * k], row[c + 7 * k : c + 8 * k], row[c + 8 * k : c + 9 * k],
        row[c + 9 * k : c + 10 * k], row[c + 10 * k : c + 11 * k],
        state, buf[:n_out], explain,
    )  # fmt: skip


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


class Online(NamedTuple):
    """What ``settle_each`` takes of a ``Tables`` besides the claims (built once: ``online``)."""

    static: I64  # packed tables, their layout, the state's slots, then those three lengths,
    # ``n_out`` and the number of state slots
    n_out: int  # rows of output columns in ``buf``: ``COLUMNS``, then the tier columns
    height: int  # rows of ``buf``: the output columns, then the state's slots
    columns: tuple[dict[str, int], dict[str, int]]  # the result's columns → rows of ``buf``
    # (no aid recipient settled, one settled: with the tier columns)
    state_at: dict[str, int]  # the state's keys → rows of ``buf`` (a result of its own)
    part_at: dict[str, int]  # the same, of a column of a coalesced call's ``buf`` (a view)
    keys_at: dict[str, int]  # the state's keys → slots (``layout(tables).at``)
    column_at: dict[str, int]  # the same, of a state matrix of one column (``layout``)
    zeros: I64  # ``[slot, 1]``: no stored state


def online(tables: Tables) -> Online:
    """The ``Online`` of ``tables``."""
    found: Online | None = tables.derived.get("online")
    if found is None:
        keys, at, sl, tier_names, column_at = layout(tables)
        buf, lay = tables.packed()
        n_out = len(COLUMNS) + len(tier_names)
        lengths = np.array([len(buf), len(lay), n_out, len(keys)], dtype=np.int64)
        found = tables.derived["online"] = Online(
            static=np.concatenate((buf, lay, sl, lengths)),
            n_out=n_out,
            height=n_out + len(keys),
            columns=(_rows(tier_names, False), _rows(tier_names, True)),
            state_at={k: n_out + j for k, j in at.items()},
            part_at={k: n_out + j for k, j in at.items()},
            keys_at=at,
            column_at=column_at,
            zeros=np.zeros((len(keys), 1), dtype=np.int64),
        )
    return found


def _given(
    e: Online, state: State | None, contiguous: bool = True
) -> tuple[I64, int, dict[str, I64] | None]:
    """A person's given state as ``settle_each`` reads it: a matrix of one column (contiguous
    if ``contiguous``) and the row where its slots begin, and the keys the kernel does not keep
    (passed through). A state the kernel returned (or ``kernel.online.state_of`` made) is read
    where it lies, not copied."""
    if state is None:
        return e.zeros, 0, None
    values = state.values
    if type(values) is Rows and values.own is None:
        where = values.at
        if where is e.state_at:  # a settle_row result's: its own matrix
            return values.matrix, e.n_out, None
        if where is e.column_at:  # state_of's: its own matrix
            return values.matrix, 0, None
        if where is e.part_at:  # a column of a coalesced call's result
            matrix = values.matrix
            return (np.ascontiguousarray(matrix) if contiguous else matrix), e.n_out, None
        if where is e.keys_at and values.matrix.shape[1] == 1:  # a batch's of one person
            return np.ascontiguousarray(values.matrix), 0, None
    column = np.zeros((len(e.keys_at), 1), dtype=np.int64)
    extra: dict[str, I64] = {}
    for key, given in values.items():
        slot = e.keys_at.get(key)
        if slot is None:
            extra[key] = given
        else:
            column[slot] = given[:1]
    return column, 0, extra or None


_ROW = len(ROW_FIELDS)


def settle_row(tables: Tables, row: I64, state: State | None, explain: bool = True) -> Result:
    """One claim of one person (the online path) through ``settle_each``: ``row`` the claim's and
    the person's fields (``ROW_FIELDS``, int64), ``state`` the person's stored state. The result's
    columns and new state are rows of one matrix, read by name (``Rows``)."""
    e: Online = tables.derived.get("online") or online(tables)
    if len(row) != _ROW:
        raise ValueError(f"row: {len(row)} values, not one per field of ROW_FIELDS ({_ROW})")
    if row.dtype is not _INT64:
        row = np.asarray(row, dtype=np.int64)
    if state is None:
        given, at, extra = e.zeros, 0, None
    elif type(state.values) is Rows and state.values.at is e.column_at and state.values.own is None:
        given, at, extra = state.values.matrix, 0, None  # state_of's (the service's)
    else:
        given, at, extra = _given(e, state)
    if len(given) < at + len(e.keys_at):  # a state matrix changed by hand: not read past its end
        raise ValueError("state: fewer slots than the kernel's state_keys")
    buf = np.empty((e.height, 1), dtype=np.int64)
    aided = settle_each(e.static, row, given, at, buf, explain)
    new = Rows(buf, e.state_at)
    if extra:
        new.update(extra)
    return Result(Rows(buf, e.columns[aided]), State(new))


def settle_rows(
    tables: Tables, rows: Sequence[I64], states: Sequence[State | None], explain: bool = True
) -> list[Result]:
    """Claims of distinct persons, one each (``settle_row``'s), in one call of ``settle_each``
    (requests coalesced); results in order, each a view of one column of the result's matrix."""
    e: Online = tables.derived.get("online") or online(tables)
    k = len(rows)
    stacked = np.array(rows, dtype=np.int64)  # [claim, field]
    if stacked.shape != (k, _ROW):
        raise ValueError(f"rows: not {_ROW} values each, one per field of ROW_FIELDS")
    stacked[:, 0] = np.arange(k)  # each claim its own person
    givens = [_given(e, s, False) for s in states]
    at = givens[0][1]
    if any(g[1] != at for g in givens):  # from different places: the slots of each
        n_keys = len(e.keys_at)
        given = np.concatenate([g[0][g[1] : g[1] + n_keys] for g in givens], axis=1)
        at = 0
    else:
        given = np.concatenate([g[0] for g in givens], axis=1)
    if len(given) < at + len(e.keys_at):  # a state matrix changed by hand: not read past its end
        raise ValueError("state: fewer slots than the kernel's state_keys")
    buf = np.empty((e.height, k), dtype=np.int64)
    aided = settle_each(e.static, stacked.T.reshape(-1), given, at, buf, explain)
    columns, part_at = e.columns[aided], e.part_at
    out = []
    for i, (_, _, extra) in enumerate(givens):
        mine = buf[:, i : i + 1]
        new = Rows(mine, part_at)
        if extra:
            new.update(extra)
        out.append(Result(Rows(mine, columns), State(new)))
    return out


def settle(
    tables: Tables, claims: Claims, persons: Persons, state: State | None, explain: bool
) -> Result:
    """``settle_pass`` over a batch: the state's keys to slots, the output rows to columns (one
    claim of one person: ``settle_row``)."""
    n = len(claims.person)
    if n == 1 and len(persons.scheme) == 1:
        row = np.concatenate((*vars(claims).values(), *vars(persons).values()))
        if row.dtype != _INT64 or len(row) != _ROW:  # not integers, or not the fields alone
            row = np.concatenate(
                [getattr(claims, f) for f in CLAIM_FIELDS]
                + [getattr(persons, f) for f in PERSON_FIELDS],
                dtype=np.int64,
                casting="unsafe",
            )
        return settle_row(tables, row, state, explain)
    keys, at, sl, tier_names, _ = layout(tables)
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
        explain,
    )
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
    _, at, _, tier_names, _ = layout(tables)
    rows = tables.derived.get("rows")
    if rows is None:
        rows = tables.derived["rows"] = (_rows(tier_names, False), _rows(tier_names, True))
    state = Rows(matrix, at)
    if extra:
        state.update(extra)
    return Result(columns=Rows(out, rows[aided]), state=State(state))
