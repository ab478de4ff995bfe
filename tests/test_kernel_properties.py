"""Invariants of the settlement kernel (hypothesis): the identity, caps, monotonicity, and that
claims settled one at a time with stored state equal the same claims settled in one batch."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from functools import cache

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from yibao.kernel.settle import Claims, Persons, Result, State, settle_claims
from yibao.kernel.tables import AID_CLASSES, MED_TYPES, SCHEMES, UNCAPPED, Tables, compile_tables
from yibao.policy import Policy
from yibao.policy.money import MAX_FEN, MAX_YEAR_FEN
from yibao.policy.vocab import BenefitScheme

YEAR_START = (dt.date(2025, 1, 1) - dt.date(1970, 1, 1)).days
TIERS = [
    {"deductible": 0, "ratio": 0.8, "annual_cap": 20000},
    {"deductible": 5000, "ratio": 0.5, "annual_cap": 10000},
]
BANDS = [{"upto": 30000, "ratio": 0.6}, {"upto": 100000, "ratio": 0.7}, {"ratio": 0.8}]


MID_YEAR = {  # parameters changing on 1 July: two versions in one coverage year
    "critical_illness": {"cap": {"2025-01-01": 300000, "2025-07-01": 200000}},
    "large_amount": {"cap": {"2025-01-01": 400000, "2025-07-01": 450000}},
    "benefits": {
        "resident": {
            "outpatient": {"basic": {"annual_cap": {"2025-01-01": 400, "2025-07-01": 300}}}
        }
    },
}


@cache
def tables(variant: int) -> Tables:
    overlays = [
        {},
        {
            "critical_illness": {
                "bands": BANDS,
                "band_basis": "excess",
                "base": "residual_excluding_deductible",
                "include_category_b_prepay": True,
            },
            "benefits": {"resident": {"inpatient": {"basic": {"ratio": {"level2": BANDS}}}}},
            "medical_assistance": {"classes": {"dibao": {"tiers": TIERS}}},
        },
        MID_YEAR,
    ]
    return compile_tables(Policy("000000", overlays=[overlays[variant]]), 2025)


money = st.one_of(st.integers(0, 500_000), st.integers(0, 150_000_000))


@st.composite
def claim_rows(draw: st.DrawFn) -> tuple[int, ...]:
    total = draw(money)
    fully = draw(st.integers(0, total))
    over = draw(st.integers(0, total - fully))
    cat_b = draw(st.integers(0, total - fully - over))
    return (
        draw(st.integers(0, 364)),
        draw(st.integers(0, len(MED_TYPES) - 1)),
        draw(st.integers(0, 2)),
        draw(st.integers(0, 3)),
        total,
        fully,
        over,
        cat_b,
        draw(st.integers(-2, 9)),  # the certified disease: not looked up, none, listed or beyond
        draw(st.integers(0, fully)),  # self-paid items on the commercial product's list
    )


@st.composite
def batches(draw: st.DrawFn) -> tuple[Claims, Persons, int]:
    n_persons = draw(st.integers(1, 4))
    rows = []
    for p in range(n_persons):
        claims = sorted(draw(st.lists(claim_rows(), min_size=1, max_size=6)))
        rows += [(p, *c) for c in claims]
    col = np.array(rows, dtype=np.int64).T
    claims = Claims(
        col[0], col[1] + YEAR_START, col[2], col[3], col[4], col[5], col[6], col[7], col[8],
        col[9], col[10],
    )  # fmt: skip
    persons = Persons(
        scheme=np.array(draw(st.lists(st.integers(0, 2), min_size=n_persons, max_size=n_persons))),
        aid_class=np.array(
            draw(
                st.lists(
                    st.integers(0, len(AID_CLASSES) - 1), min_size=n_persons, max_size=n_persons
                )
            )
        ),
        account_balance=np.array(draw(st.lists(money, min_size=n_persons, max_size=n_persons))),
        use_account=np.array(draw(st.lists(st.booleans(), min_size=n_persons, max_size=n_persons))),
        mutual_aid_balance=np.array(
            draw(st.lists(st.integers(0, 1_000_000), min_size=n_persons, max_size=n_persons))
        ),
        incentive_raise=np.array(
            draw(
                st.lists(
                    st.sampled_from([0, 100_000, 600_000]), min_size=n_persons, max_size=n_persons
                )
            )
        ),
        entitled_from=np.array(
            draw(st.lists(st.integers(0, 200), min_size=n_persons, max_size=n_persons))
        )
        + YEAR_START,
        # a supplementary commercial product (惠民保) or none (cap 0)
        com_deductible=np.array(
            draw(st.lists(st.sampled_from([0, 50_000]), min_size=n_persons, max_size=n_persons))
        ),
        com_ratio=np.array(
            draw(
                st.lists(
                    st.sampled_from([0, 500_000, 800_000, 1_000_000]),
                    min_size=n_persons,
                    max_size=n_persons,
                )
            )
        ),
        com_cap=np.array(
            draw(
                st.lists(
                    st.sampled_from([0, 0, 100_000, 5_000_000]),
                    min_size=n_persons,
                    max_size=n_persons,
                )
            )
        ),
        com_covers=np.array(
            draw(st.lists(st.integers(0, 3), min_size=n_persons, max_size=n_persons))
        ),
    )
    return claims, persons, draw(st.integers(0, 2))


def take(claims: Claims, idx: np.ndarray) -> Claims:
    return Claims(*(getattr(claims, f)[idx] for f in claims.__dataclass_fields__))


def take_person(persons: Persons, i: int) -> Persons:
    return Persons(*(getattr(persons, f)[i : i + 1] for f in persons.__dataclass_fields__))


def _cap_raised_after_a_claim_it_cut() -> tuple[Claims, Persons, int]:
    """An employee's claim cut by the large-amount cap in May, the cap raised on 1 July, then a
    claim of 0.00 in July: it was paid 0.01 of May's cut raw (cash -0.01)."""
    n = 3
    zero = np.zeros(n, dtype=np.int64)
    claims = Claims(zero, YEAR_START + np.array([0, 0, 181]), zero, zero, zero,
        np.array([0, 127194445, 0]), zero, zero, zero, zero, zero)  # fmt: skip
    z1 = np.zeros(1, dtype=np.int64)
    persons = Persons(z1, z1, z1, np.array([False]), z1, z1, z1 + YEAR_START, z1, z1, z1, z1)
    return claims, persons, 2


