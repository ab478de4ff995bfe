"""Bad input at the edges (issue 10), through the real API on SQLite and PostgreSQL: no
settlement, visit or reversal after today (the clock: ``YIBAO_TODAY``), an institution paid at
its registered level, no 500 for strings or FHIR shapes (and a last-resort answer that keeps
the connection), no server path in a message, no invisible or bidi character in an
identifier, and an insured person told nothing about anyone else."""

from __future__ import annotations

import datetime as dt
import json
import socket
import unicodedata
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import TX, Api, Inst, route_only
from tests.server_support import serve
from tests.store_support import nid
from tests.test_api_settlement import AREA, CLAIM, employee
from yibao.api.http import tx as tx_module
from yibao.api.http.textcheck import body_problem
from yibao.domain.roles import Role
from yibao.domain.text import bad_in_identifier, bad_in_text
from yibao.services import enrolment, registry
from yibao.store.models import SettlementRow, VisitRow
from yibao.store.uow import UnitOfWork

TODAY = "2026-12-01"
FUTURE = ("9999-12-31", "2100-01-01", "2027-06-01", "2026-12-02")


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today is 2026-12-01 for these tests, whatever the machine's clock says."""
    monkeypatch.setenv("YIBAO_TODAY", TODAY)


def _post(api: Api, inst: Inst, path: str, doc: Any = None, raw: bytes | None = None) -> Any:
    body = raw if raw is not None else orjson.dumps(doc)
    return api.client.post(path, content=body, headers=api.signed(inst, path, body))


def _count(engine: Engine, table: Any) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _psn(uow: UnitOfWork, who: str) -> int:
    with uow:
        found = uow.persons.require(who).id
    assert found is not None
    return found


def _fhir_claim(psn_no: int, on: str, ident: str, use: str = "claim") -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "identifier": [{"value": ident}],
        "use": use,
        "patient": {"reference": f"Patient/{psn_no}"},
        "type": {"coding": [{"system": "urn:yibao:med-type", "code": "inpatient"}]},
        "billablePeriod": {"start": on},
        "total": {"value": 20000, "currency": "CNY"},
    }


# ------------------------------------------------------------------ 2. dates after today


