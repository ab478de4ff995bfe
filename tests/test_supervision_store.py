"""The year's supervision rules over the store (SQLite and PostgreSQL), with data made through
the API (2201, 2204, 2402): a readmission for the same principal diagnosis is found with the
earlier admission as evidence, a duplicated line with its serial; the findings are recorded
once (a rerun adds none); an admission for another diagnosis is a near miss."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, Inst
from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.test_api_fees import AREA, employee, line
from yibao.cli import app
from yibao.services.supervision import findings
from yibao.services.supervision.store_run import supervise_store
from yibao.store.uow import UnitOfWork

pytestmark = pytest.mark.usefixtures("test_catalogue")


def admission(api: Api, inst: Inst, who: str, begin: str, end: str, diag: str) -> str:
    out = api.tx(
        inst,
        "2201",
        {
            "certno": who,
            "med_type": "inpatient",
            "begntime": begin,
            "diseinfo": [{"diag_code": diag, "maindiag_flag": "1"}],
        },
    )
    assert out["infcode"] == 0, out
    mdtrt_id: str = out["output"]["mdtrt_id"]
    bill = [line("1", "001101000010000", "1", "100.00", begin)]
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": bill})["infcode"] == 0
    done = api.tx(inst, "2402", {"mdtrt_id": mdtrt_id, "dscg_date": end, "dscg_way": "1"})
    assert done["infcode"] == 0, done
    return mdtrt_id


def test_split_admission_and_duplicate_from_the_store(
    api: Api, uow: UnitOfWork, db_url: str
) -> None:
    who = employee(uow)
    inst = api.institution()
    admission(api, inst, who, "2025-05-01", "2025-05-05", "I21.000")
    admission(api, inst, who, "2025-05-12", "2025-05-15", "I21.000")  # 7 days later: fires
    admission(api, inst, who, "2025-05-20", "2025-05-22", "K35.800")  # another diagnosis
    out = api.tx(inst, "2201", {"certno": who, "med_type": "outpatient", "begntime": "2025-06-01"})
    twice = [line("a", "XC03", "1", "8", "2025-06-01"), line("b", "XC03", "1", "8", "2025-06-01")]
    mdtrt = out["output"]["mdtrt_id"]
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt, "feedetail": twice})["infcode"] == 0

    evidence, n_lines, n_visits = supervise_store(UnitOfWork.for_engine(api.engine), AREA, 2025)
    assert (n_lines, n_visits) == (5, 4)
    rows = evidence.to_pylist()
    split = [r for r in rows if r["rule"] == "split_admission"]
    assert len(split) == 1 and split[0]["other_claim_id"] < split[0]["claim_id"]
    dup = [r for r in rows if r["rule"] == "duplicate_item"]
    assert [(r["feedetl_sn"], r["amount"]) for r in dup] == [("b", 800)]
    run = CliRunner().invoke
    cli = run(app, ["supervise", "--year", "2025", "--area", AREA, "--db", db_url, "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)["recorded"] == len({(r["rule"], r["claim_id"]) for r in rows})
    assert findings.record(UnitOfWork.for_engine(api.engine), evidence, AREA, 2025) == 0
    assert supervise_store(UnitOfWork.for_engine(api.engine), AREA, 2024)[2] == 0


def test_the_store_run_reads_the_death_date_and_records_in_bulk(
    api: Api, uow: UnitOfWork, db_url: str
) -> None:
    """Every piece of evidence of a small year, by hand: a split admission (the earlier one as
    evidence, the claim's total as amount), an outpatient visit after the registry's date of
    death (dead_or_uninsured; the visit on the day of death is a near miss); recorded in bulk
    once, each finding with its evidence."""
    import datetime as dt

    from yibao.services import registry

    who = employee(uow)
    inst = api.institution()
    first = admission(api, inst, who, "2025-05-01", "2025-05-05", "I21.000")
    second = admission(api, inst, who, "2025-05-12", "2025-05-15", "I21.000")
    days = []
    for day in ("2025-06-01", "2025-06-02"):
        out = api.tx(inst, "2201", {"certno": who, "med_type": "outpatient", "begntime": day})
        bill = [line("1", "XC03", "2", "8", day)]
        assert (
            api.tx(inst, "2204", {"mdtrt_id": out["output"]["mdtrt_id"], "feedetail": bill})[
                "infcode"
            ]
            == 0
        )
        days.append(out["output"]["mdtrt_id"])
    registry.record_death(uow, who, dt.date(2025, 6, 1), actor="cli:test")
    with uow:
        ids = {v.mdtrt_id: v.id for v in uow.settlements.visits([first, second, *days]).values()}
    evidence, n_lines, n_visits = supervise_store(UnitOfWork.for_engine(api.engine), AREA, 2025)
    assert (n_lines, n_visits) == (4, 4)
    got = sorted(
        (r["rule"], r["claim_id"], r["feedetl_sn"], r["other_claim_id"], r["amount"])
        for r in evidence.to_pylist()
    )
    assert got == sorted(
        [
            ("split_admission", ids[second], None, ids[first], 10000),
            ("dead_or_uninsured", ids[days[1]], None, -1, 1600),
        ]
    )
    assert findings.record(UnitOfWork.for_engine(api.engine), evidence, AREA, 2025) == 2
    assert findings.record(UnitOfWork.for_engine(api.engine), evidence, AREA, 2025) == 0
    with uow:
        stored = {f.rule: f for f in uow.supervision.find(area=AREA, year=2025)}
        assert stored["split_admission"].claim_ref == str(ids[second])
        assert stored["dead_or_uninsured"].amount == 1600
        pieces = uow.supervision.evidence(stored["split_admission"].id)
        assert [(e.line_sn, e.other_claim_ref, e.amount) for e in pieces] == [
            (None, str(ids[first]), 10000)
        ]