@example(_cap_raised_after_a_claim_it_cut())
@settings(max_examples=150, deadline=None)
@given(batches())
def test_total_is_funds_plus_account_plus_mutual_aid_plus_cash(batch: tuple) -> None:
    claims, persons, variant = batch
    c = settle_claims(tables(variant), claims, persons).columns
    assert np.array_equal(
        claims.total,
        c["fund_pay_sumamt"]
        + c["commercial_pay"]
        + c["acct_pay"]
        + c["acct_mulaid_pay"]
        + c["psn_cash_pay"],
    )
    assert np.array_equal(
        c["fund_pay_sumamt"], c["hifp_pay"] + c["hifmi_pay"] + c["hifob_pay"] + c["maf_pay"]
    )
    for name in (
        "hifp_pay",
        "hifmi_pay",
        "hifob_pay",
        "maf_pay",
        "acct_pay",
        "acct_mulaid_pay",
        "psn_cash_pay",
        "act_pay_dedc",
        "inscp_scp_amt",
    ):
        assert (c[name] >= 0).all(), name
    assert (
        c["hifp_pay"] + c["hifmi_pay"] + c["hifob_pay"] + c["maf_pay"]
        <= c["inscp_scp_amt"] + c["preselfpay_amt"]
    ).all()


@settings(max_examples=150, deadline=None)
@given(batches())
def test_no_fund_pays_more_than_its_cap_in_a_year(batch: tuple) -> None:
    claims, persons, variant = batch
    t = tables(variant)
    r = settle_claims(t, claims, persons)
    c = r.columns
    for p in range(len(persons.scheme)):
        mine = claims.person == p
        med = claims.med_type[mine]
        scheme = persons.scheme[p]
        for g in range(len(t.cap_groups)):
            in_group = t.cap_group[0, scheme, med] == g
            if in_group.any():
                cap = t.annual_cap[:, scheme, med[in_group]].max()  # the highest cap in force
                assert c["hifp_pay"][mine][in_group].sum() <= cap
        vulnerable = int(t.ci_vulnerable[0, persons.aid_class[p]])
        ci_cap = t.ci_cap[:, vulnerable].max() + persons.incentive_raise[p]
        assert c["hifmi_pay"][mine].sum() <= ci_cap
        assert c["hifob_pay"][mine].sum() <= t.la_cap.max()
        assert c["maf_pay"][mine].sum() <= t.ma_cap[:, persons.aid_class[p]].max(axis=0).sum()
        assert c["acct_pay"][mine].sum() <= persons.account_balance[p] * persons.use_account[p]


