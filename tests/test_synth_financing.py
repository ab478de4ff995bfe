"""The financing of the critical illness, large-amount and medical assistance funds (rules.md §7)
on a loaded synthetic area whose claims are then settled: each fund's income is what the hand
computation says, its spending is what the settlements paid, and the ledger reconciles."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text

from tests.store_support import *  # noqa: F403
from yibao.domain.settlement import Claim
from yibao.services import ledger, settlement
from yibao.services.area_load import load_area
from yibao.services.payments import month_bounds
from yibao.services.settlement import ClaimRequest
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

REGION, YEAR, PERSONS = "360100", 2025, 240
# 2025 national defaults inherited by 360100 (000000.yaml): resident individual 400 + fiscal
# subsidy 700 yuan, 10% of it to critical illness; 3 yuan per insured employee-month to the
# large-amount fund; 800 yuan per aid recipient to medical assistance. Dibao pays 60% of 400.
CRITICAL_PER_RESIDENT = (400_00 + 700_00) * 10 // 100
LARGE_PER_MONTH = 3_00
ASSISTANCE_PER_RECIPIENT = 800_00
ASSISTANCE_SHARE = {
    "tekun": 400_00,
    "dibao": 400_00 * 6 // 10,
    "monitored": 400_00 * 6 // 10,
    "low_income_edge": 0,
    "ill_poor": 0,
}


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("financed")
    generate(out, SynthConfig(REGION, PERSONS, YEAR, seed=5, chunk_size=PERSONS))
    return out


def _table(area: Path, what: str) -> pa.Table:
    return pa.concat_tables(
        [pq.read_table(f) for f in sorted((area / what).glob("part-*.parquet"))]
    )


def _claims(area: Path) -> list[ClaimRequest]:
    nid = dict(
        zip(
            _table(area, "persons").column("psn_no").to_pylist(),
            _table(area, "persons").column("national_id").to_pylist(),
            strict=True,
        )
    )
    requests = []
    for c in _table(area, "claims").to_pylist():
        claim = Claim(
            person=nid[c["psn_no"]],
            date=c["date"],
            total=c["total"],
            med_type=c["med_type"],
            level=c["level"],
            fully_self_paid=c["fully_self_paid"],
            over_limit=c["over_limit"],
            category_b=c["category_b"],
            cross_region=c["cross_region"],
            fixmedins_code=c["fixmedins_code"],
        )
        requests.append(ClaimRequest(claim, f"claim-{c['claim_id']}"))
    return requests


def _flows(engine: Engine, kind: str) -> tuple[int, int]:
    """(income, spending) of the area's fund account of ``kind``: its credits and debits."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT COALESCE(SUM(CASE WHEN p.amount < 0 THEN -p.amount ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN p.amount > 0 THEN p.amount ELSE 0 END), 0) "
                "FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.code = :code"
            ),
            {"code": f"{kind}:{REGION}"},
        ).one()
    return int(row[0]), int(row[1])


def _paid(engine: Engine, column: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT COALESCE(SUM({column}), 0) FROM settlements WHERE status = 'settled'")
            ).scalar_one()
        )


def test_funds_financed_and_settled(engine: Engine, uow: UnitOfWork, area: Path) -> None:
    report = load_area(area, engine, migrate=False, settlements=False)
    requests = _claims(area)
    for i in range(0, len(requests), 200):
        outcomes = settlement.settle_many(uow, requests[i : i + 200])
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert not refused, refused[:3]

    persons = _table(area, "persons").to_pylist()
    residents = [p for p in persons if p["scheme"] == "resident"]
    months = 0  # insured employee-months: 12 a retiree, from the month of hire for the others
    for p in persons:
        if p["scheme"] == "retiree":
            months += 12
        elif p["scheme"] in ("employee", "flexible"):
            months += sum(
                1 for m in range(1, 13) if month_bounds(dt.date(YEAR, m, 1))[1] >= p["enrolled_on"]
            )
    aid = [p["assistance_class"] for p in persons if p["assistance_class"]]
    assert residents and months and aid

    critical_in, critical_out = _flows(engine, "critical_illness")
    assert critical_in == len(residents) * CRITICAL_PER_RESIDENT
    assert critical_out == _paid(engine, "hifmi_pay")

    large_in, large_out = _flows(engine, "large_amount")
    assert large_in == months * LARGE_PER_MONTH
    assert large_out == _paid(engine, "hifob_pay")

    assistance_in, assistance_out = _flows(engine, "medical_assistance")
    assert assistance_in == len(aid) * ASSISTANCE_PER_RECIPIENT
    assert report.assistance_allocation == assistance_in
    # spending: the contribution shares it paid for aid recipients, and the settlements' tiers
    assert assistance_out == sum(ASSISTANCE_SHARE[a] for a in aid) + _paid(engine, "maf_pay")

    # the resident and employee pooling funds gave up exactly those shares
    resident_in, _ = _flows(engine, "resident_pooling")
    assert resident_in == len(residents) * (400_00 + 700_00 - CRITICAL_PER_RESIDENT)

    check = ledger.reconcile(uow)
    assert check.ok, check.as_dict()

    # loading again posts nothing more (the allocation is once per area and year)
    again = load_area(area, engine, migrate=False, settlements=False)
    assert again.transactions == 0 and _flows(engine, "medical_assistance")[0] == assistance_in


# ------------------------------------------------- opening balances and past coverage (17b)


