"""The transaction envelope: answers, error codes, idempotent msgid; no request gets a 500 with
a stack trace. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import TX, Api
from tests.store_support import nid
from yibao.api.http import tx as tx_module
from yibao.services import enrolment, registry
from yibao.store.api_models import AuditRow, TxResponseRow
from yibao.store.uow import UnitOfWork


def _enrolled(uow: UnitOfWork, n: int = 1) -> str:
    p = registry.add_person(uow, nid(n), "王五", region="360100")
    enrolment.enrol(uow, p.label, "resident", "360100", dt.date(2025, 1, 1))
    return p.label


def test_1101_person_and_coverage(api: Api, uow: UnitOfWork) -> None:
    number = _enrolled(uow)
    inst = api.institution()
    out = api.tx(inst, "1101", {"certno": number, "date": "2025-06-01"}, msgid="abc-1")
    assert out["_status"] == 200
    assert (out["infcode"], out["inf_refmsgid"], out["err_msg"]) == (0, "abc-1", None)
    o = out["output"]
    assert o["baseinfo"]["gend"] == "F" or o["baseinfo"]["gend"] == "M"
    assert o["insuinfo"][0]["insutype"] == "resident"
    assert o["insuinfo"][0]["psn_insu_stas"] == "active"
    assert o["covered_on_date"] is True
    by_psn_no = api.tx(inst, "1101", {"psn_no": o["baseinfo"]["psn_no"]})
    assert by_psn_no["output"]["insuinfo"] == o["insuinfo"]


@pytest.mark.parametrize(
    ("body", "status", "infcode", "words"),
    [
        (b"not json", 400, 1001, "malformed"),
        (b"[]", 400, 1001, "malformed"),
        (b'{"infno": "1101"}', 400, 1001, "msgid"),
        (
            b'{"infno": "99", "msgid": "m", "fixmedins_code": "H36010001", "opter": "o", '
            b'"inf_time": "t", "input": {}}',
            400,
            1001,
            "infno",
        ),
        (
            b'{"infno": "9999", "msgid": "m", "fixmedins_code": "H36010001", "opter": "o", '
            b'"inf_time": "t", "input": {}}',
            400,
            1002,
            "9999",
        ),
    ],
)
def test_malformed_envelopes(api: Api, body: bytes, status: int, infcode: int, words: str) -> None:
    inst = api.institution()
    r = api.client.post(TX, content=body, headers=api.signed(inst, TX, body))
    assert r.status_code == status
    out = r.json()
    assert set(out) == {"infcode", "inf_refmsgid", "err_msg", "output"}
    assert out["infcode"] == infcode
    assert words in out["err_msg"]


@pytest.mark.parametrize(
    ("data", "infcode", "words"),
    [
        ({}, 1003, "input.psn_no: missing"),
        ({"certno": "123"}, 1003, "input.certno"),
        ({"certno": 360426198506150019}, 1003, "input.certno"),
        ({"psn_no": "abc"}, 1003, "input.psn_no"),
        ({"psn_no": "424242"}, 3001, "not found"),
        ({"certno": nid(1), "date": "2025-13-01"}, 1003, "input.date"),
    ],
)
def test_input_errors_name_the_field(
    api: Api, uow: UnitOfWork, data: dict[str, Any], infcode: int, words: str
) -> None:
    _enrolled(uow)
    out = api.tx(api.institution(), "1101", data)
    assert (out["_status"], out["infcode"]) == (200, infcode), out
    assert words in out["err_msg"]
    assert out["output"] is None


def test_same_msgid_returns_the_first_answer(api: Api, uow: UnitOfWork, engine: Engine) -> None:
    number = _enrolled(uow)
    inst = api.institution()
    first = api.tx(inst, "1101", {"certno": number}, msgid="dup-1")
    # the same msgid with another input: still the first answer
    again = api.tx(inst, "1101", {"certno": nid(7)}, msgid="dup-1")
    assert again == first
    refused = api.tx(inst, "1101", {"certno": nid(7)}, msgid="dup-2")
    assert refused["infcode"] == 3001
    assert api.tx(inst, "1101", {"certno": number}, msgid="dup-2") == refused
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(TxResponseRow)) == 2
    # msgids are per caller: another institution's dup-1 is its own
    other = api.institution("H36010002")
    assert api.tx(other, "1101", {"certno": nid(7)}, msgid="dup-1")["infcode"] == 3001


def test_internal_error_is_an_envelope_without_a_trace(
    api: Api, uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_ctx: Any, _data: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setitem(tx_module.HANDLERS, "1101", boom)
    inst = api.institution()
    out = api.tx(inst, "1101", {"certno": nid(1)}, msgid="boom-1")
    assert (out["_status"], out["infcode"]) == (500, -1)
    assert "secret internals" not in out["err_msg"] and "Traceback" not in out["err_msg"]
    assert "reference" in out["err_msg"]
    # not stored: the retry runs again
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(TxResponseRow)) == 0
        assert s.scalar(select(func.count()).select_from(AuditRow)) >= 1


def test_unknown_route_and_method(api: Api) -> None:
    r = api.client.get("/nope")
    assert r.status_code == 404 and r.json()["infcode"] == 3001
    r = api.client.get(TX)
    assert r.status_code == 405 and r.json()["infcode"] == 1001


def test_openapi_docs(api: Api) -> None:
    assert api.client.get("/docs").status_code == 200
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/api/v1/tx" in paths