def one_claim(scheme: int, med: int, level: int, total: int) -> tuple[Claims, Persons, int]:
    """One entitled claim of one person without an account, with the national tables."""
    claims = Claims(*(np.array([v], dtype=np.int64) for v in (0, YEAR_START + 10, med, level, 0)),
        *(np.array([v], dtype=np.int64) for v in (total, 0, 0, 0, -2, 0)))  # fmt: skip
    zero = np.zeros(1, dtype=np.int64)
    persons = Persons(np.array([scheme]), zero, zero, np.array([False]), zero, zero,
        np.array([YEAR_START]), zero, zero, zero, zero)  # fmt: skip
    return claims, persons, 0


# a retiree's maternity claim reaching the basic cap: 37 fen more once lowered the large-amount
# payment by 59 fen (the basic ratio was taken back from rounded amounts, raw × 10^6 // eligible)
@example(one_claim(1, MED_TYPES.index("maternity"), 2, 110328988), 0, 37)
@settings(max_examples=150, deadline=None)
@given(batches(), st.integers(0, 40), st.integers(1, 5_000_000))
def test_a_larger_cost_never_lowers_a_funds_payment(batch: tuple, which: int, more: int) -> None:
    claims, persons, variant = batch
    t = tables(variant)
    i = which % len(claims)
    bigger = replace(claims, total=claims.total.copy())
    bigger.total[i] += more
    before = settle_claims(t, claims, persons).columns
    after = settle_claims(t, bigger, persons).columns
    mine = claims.person == claims.person[i]
    for name in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "fund_pay_sumamt"):
        assert after[name][i] >= before[name][i], name  # the claim itself
        assert after[name][mine].sum() >= before[name][mine].sum(), name  # the person's year


def one_at_a_time(t: Tables, claims: Claims, persons: Persons) -> dict[str, np.ndarray]:
    out: dict[str, list[int]] = {}
    states: dict[int, State] = {}
    for i in range(len(claims)):
        p = int(claims.person[i])
        single = take(claims, np.array([i]))
        single = replace(single, person=np.zeros(1, dtype=np.int64))
        r: Result = settle_claims(t, single, take_person(persons, p), states.get(p))
        states[p] = r.state
        for k, v in r.columns.items():
            out.setdefault(k, []).append(int(v[0]))
    return {k: np.array(v) for k, v in out.items()}


@settings(max_examples=150, deadline=None)
@given(batches())
def test_one_at_a_time_with_stored_state_equals_one_batch(batch: tuple) -> None:
    claims, persons, variant = batch
    t = tables(variant)
    whole = settle_claims(t, claims, persons).columns
    single = one_at_a_time(t, claims, persons)
    for name in (
        "hifp_pay",
        "hifmi_pay",
        "hifob_pay",
        "maf_pay",
        "acct_pay",
        "acct_mulaid_pay",
        "psn_cash_pay",
        "act_pay_dedc",
        "reasons",
    ):
        assert np.array_equal(whole[name], single[name]), name