def test_opening_balances_and_history(engine: Engine, uow: UnitOfWork, area: Path) -> None:
    """A loaded area is right from day one: each personal account holds its generated balance
    (brought in at 1 January plus the year's credits), the opening transactions balance against
    the area's opening_balance account, the coverage history is the generated one, and the
    waiting periods the services derive from it are the generator's."""
    report = load_area(area, engine, migrate=False, settlements=False)
    persons = {p["national_id"]: p for p in _table(area, "persons").to_pylist()}
    with engine.connect() as conn:
        credits = dict(
            conn.execute(
                text(
                    "SELECT p.national_id, SUM(c.account_credit) FROM contributions c "
                    "JOIN persons p ON p.id = c.person_id GROUP BY p.national_id"
                )
            ).all()
        )
        balances = dict(
            conn.execute(
                text(
                    "SELECT p.national_id, -a.balance FROM accounts a "
                    "JOIN persons p ON p.id = a.person_id"
                )
            ).all()
        )
        past = {
            (n, int(y)): (s, int(c))
            for n, y, s, c in conn.execute(
                text(
                    "SELECT p.national_id, c.year, c.status, c.continuous_years "
                    f"FROM coverage_years c JOIN persons p ON p.id = c.person_id "
                    f"WHERE c.year < {YEAR}"
                )
            )
        }
        opening = dict(
            conn.execute(
                text("SELECT code, balance FROM accounts WHERE kind = 'opening_balance'")
            ).all()
        )

    brought = 0
    for nid_, p in persons.items():
        if p["scheme"] == "resident":
            assert nid_ not in balances
            continue
        credited = int(credits.get(nid_, 0))
        if p["enrolled_on"] < dt.date(YEAR, 1, 1):  # an account from before the year
            assert balances[nid_] == max(p["account_balance"], credited), nid_
            brought += balances[nid_] - credited
        else:
            assert balances.get(nid_, 0) == credited, nid_
    assert brought > 0 and report.opening_total == brought
    assert opening == {f"opening_balance:{REGION}": brought}  # debit-side: equity brought in

    rows = 0
    for nid_, p in persons.items():
        for j, ch in enumerate(p["coverage_history"]):
            y = YEAR - 10 + j
            want = {"1": "insured", "0": "lapsed", "-": None}[ch]
            got = past.get((nid_, y))
            assert (got[0] if got else None) == want, (nid_, y)
            rows += want is not None
        if p["scheme"] == "resident" and p["continuous_years"] and (nid_, YEAR - 1) in past:
            assert past[(nid_, YEAR - 1)] == ("insured", p["continuous_years"])
    assert rows == len(past) == report.history_years

    # the waiting periods the settlement service derives equal the generated ones
    from yibao.api.http.handlers_statements import entitlement

    checked = 0
    with uow:
        for nid_, p in persons.items():
            if p["scheme"] != "resident" or p["entitled_from"] is None:
                continue
            person = uow.persons.require(nid_)
            e = entitlement(uow, person, dt.date(YEAR, 12, 31))
            assert e["entitled_from"] == p["entitled_from"].isoformat(), (nid_, e)
            checked += 1
    assert checked > 0
    assert ledger.reconcile(uow).ok


def _summary(
    history: str, scheme: str, contrib: int | None, cont: int, rep: int, zero: int
) -> tuple[str, int]:
    """``past_years`` as one letter per row, oldest first: R/E an insured year of the resident or
    employee scheme, z a zero-claim year (fund_paid 0), l a lapsed year, p a repaired one; and the
    insured years before the first row."""
    from yibao.services.area_load.generated import PAST_FUND_PAID, past_years

    years, before = past_years(history, YEAR, scheme, contrib, cont, rep, zero)
    out = ""
    for y in years:
        if not y.insured:
            out += "p" if y.repaired else "l"
        elif y.zero_claim:
            assert y.fund_paid == 0
            out += "z"
        else:
            assert y.fund_paid == PAST_FUND_PAID
            out += "E" if y.scheme.value == "employee" else "R"
    assert [y.year for y in years] == list(range(YEAR - len(years), YEAR))
    return out, before


@pytest.mark.parametrize(
    ("history", "scheme", "contrib", "cont", "rep", "zero", "want"),
    [
        # insured 14 years: ten rows, the 3 latest zero-claim, 14 - 10 = 4 years before them
        ("1111111111", "resident", None, 14, 0, 3, ("RRRRRRRzzz", 4)),
        # born in Y-4: rows from Y-4 only; the run is the whole spell
        ("------1111", "resident", None, 4, 0, 0, ("RRRR", 0)),
        # a returner: lapsed the last 5 years (the 2 latest repaired) after a 4-year spell
        ("0111100000", "resident", None, 0, 2, 0, ("lRRRRlllpp", 0)),
        # in service for 3 years, a resident before
        ("1111111111", "employee", 3, 3, 0, 0, ("RRRRRRREEE", 0)),
        # a retiree with 30 contribution years
        ("1111111111", "retiree", 30, 30, 0, 0, ("EEEEEEEEEE", 20)),
    ],
)
def test_past_years(
    history: str,
    scheme: str,
    contrib: int | None,
    cont: int,
    rep: int,
    zero: int,
    want: tuple[str, int],
) -> None:
    assert _summary(history, scheme, contrib, cont, rep, zero) == want


@pytest.mark.parametrize(
    ("balance", "credits", "enrolled_on", "opening"),
    [
        (5000_00, 1920_00, dt.date(2019, 3, 1), 5000_00 - 1920_00),
        (1000_00, 1920_00, dt.date(2019, 3, 1), 0),  # pledged to relatives: never negative
        (800_00, 800_00, dt.date(YEAR, 5, 3), 0),  # an account opened in the year
    ],
)
def test_opening_balance(balance: int, credits: int, enrolled_on: dt.date, opening: int) -> None:
    from yibao.services.area_load.generated import opening_balance

    assert opening_balance(balance, credits, enrolled_on, YEAR) == opening
