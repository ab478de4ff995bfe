"""``yibao presettle`` / ``settle`` of a registered visit with fee lines: the amounts come from
the lines (none given), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_api_fees import BILL, employee
from tests.test_store_commands import run
from yibao.services import fees
from yibao.services.settlement import register_visit
from yibao.store.uow import UnitOfWork


@pytest.mark.usefixtures("test_catalogue")
def test_settle_a_visit_from_its_lines(db_url: str, engine: Engine, uow: UnitOfWork) -> None:
    who = employee(uow)
    v = register_visit(
        UnitOfWork.for_engine(engine), who, "H1", "inpatient", 2, dt.date(2025, 5, 1)
    )
    fees.upload_lines(UnitOfWork.for_engine(engine), v.mdtrt_id, BILL)
    args = ("--person", who, "--mdtrt-id", v.mdtrt_id, "--date", "2025-05-03")
    pre = run(db_url, "presettle", *args)
    # as tests/test_api_fees.py: scope 10900.00, (10900.00 − 500.00) × 85% = 8840.00
    assert (pre["medfee_sumamt"], pre["inscp_scp_amt"], pre["hifp_pay"]) == (
        "12000.00",
        "10900.00",
        "8840.00",
    )
    refused = run(db_url, "settle", *args, "--fully-self-paid", "800", code=2)
    assert "fulamt_ownpay_amt" in refused["error"]
    done = run(db_url, "settle", *args, "--total", "12000")
    assert done["hifp_pay"] == "8840.00" and done["fee_lines"]["count"] == 3