@settings(max_examples=60, deadline=None)
@given(batches(), st.integers(1, 5))
def test_a_batch_split_in_two_with_carried_state_equals_one_batch(batch: tuple, cut: int) -> None:
    claims, persons, variant = batch
    t = tables(variant)
    whole = settle_claims(t, claims, persons)
    # split each person's claims at the same position: first part, then the rest with its state
    rank = np.arange(len(claims)) - np.searchsorted(claims.person, claims.person)
    first = rank < cut
    if first.all():
        return
    a = settle_claims(t, take(claims, np.flatnonzero(first)), persons)
    rest = take(claims, np.flatnonzero(~first))
    people = np.unique(rest.person)
    rest = replace(rest, person=np.searchsorted(people, rest.person))
    sub = Persons(*(getattr(persons, f)[people] for f in persons.__dataclass_fields__))
    state = State({k: v[people] for k, v in a.state.values.items()})
    b = settle_claims(t, rest, sub, state)
    for name in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "acct_pay", "psn_cash_pay"):
        assert np.array_equal(whole.columns[name][~first], b.columns[name]), name


@settings(max_examples=60, deadline=None)
@given(batches())
def test_coalesced_requests_equal_requests_settled_alone(batch: tuple) -> None:
    from yibao.kernel.online import Request, settle_many, settle_one

    claims, persons, variant = batch
    t = tables(variant)
    requests = []
    for p in range(len(persons.scheme)):
        mine = take(claims, np.flatnonzero(claims.person == p))
        mine = replace(mine, person=np.zeros(len(mine), dtype=np.int64))
        requests.append(Request.of(mine, take_person(persons, p)))
    # a first settlement gives each person a stored state, then the same claims again on top
    first = [settle_one(t, r) for r in requests]
    again = [replace(r, state=f.state) for r, f in zip(requests, first, strict=True)]
    for alone, together in zip(
        [settle_one(t, r) for r in again], settle_many(t, again), strict=True
    ):
        for name in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "acct_pay", "psn_cash_pay"):
            assert np.array_equal(alone.columns[name], together.columns[name]), name
        for key, value in alone.state.values.items():
            assert np.array_equal(value, together.state.values[key]), key


@settings(max_examples=60, deadline=None)
@given(batches(), st.lists(st.integers(0, 3), min_size=8, max_size=8))
def test_one_claim_requests_coalesced_equal_them_alone_from_any_stored_state(
    batch: tuple, origins: list[int]
) -> None:
    """Round r settles each person's r-th claim (one claim per request: the one-array entry),
    alone and coalesced, with the state stored in any of the forms it arrives in: none, a
    column built from a mapping (``state_of``), the previous result's (alone: a matrix of its
    own; coalesced: a column of the coalesced result), or a plain mapping of arrays. Both
    equal the batch of every claim at once."""
    from yibao.kernel.online import Request, settle_many, settle_one, state_of

    claims, persons, variant = batch
    t = tables(variant)
    whole = settle_claims(t, claims, persons)
    n_persons = len(persons.scheme)
    mine = [np.flatnonzero(claims.person == p) for p in range(n_persons)]
    alone_state: dict[int, Result] = {}
    together_state: dict[int, Result] = {}
    for r in range(max(len(m) for m in mine)):
        who = [p for p in range(n_persons) if r < len(mine[p])]
        requests = []
        for p in who:
            claim = take(claims, mine[p][r : r + 1])
            request = Request.of(
                replace(claim, person=np.zeros(1, np.int64)), take_person(persons, p)
            )
            requests.append(request)

        def stored(p: int, results: dict[int, Result]) -> State | None:
            if p not in results:
                return None
            state = results[p].state
            origin = origins[p % len(origins)]
            if origin == 1:
                return state_of(t, state.row(0))
            if origin == 2:
                return State({k: np.array(v) for k, v in state.values.items()})
            return state  # origin 0 or 3: as the kernel returned it

        alone = [
            settle_one(t, replace(q, state=stored(p, alone_state)))
            for p, q in zip(who, requests, strict=True)
        ]
        together = settle_many(
            t,
            [
                replace(q, state=stored(p, together_state))
                for p, q in zip(who, requests, strict=True)
            ],
        )
        for p, a, b in zip(who, alone, together, strict=True):
            i = mine[p][r]
            for name, column in whole.columns.items():
                if name.startswith(("ma_base:", "maf_pay:")) and name not in a.columns:
                    continue
                assert a.columns[name][0] == column[i], name
                assert b.columns[name][0] == column[i], name
            assert a.state.row(0) == b.state.row(0)
            alone_state[p], together_state[p] = a, b
    for p in range(n_persons):
        assert alone_state[p].state.row(0) == {k: int(v[p]) for k, v in whole.state.values.items()}


