"""Visits, fee lines and discharges through the batcher (``api.serving.batch``), on SQLite and
PostgreSQL. A signed 2201, 2204, 2205 or 2402 of an institution is answered in a batch's
transaction (registrations and uploads together, cancellations and discharges each in a
savepoint); it answers exactly as the ``POST /api/v1/tx`` route does (the same answers, error
codes, stored rows, stored answers and audit entries: a table of good and bad requests sent
through both paths for twin persons), and a refused request in a batch stores nothing while the
others of the batch are stored."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403  (fixtures: api, db_url, engine, uow)
from tests.api_support import Api, Inst, fast_path_settled, route_only
from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.store_support import nid
from tests.test_api_fees import BILL, employee, line
from yibao.api.http.auth import SignedRequest
from yibao.api.http.tx import TxRequest
from yibao.api.serving.batch import SignedTx, settle_batch
from yibao.store.api_models import AuditRow, TxResponseRow
from yibao.store.fee_models import FeeLineRow
from yibao.store.models import VisitRow
from yibao.store.uow import UnitOfWork

pytestmark = pytest.mark.usefixtures("test_catalogue")

UNKNOWN = nid(90, dt.date(1990, 1, 1))  # a national ID nobody holds
NEW_LINE = [line("4", "XC03", "1", "5")]

#: (institution, infno, input) in order; "{certno}" and "{visit}" are the path's twin and the
#: visit its first 2201 registered. "B" is another institution.
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("A", "2201", {"certno": "{certno}", "med_type": "inpatient", "begntime": "2025-05-01",
                   "diseinfo": [{"diag_code": "I21.000", "maindiag_flag": "1"}]}),
    ("A", "2201", {"certno": "{certno}", "med_type": "inpatient", "begntime": "2099-01-01"}),
    ("A", "2201", {"certno": UNKNOWN, "med_type": "inpatient", "begntime": "2025-05-01"}),
    ("A", "2201", {"certno": "{certno}", "med_type": "inpatient", "begntime": "2025-05-01",
                   "level": 3}),
    ("A", "2201", {"certno": "{certno}", "begntime": "2025-05-01"}),
    ("A", "2201", {"certno": "{certno}", "med_type": "inpatient", "begntime": "2025-05-01",
                   "diseinfo": [{"diag_code": "XYZ"}]}),
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": BILL}),
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": [line("4", "ZZ99", "1", "1")]}),
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": [line("4", "XC03", "-1", "1")]}),
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": [line("4", "XC03", "1", "1",
                                                              day="2025-04-30")]}),
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": BILL}),  # serials used
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": "lines"}),
    ("A", "2204", {"mdtrt_id": "V-NOPE", "feedetail": NEW_LINE}),
    ("B", "2204", {"mdtrt_id": "{visit}", "feedetail": NEW_LINE}),  # not theirs
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": NEW_LINE}),
    ("A", "2205", {"mdtrt_id": "{visit}", "feedetl_sn": ["3"]}),
    ("A", "2205", {"mdtrt_id": "{visit}", "feedetl_sn": ["99"]}),
    ("B", "2205", {"mdtrt_id": "{visit}"}),
    ("A", "2402", {"mdtrt_id": "{visit}", "dscg_date": "2025-05-06", "dscg_way": "7"}),
    ("A", "2402", {"mdtrt_id": "{visit}", "dscg_date": "2025-05-01", "dscg_way": "1"}),
    ("B", "2402", {"mdtrt_id": "{visit}", "dscg_date": "2025-05-06", "dscg_way": "1"}),
    ("A", "2402", {"mdtrt_id": "{visit}", "dscg_date": "2025-05-06", "dscg_way": "1"}),
    ("A", "2207", {"certno": "{certno}", "mdtrt_id": "{visit}", "date": "2025-05-06"}),
    ("A", "2204", {"mdtrt_id": "{visit}", "feedetail": [line("5", "XC03", "1", "1")]}),
]  # fmt: skip

_ID = re.compile(r"\b[VSR][0-9A-F]{24}\b")
_PSN = re.compile(r'"psn_no":"[0-9]+"')


def _filled(data: dict[str, Any], certno: str, visit: str | None) -> dict[str, Any]:
    text = orjson.dumps(data).decode().replace("{certno}", certno)
    return dict(orjson.loads(text.replace("{visit}", visit or "V-NONE")))


def _plain(value: Any, certno: str, tag: str) -> str:
    """``value`` as JSON text without what differs between twins: ids, msgids, person numbers,
    the national ID (plain or masked)."""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = text.replace(f'"{tag}-', '"msgid-')
    text = text.replace(certno, "<certno>").replace(certno[:6] + "*" * 8 + certno[-4:], "<certno>")
    return _PSN.sub('"psn_no":"<psn>"', _ID.sub("<id>", text))


def _run(via: Api, insts: dict[str, Inst], certno: str, tag: str) -> tuple[list[str], str]:
    """Send the table through ``via``; the answers (as ``_plain`` text) and the visit."""
    answers, visit = [], None
    for i, (who, infno, data) in enumerate(REQUESTS):
        got = via.tx(insts[who], infno, _filled(data, certno, visit), msgid=f"{tag}-{i}")
        if infno == "2201" and got["infcode"] == 0 and visit is None:
            visit = got["output"]["mdtrt_id"]
        answers.append(_plain(got, certno, tag))
    assert visit is not None
    return answers, visit


def _stored(engine: Engine, visit: str, tag: str, certno: str) -> dict[str, Any]:
    """What the path stored: the visit, its lines, the answers and audit entries of its
    msgids."""
    with Session(engine) as s:
        v = s.scalars(select(VisitRow).where(VisitRow.mdtrt_id == visit)).one()
        lines = s.scalars(
            select(FeeLineRow).where(FeeLineRow.visit_id == v.id).order_by(FeeLineRow.id)
        ).all()
        answers = s.scalars(
            select(TxResponseRow)
            .where(TxResponseRow.msgid.like(f"{tag}-%"))
            .order_by(TxResponseRow.msgid)
        ).all()
        audits = s.scalars(
            select(AuditRow).where(AuditRow.msgid.like(f"{tag}-%")).order_by(AuditRow.id)
        ).all()
        return {
            "visit": (v.med_type, v.level, v.begin_date, v.end_date, v.discharge_way, v.status),
            "lines": [
                (
                    r.feedetl_sn,
                    r.code,
                    r.quantity,
                    r.unit_price,
                    r.amount,
                    r.status,
                    r.item_class,
                    r.fully_self_paid,
                    r.over_limit,
                    r.in_scope,
                    r.category_b,
                    r.reason,
                )
                for r in lines
            ],
            "answers": [
                (a.msgid.split("-")[-1], a.infno, a.infcode, _plain(a.response or "", certno, tag))
                for a in answers
            ],
            "audits": sorted(
                (
                    a.msgid.split("-")[-1],
                    a.action,
                    a.outcome,
                    a.person_id is None,
                    _plain(a.detail or "", certno, tag),
                    _plain(a.target or "", certno, tag),
                )
                for a in audits
            ),
        }


def test_visits_and_lines_answer_as_the_route(api: Api, uow: UnitOfWork, engine: Engine) -> None:
    fast_twin, route_twin = employee(uow, 1), employee(uow, 2)
    route = route_only(api)
    insts = {"A": api.institution(), "B": api.institution("H36010002")}
    before = fast_path_settled(api)
    fast, fast_visit = _run(api, insts, fast_twin, "fast")
    slow, route_visit = _run(route, insts, route_twin, "route")
    for k, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a == b, (k, REQUESTS[k])
    codes = [orjson.loads(a)["infcode"] for a in fast]
    assert codes.count(0) == 6, codes  # 2201, 2204 twice, 2205, 2402, 2207
    assert 2005 in codes and 3001 in codes and 1003 in codes and 3002 in codes
    # every request of the table went through the batcher on the served application
    assert fast_path_settled(api) - before == len(REQUESTS)
    assert fast_path_settled(route) == 0
    assert _stored(engine, fast_visit, "fast", fast_twin) == _stored(
        engine, route_visit, "route", route_twin
    )


def _signed(api: Api, inst: Inst, infno: str, data: dict[str, Any]) -> SignedTx:
    """A signed request as the fast path hands it to the batcher."""
    body = api.envelope(inst.code, infno, data, uuid.uuid4().hex)
    signed = SignedRequest(inst.code, inst.key_id, uuid.uuid4().hex, uuid.uuid4().hex * 2)
    return SignedTx(signed, TxRequest.model_validate_json(body), body, "0" * 64)


def _lines(engine: Engine, visit: str) -> list[str]:
    with Session(engine) as s:
        rows = s.scalars(
            select(FeeLineRow.feedetl_sn)
            .join(VisitRow, VisitRow.id == FeeLineRow.visit_id)
            .where(VisitRow.mdtrt_id == visit)
            .order_by(FeeLineRow.id)
        )
        return list(rows)


def test_a_refused_request_leaves_the_others_of_its_batch_stored(
    api: Api, uow: UnitOfWork, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    people = [employee(uow, n) for n in (1, 2, 3)]
    inst = api.institution()
    visits = [
        api.tx(inst, "2201", {"certno": p, "med_type": "inpatient", "begntime": "2025-05-01"})
        for p in people[:2]
    ]
    assert [v["infcode"] for v in visits] == [0, 0], visits
    first, second = (v["output"]["mdtrt_id"] for v in visits)
    unknown = line("9", "ZZ99", "1", "1")
    items = [
        _signed(api, inst, "2204", {"mdtrt_id": first, "feedetail": BILL}),
        _signed(api, inst, "2204", {"mdtrt_id": second, "feedetail": [*BILL[:2], *NEW_LINE,
                                                                       unknown]}),
        _signed(api, inst, "2201", {"certno": people[2], "med_type": "outpatient",
                                    "begntime": "2025-05-02", "mdtrt_id": "V-BATCH-1"}),
        _signed(api, inst, "2201", {"certno": people[2], "med_type": "outpatient",
                                    "begntime": "2099-05-02", "mdtrt_id": "V-BATCH-2"}),
        _signed(api, inst, "2204", {"mdtrt_id": second, "feedetail": [line("7", "XC03", "1",
                                                                            "2")]}),
        _signed(api, inst, "2205", {"mdtrt_id": first, "feedetl_sn": ["2"]}),
        _signed(api, inst, "2205", {"mdtrt_id": second, "feedetl_sn": ["1"]}),  # refused
    ]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="yibao.api"):
        results = settle_batch(engine, api.settings, items)
    assert "one by one" not in caplog.text  # answered as one batch
    assert [r["infcode"] if isinstance(r, dict) else r for r in results] == [
        0, 1003, 0, 1003, 0, 0, 1003,
    ], results  # fmt: skip
    bad = results[1]
    assert isinstance(bad, dict) and "feedetail[3] (feedetl_sn 9).med_list_codg" in bad["err_msg"]
    # the refused upload stored nothing; every request after it did its work
    assert _lines(engine, first) == ["1", "2", "3"]
    assert _lines(engine, second) == ["7"]
    with Session(engine) as s:
        states = dict(
            s.execute(
                select(FeeLineRow.feedetl_sn, FeeLineRow.status)
                .join(VisitRow, VisitRow.id == FeeLineRow.visit_id)
                .where(VisitRow.mdtrt_id == first)
            ).all()
        )
        registered = set(
            s.scalars(select(VisitRow.mdtrt_id).where(VisitRow.mdtrt_id.like("V-BATCH-%")))
        )
        answers = dict(
            s.execute(
                select(TxResponseRow.msgid, TxResponseRow.infcode).where(
                    TxResponseRow.msgid.in_([i.envelope.msgid for i in items])
                )
            ).all()
        )
        outcomes = sorted(
            s.execute(
                select(AuditRow.action, AuditRow.outcome).where(
                    AuditRow.msgid.in_([i.envelope.msgid for i in items])
                )
            ).all()
        )
    assert states == {"1": "live", "2": "cancelled", "3": "live"}
    assert registered == {"V-BATCH-1"}
    assert [answers[i.envelope.msgid] for i in items] == [0, 1003, 0, 1003, 0, 0, 1003]
    assert outcomes == sorted(
        [("tx:2204", "ok"), ("tx:2204", "refused"), ("tx:2201", "ok"), ("tx:2201", "refused"),
         ("tx:2204", "ok"), ("tx:2205", "ok"), ("tx:2205", "refused")]
    )  # fmt: skip
    # the same msgids again: the stored answers, nothing runs twice
    again = settle_batch(engine, api.settings, [_resent(i) for i in items])
    assert [r["infcode"] if isinstance(r, dict) else r for r in again] == [
        0, 1003, 0, 1003, 0, 0, 1003,
    ]  # fmt: skip
    assert _lines(engine, first) == ["1", "2", "3"]


def _resent(item: SignedTx) -> SignedTx:
    """The same request sent again (a fresh nonce and signature, the same msgid)."""
    s = item.signed
    signed = SignedRequest(s.code, s.key_id, uuid.uuid4().hex, uuid.uuid4().hex * 2)
    return SignedTx(signed, item.envelope, item.body, item.sha256)