def test_nothing_is_settled_registered_or_reversed_after_today(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    psn_no = _psn(uow, who)
    inst = api.institution()
    route = route_only(api)
    for day in FUTURE:
        fast = api.tx(inst, "2207", {**CLAIM, "certno": who, "date": day})  # the fast path
        assert fast["infcode"] == 1003, fast
        assert fast["err_msg"] == f"date: {day} is after today ({TODAY})"
        slow = route.tx(inst, "2207", {**CLAIM, "certno": who, "date": day})  # the route
        assert (slow["infcode"], slow["err_msg"]) == (1003, fast["err_msg"])
        pre = api.tx(inst, "2206", {**CLAIM, "certno": who, "date": day})
        assert (pre["infcode"], pre["err_msg"]) == (1003, fast["err_msg"])
        visit = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient", "begntime": day})
        assert visit["infcode"] == 1003 and visit["err_msg"].startswith(f"begntime: {day} is after")
        fhir = _post(api, inst, "/fhir/Claim/$submit", _fhir_claim(psn_no, day, f"f-{day}"))
        assert fhir.status_code == 422, fhir.text
        assert fhir.json()["issue"][0]["diagnostics"] == fast["err_msg"]
    assert _count(api.engine, SettlementRow) == 0 and _count(api.engine, VisitRow) == 0

    # today itself is not in the future
    today = api.tx(inst, "2207", {**CLAIM, "certno": who, "date": TODAY})
    assert today["infcode"] == 0, today
    # nor before the person's coverage began (enrolled 2024-01-01)
    early = api.tx(inst, "2207", {**CLAIM, "certno": who, "date": "2023-12-31"})
    assert early["infcode"] == 3002 and "not enrolled on 2023-12-31" in early["err_msg"]

    settled = api.tx(inst, "2207", {**CLAIM, "certno": who})  # 2025-05-01
    setl_id = settled["output"]["setl_id"]
    later = api.tx(inst, "2208", {"setl_id": setl_id, "date": "2027-01-01"})
    assert later["infcode"] == 1003 and later["err_msg"].startswith("date: 2027-01-01 is after")
    before = api.tx(inst, "2208", {"setl_id": setl_id, "date": "2025-04-30"})
    assert before["infcode"] == 1003 and "before the settlement" in before["err_msg"]
    visit = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient", "begntime": "2025-06-01"})
    mdtrt_id = visit["output"]["mdtrt_id"]
    cancel = api.tx(inst, "2202", {"mdtrt_id": mdtrt_id, "date": "2026-12-02"})
    assert cancel["infcode"] == 1003 and cancel["err_msg"].startswith("date: 2026-12-02 is after")
    assert api.tx(inst, "2208", {"setl_id": setl_id, "date": TODAY})["infcode"] == 0


def test_today_is_the_clock_setting(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's today is ``YIBAO_TODAY``, not the machine's date: a claim of 2025-07-01 is
    refused on 2025-06-30 and settled on 2025-07-01; a default date is today."""
    who = employee(uow)
    inst = api.institution()
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-30")
    early = api.tx(inst, "2207", {**CLAIM, "certno": who, "date": "2025-07-01"})
    assert early["err_msg"] == "date: 2025-07-01 is after today (2025-06-30)"
    monkeypatch.setenv("YIBAO_TODAY", "2025-07-01")
    assert api.tx(inst, "2207", {**CLAIM, "certno": who, "date": "2025-07-01"})["infcode"] == 0
    visit = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient"})
    assert visit["output"]["begntime"] == "2025-07-01"


def test_cli_refuses_dates_after_today(db_url: str, uow: UnitOfWork) -> None:
    from tests.test_store_commands import run

    who = employee(uow)
    claim = ["--person", who, "--med-type", "inpatient", "--level", "2", "--total", "20000"]
    for day in FUTURE:
        refused = run(db_url, "settle", *claim, "--date", day, code=2)
        assert refused["error"] == f"date: {day} is after today ({TODAY})"
        visit = run(db_url, "visit", "register", who, "--institution", "H1", "--med-type",
                    "inpatient", "--level", "2", "--on", day, code=2)  # fmt: skip
        assert visit["error"] == f"begntime: {day} is after today ({TODAY})"
    with uow:
        assert uow.session.scalar(select(func.count()).select_from(SettlementRow)) == 0
    settled = run(db_url, "settle", *claim, "--date", "2025-05-01")
    back = run(db_url, "reverse", settled["setl_id"], "--on", "2027-01-01", code=2)
    assert back["error"] == f"date: 2027-01-01 is after today ({TODAY})"
    assert run(db_url, "reverse", settled["setl_id"])["reversed_on"] == TODAY  # default: today


# ------------------------------------------------------------------ 3. the registered level


def test_an_institution_is_paid_at_its_registered_level(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    psn_no = _psn(uow, who)
    hospital = api.institution("H36010003", level=3)
    route = route_only(api)
    claim = {"certno": who, "date": "2025-05-01", "med_type": "inpatient", "total": "20000.00"}
    for via, infno in ((api, "2207"), (route, "2207"), (api, "2206"), (api, "2201")):
        data = {**claim, "begntime": "2025-05-01"} if infno == "2201" else claim
        for level in (1, "1", 2, True, "x"):
            out = via.tx(hospital, infno, {**data, "level": level})
            assert out["infcode"] == 1003, (infno, level, out)
            assert out["err_msg"].startswith("input.level:"), out
            assert "registered at (3)" in out["err_msg"]
    assert _count(api.engine, SettlementRow) == 0 and _count(api.engine, VisitRow) == 0

    # level 3 employee inpatient: deductible 800, 80 % (000000.yaml)
    fund = (20000_00 - 800_00) * 80 // 100
    out = api.tx(hospital, "2207", {**claim, "level": 3})  # repeating it is fine
    assert out["infcode"] == 0, out
    assert (out["output"]["level"], out["output"]["fund_pay_sumamt"]) == (3, "15360.00")
    assert out["output"]["fund_pay_sumamt"] == f"{fund // 100}.{fund % 100:02d}"
    api.tx(hospital, "2208", {"setl_id": out["output"]["setl_id"], "date": "2025-05-02"})
    fhir = _post(api, hospital, "/fhir/Claim/$submit", _fhir_claim(psn_no, "2025-05-01", "f-1"))
    assert fhir.status_code == 200, fhir.text
    assert fhir.json()["payment"]["amount"]["value"] == 15360.0
    visit = api.tx(hospital, "2201", {**claim, "begntime": "2025-06-01"})
    assert visit["output"]["level"] == 3

    # an institution registered without a level may not choose one
    unranked = api.institution("H36010004", level=0)
    out = api.tx(unranked, "2207", {**claim, "level": 1})
    assert out["infcode"] == 1003 and "registered without a level" in out["err_msg"]
    out = api.tx(unranked, "2207", claim)
    assert out["infcode"] == 1003 and "registered without a level" in out["err_msg"]


# ------------------------------------------------------------- 6. no 500 for any input


BAD_FHIR_CLAIMS: list[tuple[str, Any, str]] = [
    ("type", "x", "Claim.type"),
    ("patient", "Patient/1", "Claim.patient"),
    ("total", 5, "Claim.total"),
    ("billablePeriod", "2025-06-04", "Claim.billablePeriod"),
    ("extension", [{"url": "urn:yibao:fully_self_paid", "valueMoney": "x"}],
     "Claim.extension[0].valueMoney"),
    ("extension", [{"url": "urn:yibao:over_limit", "valueMoney": None}], None),
    ("identifier", "c-1", "Claim.identifier"),
    ("total", {"value": True}, "Claim.total.value"),
]  # fmt: skip


def test_no_input_gets_a_500(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    psn_no = _psn(uow, who)
    inst = api.institution()

    def envelope(infno: str, data: str) -> bytes:
        return (
            f'{{"infno":"{infno}","msgid":"m-{infno}","fixmedins_code":"{inst.code}",'
            f'"opter":"o","inf_time":"2025-05-01 10:00:00","input":{data}}}'
        ).encode()

    for infno, data, field in (
        ("2208", '{"setl_id":"S\\ud800"}', "input.setl_id"),
        ("2202", '{"mdtrt_id":"V\\udfff"}', "input.mdtrt_id"),
        ("2207", f'{{"certno":"{who}","date":"2025-05-01","total":"1","mdtrt_id":"V\\ud800"}}',
         "input.mdtrt_id"),  # a signed 2207: not taken by the fast path, refused by the route
        ("1101", '{"certno":"\\udc00"}', "input.certno"),
        ("1101", '{"x\\ud800":"1"}', "input.x\\ud800"),
        ("1101", '{"certno":"\\u0001"}', "input.certno"),
        ("1101", '{"certno":"\\u0000"}', "input.certno"),
    ):  # fmt: skip
        r = _post(api, inst, TX, raw=envelope(infno, data))
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["infcode"] == 1001 and body["err_msg"].startswith(
            f"malformed request: {field}: contains "
        ), body
    login = api.client.post(
        "/api/v1/auth/token", content=b'{"username":"a\\ud800","password":"x"}',
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert login.status_code == 400 and "username" in login.json()["err_msg"], login.text

    fhir_claim = _fhir_claim(psn_no, "2025-05-01", "c-1", "predetermination")
    surrogate = orjson.dumps(fhir_claim).replace(b'"c-1"', b'"c-\\ud800"')
    r = _post(api, inst, "/fhir/Claim/$submit", raw=surrogate)
    assert r.status_code == 400 and "identifier[0].value" in r.text, r.text
    for name, value, element in BAD_FHIR_CLAIMS:
        r = _post(api, inst, "/fhir/Claim/$submit", {**fhir_claim, name: value})
        assert 400 <= r.status_code < 500, (name, r.text)
        issue = r.json()["issue"][0]
        assert r.json()["resourceType"] == "OperationOutcome"
        if element is not None:
            assert issue["expression"] == [element], issue
            assert element.replace("[0]", ".0") in issue["diagnostics"]
    for doc, element in (
        ({"resourceType": "Parameters", "parameter": 5}, "Parameters.parameter"),
        ({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": 5}]},
         "Parameters.parameter[0].resource"),
        ({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
            **fhir_claim, "patient": "x"}}]}, "Parameters.parameter[0].resource.patient"),
        ({"resourceType": "Patient"}, None),
        ({"resourceType": 5}, None),
    ):  # fmt: skip
        r = _post(api, inst, "/fhir/Claim/$submit", doc)
        assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome", r.text
        if element is not None:
            assert r.json()["issue"][0]["expression"] == [element], r.text
    for doc, element in (
        ({"resourceType": "CoverageEligibilityRequest", "patient": "x"},
         "CoverageEligibilityRequest.patient"),
        ({"resourceType": "CoverageEligibilityRequest", "servicedDate": 5},
         "CoverageEligibilityRequest.servicedDate"),
        ({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
            "resourceType": "CoverageEligibilityRequest", "patient": []}}]},
         "Parameters.parameter[0].resource.patient"),
    ):  # fmt: skip
        r = _post(api, inst, "/fhir/CoverageEligibilityRequest/$submit", doc)
        assert r.status_code == 400, r.text
        assert r.json()["issue"][0]["expression"] == [element], r.text
    # the well-formed ones still work
    fresh = {**fhir_claim, "identifier": [{"value": "c-ok"}]}
    ok = _post(api, inst, "/fhir/Claim/$submit", fresh)
    assert ok.status_code == 200, ok.text
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
        **fhir_claim, "identifier": [{"value": "c-2"}]}}]}  # fmt: skip
    assert _post(api, inst, "/fhir/Claim/$submit", wrapped).status_code == 200


def _http(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 exchange on an open connection: status, headers, body."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by the server after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server in the body")
        body += chunk
    return int(lines[0].split()[1]), headers, body


def test_an_unexpected_error_is_answered_and_the_connection_kept(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that fails unexpectedly: a 500 with a JSON body, its content type and length,
    nothing of the error in it; the server keeps the persistent connection (before, it closed
    it after the answer without a ``Connection: close``)."""

    def broken(ctx: Any, data: dict[str, Any]) -> Any:
        raise RuntimeError("boom in /srv/yibao/secret.py")

    monkeypatch.setitem(tx_module.HANDLERS, "1101", broken)
    token = api.staff(Role.ADMINISTRATOR)
    body = api.envelope("H36010001", "1101", {"psn_no": 1})
    request = (
        f"POST {TX} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    with serve(api.client.app) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            status, headers, answer = _http(sock, request)
            assert status == 500 and headers["content-type"] == "application/json"
            doc = orjson.loads(answer)
            assert doc["infcode"] == -1 and doc["err_msg"].startswith("internal error (reference")
            assert "boom" not in answer.decode() and "/srv" not in answer.decode()
            assert headers.get("connection") != "close"
            # the same connection answers the next request
            status, _, answer = _http(sock, b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            assert (status, orjson.loads(answer)) == (200, {"status": "ok"})


def test_an_unexpected_error_on_the_fast_path_is_answered(
    api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settlement fast path sits in front of Starlette's middleware stack: a batch failing
    unexpectedly is still answered as any unexpected error is (500, infcode -1, nothing of the
    error), and nothing is settled."""
    who = employee(uow)
    inst = api.institution()
    batcher = api.client.app.state.yibao.batcher  # type: ignore[attr-defined]

    def broken(items: list[Any]) -> list[Any]:
        raise RuntimeError("boom in /srv/yibao/secret.py")

    monkeypatch.setattr(batcher, "work", broken)
    before = batcher.submitted
    doc = api.tx(inst, "2207", {**CLAIM, "certno": who})
    assert batcher.submitted == before + 1  # taken by the fast path, not the route
    assert doc["_status"] == 500 and doc["infcode"] == -1, doc
    assert doc["err_msg"].startswith("internal error (reference")
    assert "boom" not in str(doc) and "/srv" not in str(doc)
    with uow:
        assert uow.session.scalar(select(func.count()).select_from(SettlementRow)) == 0


# ----------------------------------------------------------- 8a. no server path in a message


def test_no_server_path_in_a_message(api: Api, uow: UnitOfWork) -> None:
    """Policy parameters without a value on the date asked (1990): the refusal names the
    parameter file, not where the server keeps it."""
    who = registry.add_person(uow, nid(7), "早参保").label
    enrolment.enrol(uow, who, "resident", AREA, dt.date(1989, 1, 1))
    inst = api.institution()
    for infno, data in (
        ("1101", {"certno": who, "date": "1990-06-01"}),
        ("2206", {**CLAIM, "certno": who, "date": "1990-06-01"}),
        ("2207", {**CLAIM, "certno": who, "date": "1990-06-01"}),
    ):
        out = api.tx(inst, infno, data)
        assert out["infcode"] == 3002, out
        # the file that gives the parameter (360100 inherits it from the national defaults)
        assert out["err_msg"].startswith("policy parameters: 000000.yaml: economy."), out
        assert "/" not in out["err_msg"] and "\\" not in out["err_msg"], out


def test_no_server_path_in_a_command_line_message(
    db_url: str, uow: UnitOfWork, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from tests.test_store_commands import run
    from yibao.cli.calc import app as calc

    who = registry.add_person(uow, nid(7), "早参保").label
    enrolment.enrol(uow, who, "resident", AREA, dt.date(1989, 1, 1))
    claim = ["--person", who, "--med-type", "inpatient", "--level", "2", "--total", "100"]
    refused = run(db_url, "settle", *claim, "--date", "1990-06-01", code=2)
    assert refused["error"].startswith("000000.yaml: economy."), refused
    assert "/" not in refused["error"]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        'region: "360100"\nperson: {scheme: resident}\n'
        "claims: [{date: 1990-05-01, med_type: inpatient, level: 2, total: 100}]\n"
    )
    result = CliRunner().invoke(calc, ["settle", str(scenario)])
    assert result.exit_code == 2, result.output  # before: a traceback
    assert result.stderr.startswith("error: claims[0].date: 1990-05-01 is before the parameters")
    assert "/" not in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------- 8c. no invisible character in identifiers


INVISIBLE = ("\u202e", "\u202d", "\u2066", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def test_identifiers_refuse_invisible_and_bidi_characters(
    api: Api, uow: UnitOfWork, db_url: str
) -> None:
    who = employee(uow)
    inst = api.institution()
    visit = {"certno": who, "med_type": "inpatient", "begntime": "2025-05-01"}
    for ch in INVISIBLE:
        code = f"U+{ord(ch):04X}"
        out = api.tx(inst, "2201", {**visit, "mdtrt_id": f"V{ch}1"})
        assert out["infcode"] == 1003 and out["err_msg"].startswith(
            f"input.mdtrt_id: contains {code}"
        ), out
        for infno, data in (("2208", {"setl_id": f"S{ch}1"}), ("2202", {"mdtrt_id": f"V1{ch}"})):
            out = api.tx(inst, infno, data)
            assert out["infcode"] == 1003 and code in out["err_msg"], out
        claim = {**CLAIM, "certno": who, "mdtrt_id": f"{ch}V1"}
        out = api.tx(inst, "2207", claim)
        assert out["infcode"] == 1003 and out["err_msg"].startswith("input.mdtrt_id"), out
        for field in ("opter", "fixmedins_code"):
            body = orjson.loads(api.envelope(inst.code, "1101", {"certno": who}))
            body[field] = f"{body[field]}{ch}"
            r = _post(api, inst, TX, body)
            assert r.status_code == 400, r.text
            assert r.json()["err_msg"].startswith(f"malformed request: {field}: Value error, ")
            assert code in r.json()["err_msg"]
    assert _count(api.engine, VisitRow) == 0
    # the command line refuses them too: in a visit's id, an institution code, a person's name
    from tests.test_store_commands import run

    args = ("--med-type", "inpatient", "--level", "2", "--on", "2025-05-01")
    refused = run(db_url, "visit", "register", who, "--institution", "H\u202e1", *args, code=2)
    assert refused["error"].startswith("fixmedins_code: contains U+202E")
    refused = run(
        db_url, "visit", "register", who, "--institution", "H1", "--mdtrt-id", "V\u200b1", *args,
        code=2,
    )  # fmt: skip
    assert refused["error"].startswith("mdtrt_id: contains U+200B")
    refused = run(db_url, "person", "add", nid(8), "张\u202e三", code=2)
    assert refused["error"].startswith("name: contains U+202E")
    assert _count(api.engine, VisitRow) == 0


# ------------------------------------------------ 11. an insured person learns nothing else


def test_an_insured_person_cannot_tell_who_is_registered(api: Api, uow: UnitOfWork) -> None:
    me, other = employee(uow, 1), employee(uow, 2)
    mine, theirs = _psn(uow, me), _psn(uow, other)
    unknown, unknown_nid = theirs + 1000, nid(9)  # nobody
    token = api.staff(Role.INSURED_PERSON, psn_no=mine)

    def answers(ref: dict[str, Any]) -> tuple[int, str]:
        out = api.staff_tx(token, "5206", {**ref, "year": 2025})
        return out["infcode"], out["err_msg"]

    assert answers({"psn_no": mine})[0] == 0 and answers({"certno": me})[0] == 0
    refused = answers({"psn_no": theirs})
    assert refused[0] == 2005
    for ref in ({"psn_no": unknown}, {"certno": other}, {"certno": unknown_nid}):
        assert answers(ref) == refused, ref

    def read(path: str) -> tuple[int, Any]:
        r = api.staff_get(token, path)
        body = r.json()
        body.pop("inf_refmsgid", None)
        return r.status_code, body

    assert read(f"/api/v1/persons/{mine}")[0] == 200
    refused_file = read(f"/api/v1/persons/{theirs}")
    assert refused_file[0] == 403
    for ref in (unknown, other, unknown_nid):
        assert read(f"/api/v1/persons/{ref}") == refused_file, ref

    inst = api.institution()
    setl_id = api.tx(inst, "2207", {**CLAIM, "certno": other})["output"]["setl_id"]
    theirs_read, nobody_read = (
        read(f"/api/v1/settlements/{setl_id}"),
        read("/api/v1/settlements/S1"),
    )
    assert theirs_read[0] == nobody_read[0] == 403
    assert theirs_read[1]["infcode"] == nobody_read[1]["infcode"] == 2005
    eob_theirs, eob_nobody = (
        read(f"/fhir/ExplanationOfBenefit/{setl_id}"),
        read("/fhir/ExplanationOfBenefit/S1"),
    )
    assert eob_theirs[0] == eob_nobody[0] == 403
    with uow:
        coverage_id = uow.enrolments.history(theirs)[0].id
    assert read(f"/fhir/Coverage/{coverage_id}") == read(f"/fhir/Coverage/{coverage_id + 1000}")
    assert read(f"/fhir/Coverage/{coverage_id}")[0] == 403


# --------------------------------------------------------- the text checks, as properties


_CHARS = st.characters(exclude_categories=()) | st.sampled_from(
    ["\ud800", "\udfff", "\ud83d", "\ude00", "\x00", "\x08", "\x7f", "\x85", "\\", "\n"]
)
_TEXT = st.text(_CHARS, max_size=6)
_JSON_TEXT = st.recursive(
    _TEXT | st.integers() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    return []


@given(_JSON_TEXT)
@settings(max_examples=300, deadline=None)
def test_the_body_scan_finds_exactly_the_strings_no_text_may_hold(doc: Any) -> None:
    """The byte scan of ``api.textcheck`` agrees with ``domain.text.bad_in_text`` on every string
    of any JSON document, however it is encoded (escaped or raw UTF-8)."""
    escaped = json.dumps(doc).encode()
    # as the server reads it (a high and a low surrogate side by side make one character)
    bad = any(bad_in_text(s) is not None for s in _strings(json.loads(escaped)))
    assert (body_problem(escaped) is not None) == bad
    if not any(0xD800 <= ord(c) <= 0xDFFF for s in _strings(doc) for c in s):  # UTF-8 can't
        raw = json.dumps(doc, ensure_ascii=False).encode()
        assert (body_problem(raw) is not None) == bad


@given(st.text(_CHARS, max_size=8))
def test_an_identifier_refuses_exactly_format_control_and_unassigned_characters(s: str) -> None:
    refused = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    assert (bad_in_identifier(s) is None) == all(unicodedata.category(c) not in refused for c in s)