def test_one_claim_requests_built_from_values_and_refused_when_malformed() -> None:
    """``one_claim`` takes every field by name (an unknown or missing one is refused by name);
    the row is the claim's then the person's fields; a row of the wrong length is refused."""
    import pytest

    from yibao.kernel.columns import ROW_FIELDS
    from yibao.kernel.online import Request, one_claim, settle_many, settle_one, state_of

    t = tables(0)
    outpatient = MED_TYPES.index("outpatient")
    values = dict.fromkeys(ROW_FIELDS[1:], 0) | {
        "date": YEAR_START + 9,
        "total": 10_000,
        "med_type": outpatient,
    }
    request = one_claim(state_of(t, {"admissions": 2, "not.kept": 5}), **values)
    assert request.row.tolist() == [values.get(f, 0) for f in ROW_FIELDS] and len(request) == 1
    assert request.column("total").tolist() == [10_000]
    result = settle_one(t, request)
    assert result.state.values["not.kept"].tolist() == [5]  # passed through
    assert result.state.values["admissions"].tolist() == [2]  # an outpatient claim
    paid = sum(int(result.columns[k][0]) for k in ("fund_pay_sumamt", "acct_pay", "psn_cash_pay"))
    assert paid + int(result.columns["acct_mulaid_pay"][0]) == 10_000
    with pytest.raises(TypeError, match="unknown field nonsense"):
        one_claim(nonsense=1, **values)
    with pytest.raises(TypeError, match="missing field total"):
        one_claim(**{k: v for k, v in values.items() if k != "total"})
    with pytest.raises(ValueError, match="ROW_FIELDS"):
        settle_one(t, Request(request.row[:-1].copy()))
    with pytest.raises(KeyError, match="nonsense"):
        request.column("nonsense")
    cut = state_of(t, {})
    cut.values.matrix = cut.values.matrix[:3]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="fewer slots"):
        settle_one(t, replace(request, state=cut))
    with pytest.raises(ValueError, match="fewer slots"):
        settle_many(t, [replace(request, state=cut), replace(request, state=cut)])
    changed = request.replaced(total=20_000)
    assert changed.column("total").tolist() == [20_000] and request.column("total")[0] == 10_000


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, MAX_YEAR_FEN // MAX_FEN),
    st.integers(0, 2),
    st.integers(0, len(MED_TYPES) - 1),
    st.integers(0, 2),
    st.integers(0, 3),
    st.integers(0, len(AID_CLASSES) - 1),
    st.integers(0, MAX_FEN // 2),
    st.integers(0, 2),
    st.booleans(),
)
def test_claims_at_the_largest_amount_settle_without_overflow(
    n: int,
    scheme: int,
    med: int,
    level: int,
    cross: int,
    aid: int,
    excluded: int,
    variant: int,
    use_account: bool,
) -> None:
    """Up to a year's bound of claims at ``MAX_FEN`` for one person (policy.money: the kernel's
    products stay below 2^63): nothing negative, the identity holds, each capped layer pays
    exactly its cap over the year (the cost is far above every cap)."""
    t = tables(variant)
    full = np.full(n, 1, dtype=np.int64)
    claims = Claims(
        person=0 * full,
        date=YEAR_START + np.arange(n, dtype=np.int64) * 3,
        med_type=med * full,
        level=level * full,
        cross_region=cross * full,
        total=MAX_FEN * full,
        fully_self_paid=excluded * full,
        over_limit=0 * full,
        category_b=(MAX_FEN - excluded) // 4 * full,
        disease=-2 * full,  # not looked up: the chronic benefit alone (its cap is reached)
        listed_self_paid=0 * full,
    )
    one = np.ones(1, dtype=np.int64)
    persons = Persons(
        scheme * one, aid * one, MAX_FEN * one, np.array([use_account]), MAX_FEN * one,
        600_000 * one, YEAR_START * one, 0 * one, 0 * one, 0 * one, 0 * one,
    )  # fmt: skip
    r = settle_claims(t, claims, persons)
    c = r.columns
    for name, column in c.items():
        assert (column >= 0).all(), name
    for values in r.state.values.values():
        assert (values >= 0).all() and (values <= MAX_YEAR_FEN).all()
    funds = c["hifp_pay"] + c["hifmi_pay"] + c["hifob_pay"] + c["maf_pay"]
    assert np.array_equal(c["fund_pay_sumamt"], funds)
    paid = funds + c["acct_pay"] + c["acct_mulaid_pay"] + c["psn_cash_pay"]
    assert np.array_equal(paid, claims.total)
    versions = np.unique(t.version_of(claims.date))
    cap = t.annual_cap[versions, scheme, med].max()
    assert c["hifp_pay"].sum() == min(cap, c["basic_raw"].sum())
    vulnerable = int(t.ci_vulnerable[0, aid])
    ci_cap = t.ci_cap[versions, vulnerable].max()
    if scheme == 2 and c["ci_base"].sum() > 0 and ci_cap < UNCAPPED:
        assert c["hifmi_pay"].sum() == ci_cap + 600_000
    if scheme != 2 and (c["la_base"] > 0).any() and t.la_ratio[versions].min() > 0:
        assert c["hifob_pay"].sum() == t.la_cap[versions].max()


