"""Dated group tables in the store (SQLite and PostgreSQL): a loaded DIP table and a DRG table
read back row for row, the table in force by day, a reload of the same day replacing it; DIP
groups and DRG weights built from a small generated area (``--area``) and stored by the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403
from tests.test_store_settlement import resident
from yibao.cli import app
from yibao.domain.fees import Diagnosis, Procedure
from yibao.domain.settlement import Claim
from yibao.policy import Policy
from yibao.policy.group_tables import GroupTableError, parse_csv, read_table, shipped_drg_table
from yibao.services import provider_payment as pp
from yibao.services import settlement
from yibao.services.fees import clinical
from yibao.store.repositories.payment_groups import PaymentGroupRepository
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

DIP = (
    "code,kind,score,avg_cost,cases\nI21:36.07,core,883.9286,25000.50,31\n"
    "chapter:X,,446.4286,8000,\nF20:bed,per_diem,30,,\n"
)


def test_a_loaded_table_reads_back_and_the_latest_from_a_day_is_in_force(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    path = tmp_path / "dip.csv"
    path.write_text(DIP, encoding="utf-8")
    first = pp.load_file(uow, path, "dip", "360100", dt.date(2025, 1, 1))
    assert (first.source, first.groups, first.detail) == ("loaded", 3, "dip.csv")
    table, rows = pp.table_in_force(uow, "dip", "360100", dt.date(2025, 6, 30))
    assert table is not None and table.id == first.id
    assert rows == parse_csv(DIP, "dip")
    assert pp.table_in_force(uow, "dip", "360100", dt.date(2024, 12, 31)) == (None, [])
    assert pp.table_in_force(uow, "dip", "110000", dt.date(2025, 6, 30)) == (None, [])
    # the same day again: replaced, not added
    path.write_text(DIP.replace("883.9286", "900"), encoding="utf-8")
    again = pp.load_file(uow, path, "dip", "360100", dt.date(2025, 1, 1))
    _, rows = pp.table_in_force(uow, "dip", "360100", dt.date(2025, 6, 30))
    assert rows[0].score == 9_000_000
    with uow:
        assert [t.id for t in PaymentGroupRepository(uow.session).tables("dip", "360100")] == [
            again.id
        ]


def test_a_drg_table_round_trips_and_without_one_the_shipped_table_serves(
    uow: UnitOfWork,
) -> None:
    shipped = shipped_drg_table("000000")
    assert shipped is not None
    table, rows = pp.table_in_force(uow, "drg", "360100", dt.date(2025, 1, 1))
    assert table is None and rows == read_table(shipped, "drg")
    stored = pp.load_file(uow, shipped, "drg", "360100", dt.date(2025, 1, 1))
    table, back = pp.table_in_force(uow, "drg", "360100", dt.date(2025, 1, 1))
    assert table == stored and back == rows


def test_a_bad_file_stores_nothing(uow: UnitOfWork, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("code,score,avg_cost\nG1,1,1\nG2,x,1\n", encoding="utf-8")
    with pytest.raises(GroupTableError, match="line 3: score"):
        pp.load_file(uow, path, "dip", "360100", dt.date(2025, 1, 1))
    assert pp.table_in_force(uow, "dip", "360100", dt.date(2025, 1, 1)) == (None, [])
    with pytest.raises(GroupTableError, match="region"):
        pp.load_file(uow, path, "dip", "36", dt.date(2025, 1, 1))


def test_an_empty_store_has_no_cases_to_build_from(uow: UnitOfWork) -> None:
    cases = pp.store_cases(uow, [2023, 2024], "360100")
    assert len(cases) == 0
    with pytest.raises(GroupTableError, match="no discharged cases"):
        pp.save_built(uow, "dip", "360100", dt.date(2025, 1, 1), [2024], [])


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("area")
    generate(out, SynthConfig("360100", 3000, 2024, seed=3, chunk_size=3000))
    return out


def test_groups_built_from_a_generated_area_by_the_cli(
    db_url: str, area: Path, tmp_path: Path
) -> None:
    claims = pq.read_table(area / "claims" / "part-00000.parquet")
    stays = claims.filter(pc.is_valid(claims["discharge_status"]))
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["dip", "build", "--years", "2024", "--area", str(area), "--region", "360100",
         "--db", db_url, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cases"] == len(stays)
    _, rows = pp.table_in_force(UnitOfWork.for_url(db_url), "dip", "360100", dt.date(2025, 1, 1))
    # every stay (all synthetic diagnoses are ICD-10) is in exactly one group
    assert sum(r.cases or 0 for r in rows) == len(stays)
    assert all(r.score and r.score > 0 for r in rows)
    result = runner.invoke(
        app,
        ["drg", "build", "--years", "2024", "--area", str(area), "--region", "360100",
         "--db", db_url, "--csv", str(tmp_path / "drg.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    built = read_table(tmp_path / "drg.csv", "drg")
    assert sum(r.cases or 0 for r in built if r.level == "drg") == len(stays)


def _stay(
    uow: UnitOfWork,
    who: str,
    total: int,
    on: dt.date,
    institution: str,
    diag: list[str],
    proc: str | None,
    key: str,
) -> None:
    """A one-day stay: registered (2201), discharged (2402), then settled."""
    visit = settlement.register_visit(uow, who, institution, "inpatient", 2, on)
    clinical.discharge(
        uow,
        visit.mdtrt_id,
        on,
        "1",
        [Diagnosis(c, principal=i == 0) for i, c in enumerate(diag)],
        [Procedure(proc, main=True)] if proc else None,
    )
    settlement.settle(uow, Claim(person=who, date=on, total=total, mdtrt_id=visit.mdtrt_id), key)


def test_groups_built_from_the_stores_discharged_visits(db_url: str, uow: UnitOfWork) -> None:
    # Four discharged stays of residents in 2025 (costs 3000, 5000, 1000 and 2000 yuan) and one
    # never discharged (left out). min_cases 2 (overlay): I21:36.07 (3000, 5000) is a core group
    # of average 4000; J18 and J20 (1000, 2000) fall into chapter X, average 1500; all average
    # 2750. Scores 4000/2750 × 1000 = 1454.5455 and 1500/2750 × 1000 = 545.4545.
    people = [resident(uow, n) for n in (3, 5, 7, 9, 11)]
    _stay(uow, people[0], 300_000, dt.date(2025, 5, 1), "H1", ["I21", "I10"], "36.07", "a")
    _stay(uow, people[1], 500_000, dt.date(2025, 6, 1), "H2", ["I21"], "36.07", "b")
    _stay(uow, people[2], 100_000, dt.date(2025, 7, 1), "H1", ["J18"], None, "c")
    _stay(uow, people[3], 200_000, dt.date(2025, 8, 1), "H1", ["J20"], None, "d")
    settlement.settle(
        uow,
        Claim(person=people[4], date=dt.date(2025, 9, 1), total=900_000, med_type="inpatient",
              level=2, fixmedins_code="H1"),
        "e",
    )  # fmt: skip
    cases = pp.store_cases(uow, [2025], "360100")
    assert len(cases) == 4
    assert sorted(cases.cost.tolist()) == [100_000, 200_000, 300_000, 500_000]
    assert cases.diagnoses.to_pylist()[0] == ["I21", "I10"]
    policy = Policy("000000", overlays=[{"provider_payment": {"dip": {"min_cases": 2}}}])
    rows = pp.dip_rows(cases, [2025], policy, dt.date(2025, 1, 1))
    got = {r.code: (r.kind, r.score, r.avg_cost, r.cases) for r in rows}
    assert got == {
        "I21:36.07": ("core", 14_545_455, 400_000, 2),
        "chapter:X": ("comprehensive", 5_454_545, 150_000, 2),
    }
