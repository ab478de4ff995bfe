"""A generated area's visits settled by the load (``yibao.services.area_load.settle``), on
SQLite and PostgreSQL: one settlement per visit through the kernel with each person's
year-to-date state carried, stored as 2207 stores it (answer, layers, balanced transaction,
state), the ledger and the funds' month totals reconciled, the same answers as the online
settlement gives for the same visits, and nothing settled twice."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, create_engine, text

from tests.store_support import *  # noqa: F403
from tests.test_funds_ops import assert_totals_kept
from yibao.domain.settlement import Claim
from yibao.services import demo, ledger
from yibao.services.area_load import load_area
from yibao.services.settlement import reverse, settle
from yibao.services.settlement.answer import answer_from_json
from yibao.store.models import SETTLEMENT_AMOUNTS
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

REGION, YEAR, PERSONS, CHUNK = "360100", 2025, 300, 120


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("area")
    generate(out, SynthConfig(REGION, PERSONS, YEAR, seed=11, chunk_size=CHUNK))
    return out


def _claims(area: Path) -> pa.Table:
    return pa.concat_tables(
        [pq.read_table(f) for f in sorted((area / "claims").glob("part-*.parquet"))]
    )


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_every_visit_settled_balanced_and_reconciled(engine: Engine, area: Path) -> None:
    report = load_area(area, engine, migrate=False)
    claims = _claims(area)
    n = claims.num_rows - report.claims_skipped
    assert report.settlements == n > 0
    ((visits, settled, layers_ok),) = _rows(
        engine,
        "SELECT (SELECT COUNT(*) FROM visits), (SELECT COUNT(*) FROM settlements "
        "WHERE status = 'settled'), (SELECT COUNT(*) FROM settlements s WHERE "
        "s.fund_pay_sumamt = (SELECT COALESCE(SUM(payment), 0) FROM settlement_layers l "
        "WHERE l.settlement_id = s.id))",
    )
    assert visits == settled == layers_ok == n
    # total = funds + account + mutual aid + cash, for every settlement (and the medical fees
    # are the visit's classified lines)
    rows = _rows(
        engine,
        "SELECT s.medfee_sumamt, s.fund_pay_sumamt, s.acct_pay, s.acct_mulaid_pay, "
        "s.psn_cash_pay, (SELECT SUM(amount) FROM fee_lines f WHERE f.visit_id = s.visit_id) "
        "FROM settlements s",
    )
    for total, funds, acct, mulaid, cash, lines in rows:
        assert total == funds + acct + mulaid + cash == lines
    # the ledger: every transaction balanced, every balance its postings; the month totals
    # kept as the ledger keeps them
    uow = UnitOfWork.for_engine(engine)
    assert ledger.reconcile(uow).ok
    assert_totals_kept(uow)
    # each settlement's transaction: funds, account and cash debited, the fees credited
    ((txn_sum,),) = _rows(
        engine,
        "SELECT COALESCE(SUM(p.amount), 0) FROM postings p JOIN settlements s "
        "ON s.transaction_id = p.transaction_id",
    )
    assert txn_sum == 0
    ((payable,),) = _rows(
        engine,
        "SELECT -SUM(balance) FROM accounts WHERE kind = 'institution_payable'",
    )
    assert payable == sum(r[0] for r in rows)
    # the persons' state: one row per person settled, counting their settlements
    states = _rows(engine, "SELECT person_id, settlements FROM benefit_states")
    per_person = _rows(engine, "SELECT person_id, COUNT(*) FROM settlements GROUP BY person_id")
    assert sorted(states) == sorted(per_person)
    # a second load settles nothing again
    again = load_area(area, engine, migrate=False)
    assert again.parts_skipped == again.parts and again.settlements == 0
    ((count,),) = _rows(engine, "SELECT COUNT(*) FROM settlements")
    assert count == n


def test_the_same_answers_as_the_online_settlement(engine: Engine, area: Path) -> None:
    """A person's loaded settlements reversed (2208, latest first) and settled again by the
    service (2207 on the same visits, in the same order) give the same amounts and layers."""
    load_area(area, engine, migrate=False)
    rows = _rows(
        engine,
        "SELECT s.person_id, s.setl_id, v.mdtrt_id, s.settled_on, s.response "
        "FROM settlements s JOIN visits v ON v.id = s.visit_id ORDER BY s.person_id, s.id",
    )
    by_person: dict[int, list[tuple[object, ...]]] = defaultdict(list)
    for r in rows:
        by_person[int(r[0])].append(r)
    # the persons with the most visits (their state carried furthest)
    chosen = sorted(by_person, key=lambda p: -len(by_person[p]))[:3]
    uow = UnitOfWork.for_engine(engine)
    checked = 0
    for pid in chosen:
        mine = sorted(by_person[pid], key=lambda r: (str(r[3]), str(r[1])))
        loaded = {}
        for _, _, mdtrt, _, response in mine:
            doc = response if isinstance(response, dict) else json.loads(str(response))
            loaded[str(mdtrt)] = answer_from_json(doc)
        for _, setl_id, *_ in reversed(mine):
            reverse(uow, str(setl_id))
        for _, _, mdtrt, _, _ in mine:
            first = loaded[str(mdtrt)]
            again = settle(
                uow,
                Claim(person=pid, date=first.date, total=0, mdtrt_id=str(mdtrt)),
            ).answer
            assert {a: again.amounts[a] for a in SETTLEMENT_AMOUNTS} == {
                a: first.amounts[a] for a in SETTLEMENT_AMOUNTS
            }, mdtrt
            assert again.layers == first.layers
            assert again.admission_no == first.admission_no
            checked += 1
    assert checked >= 6
    assert ledger.reconcile(uow).ok


def test_without_settlements(engine: Engine, area: Path, tmp_path: Path) -> None:
    copy = tmp_path / "area"
    shutil.copytree(area, copy)
    report = load_area(copy, engine, migrate=False, settlements=False)
    assert report.settlements == 0
    assert _rows(engine, "SELECT COUNT(*) FROM settlements") == [(0,)]


def test_the_demo_area_year_end_settles_institutions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``yibao demo``: the demo area's loaded stays are settled, so its DIP year-end finds them
    and settles every institution that had one (a database loaded before the load settled
    anything is loaded anew)."""
    monkeypatch.setenv(demo.DATA_ENV, str(tmp_path / "demo"))
    monkeypatch.setenv(demo.PERSONS_ENV, "400")
    prepared = demo.prepare_area()
    assert prepared.report.settlements > 0
    stays = _rows(
        create_engine(prepared.url),
        "SELECT v.fixmedins_code, COUNT(*) FROM visits v JOIN settlements s "
        "ON s.visit_id = v.id WHERE v.med_type IN ('inpatient', 'maternity') "
        "AND v.discharge_way IS NOT NULL GROUP BY v.fixmedins_code",
    )
    assert stays
    found = demo.dip_year_end(prepared.url)
    assert found is not None and found.posted
    assert found.cases == sum(int(str(n)) for _, n in stays)
    assert sorted(i.institution for i in found.institutions) == sorted(str(c) for c, _ in stays)
    assert found.point_value > 0 and found.total_points > 0
    # run once: a second call answers the stored year-end, posting nothing
    again = demo.dip_year_end(prepared.url)
    assert again is not None and not again.posted and again.point_value == found.point_value
    assert ledger.reconcile(UnitOfWork.for_url(prepared.url)).ok
    # a database of visits without settlements (loaded before) is loaded anew
    engine = create_engine(prepared.url)
    with engine.begin() as conn:
        for table in ("dip_settlements", "dip_runs", "settlement_layers"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE settlements SET transaction_id = NULL"))
        conn.execute(text("DELETE FROM settlements"))
    engine.dispose()
    reloaded = demo.prepare_area()
    assert reloaded.report.parts_loaded == reloaded.report.parts
    assert reloaded.report.settlements == prepared.report.settlements