@settings(max_examples=25, deadline=None)
@given(
    scheme=st.sampled_from([s.value for s in BenefitScheme]),
    fen=st.integers(min_value=0, max_value=10**9),
)
def test_the_inpatient_cap_is_the_cap_of_its_whole_group(scheme: str, fen: int) -> None:
    """Setting only benefits.<scheme>.inpatient.basic.annual_cap sets the cap of every med type
    in its cap group (basic: inpatient, chronic, maternity); the outpatient group keeps its own."""
    yuan = f"{fen // 100}.{fen % 100:02d}"
    overlay = {"benefits": {scheme: {"inpatient": {"basic": {"annual_cap": float(yuan)}}}}}
    t = compile_tables(Policy("000000", overlays=[overlay]), 2025)
    s = SCHEMES.index(scheme)
    caps = {m: int(t.annual_cap[0, s, MED_TYPES.index(m)]) for m in MED_TYPES}
    assert caps["inpatient"] == caps["chronic"] == caps["maternity"] == fen
    national = {"employee": 2000_00, "retiree": 2000_00, "resident": 400_00}[scheme]
    assert caps["outpatient"] == caps["pharmacy"] == national


def test_a_claims_layers_do_not_depend_on_who_else_is_in_the_batch() -> None:
    """A non-recipient's claim settled alone and beside an aid recipient's lists the same
    layers (basic and critical illness, no assistance row); the recipient's lists every tier."""
    import datetime as dt

    from yibao.kernel.online import Request, settle_many
    from yibao.kernel.report import setl_detail
    from yibao.kernel.tables import AID_CLASSES, compile_tables, epoch_days
    from yibao.policy import Policy

    tables = compile_tables(Policy("360100"), 2025)

    def request(aid: str) -> Request:
        day = epoch_days(dt.date(2025, 5, 1))
        one = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
        return Request.of(
            Claims(
                one(0),
                one(day),
                one(0),
                one(1),
                one(0),
                one(1_900_000),
                one(0),
                one(0),
                one(0),
                one(-2),
                one(0),
            ),
            Persons(
                one(2),
                one(AID_CLASSES.index(aid)),
                one(0),
                np.array([False]),
                one(0),
                one(0),
                one(-(10**9)),
                one(0),
                one(0),
                one(0),
                one(0),
            ),
        )

    def layers(result_cols: dict[str, np.ndarray], aid: bool) -> list[str]:
        return [
            d["fund_pay_type"] for d in setl_detail(result_cols, 0, "resident", tables.n_tiers, aid)
        ]

    alone = settle_many(tables, [request("none")])[0]
    beside = settle_many(tables, [request("none"), request("dibao")])
    assert layers(alone.columns, False) == layers(beside[0].columns, False) == ["390100", "390200"]
    assert layers(beside[1].columns, True) == ["390100", "390200"] + ["610100"] * tables.n_tiers
