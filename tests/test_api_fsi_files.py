"""The national interface's files and undoing (docs/fsi.md), on SQLite and PostgreSQL: a HIS
uploads its file of settlements (9101), reconciles it (3202) and downloads the result (9102); it
undoes a transaction by its msgid (2601); the detail file's format and the comparison as table
tests."""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_api_fsi import Hospital, fixture, signed_in
from yibao.api.fsi.route import PATH
from yibao.domain.detail_reconciliation import (
    DetailRow,
    compare_details,
    read_detail_file,
    result_file,
)
from yibao.domain.errors import InvalidField
from yibao.store.uow import UnitOfWork


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-05-03")


HEADER = "setl_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag\n"


def _settled(his: Hospital) -> str:
    """The outpatient visit of test_api_fsi settled: 445.00, the fund 84.90, no account."""
    his.values["mdtrt_id"] = his.ok("2201")["data"]["mdtrt_id"]
    his.ok("2203")
    his.ok("2204")
    setl_id: str = his.ok("2207")["setlinfo"]["setl_id"]
    his.values["setl_id"] = setl_id
    return setl_id


def _upload(his: Hospital, content: bytes, as_list: bool = True) -> dict[str, Any]:
    step = fixture("9101", {})["input"]
    step["fsUploadIn"]["in"] = list(content) if as_list else base64.b64encode(content).decode()
    return his.send("9101", input=step)


def _download(api: Api, his: Hospital, number: str) -> tuple[int, bytes, dict[str, str]]:
    env = fixture("envelope", {})
    step = fixture("9102", {"file_qury_no": number})
    env.update(infno="9102", input=step["input"], msgid=f"D{uuid.uuid4().hex[:20]}")
    env["fixmedins_code"] = his.inst.code
    body = orjson.dumps(env)
    r = api.client.post(PATH, content=body, headers=api.signed(his.inst, PATH, body))
    return r.status_code, r.content, dict(r.headers)


def test_detail_reconciliation_in_the_national_format(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    setl_id = _settled(his)
    psn = his.values["psn_no"]

    # the HIS's file agrees with the centre: nothing differs, the result holds only its header
    agreeing = f"{HEADER}{setl_id}\t{psn}\t445.00\t84.90\t0.00\t0\n".encode()
    up = _upload(his, agreeing)
    assert up["infcode"] == 0, up["err_msg"]
    info = up["output"]
    assert set(info) >= {"file_qury_no", "filename", "dld_endtime"}
    his.values["file_qury_no"] = info["file_qury_no"]
    out = his.ok("3202")
    assert out["stmtinfo"] == {"setl_optins": "360100", "stmt_rslt": "0", "stmt_rslt_dscr": None}
    assert (out["rows"], out["differences"], out["totals"]) == (1, [], [])
    status, content, headers = _download(api, his, out["fileinfo"]["file_qury_no"])
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert content == b"setl_id\trefd_setl_flag\tkind\tpsn_no\tdetail\n"

    # reversed the same day: the centre now also holds the reversal (refd_setl_flag 1); the
    # HIS's file (zipped, base64) misses it, has the fund at 84.00 and a settlement yibao never
    # made
    his.ok("2208")
    differing = f"{setl_id}\t{psn}\t445.00\t84.00\t0.00\t0\nS-GHOST\t{psn}\t10.00\t0\t0\t0\n"
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("detail.txt", differing)
    up = _upload(his, packed.getvalue(), as_list=False)
    assert up["infcode"] == 0, up["err_msg"]
    his.values["file_qury_no"] = up["output"]["file_qury_no"]
    out = his.ok("3202")
    assert out["stmtinfo"]["stmt_rslt"] == "1"
    assert out["stmtinfo"]["stmt_rslt_dscr"] == "3 settlement(s) differ"
    assert [(d["setl_id"], d["refd_setl_flag"], d["kind"]) for d in out["differences"]] == [
        ("S-GHOST", "0", "not_at_centre"),
        (setl_id, "0", "amounts"),
        (setl_id, "1", "not_at_institution"),
    ]
    assert out["differences"][1]["fields"] == [
        {"field": "fund_pay_sumamt", "institution": "84.00", "centre": "84.90"}
    ]
    # the claimed totals (one settlement of 445.00) against the net of the day (none)
    assert [t["field"] for t in out["totals"]] == [
        "setl_cnt",
        "medfee_sumamt",
        "fund_pay_sumamt",
        "psn_cash_pay",
    ]
    _, content, _ = _download(api, his, out["fileinfo"]["file_qury_no"])
    lines = content.decode().splitlines()
    assert lines[1:] == [
        f"S-GHOST\t0\tnot_at_centre\t{psn}\t",
        f"{setl_id}\t0\tamounts\t{psn}\tfund_pay_sumamt=84.00/84.90",
        f"{setl_id}\t1\tnot_at_institution\t{psn}\t",
    ]


def test_bad_files_and_other_institutions_files_are_refused(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    bad = _upload(his, b"S1\t1\t12.345\t0\t0\t0\nS2\t1\t1.00\t0\t0\n")
    assert bad["infcode"] == 0  # a file is kept as sent; 3202 reads it
    his.values["file_qury_no"] = bad["output"]["file_qury_no"]
    out = his.send("3202")
    assert out["infcode"] == -1
    assert "file line 1: medfee_sumamt" in out["err_msg"]
    assert "file line 2: 5 fields, expected 6" in out["err_msg"]

    step = fixture("9101", {})["input"]
    step["fsUploadIn"]["in"] = "not base64!"
    out = his.send("9101", input=step)
    assert out["infcode"] == -1 and out["err_msg"].endswith(
        "input.fsUploadIn.in: not base64 (RFC 4648, with padding)"
    )
    step["fsUploadIn"]["in"] = [1, 256]
    out = his.send("9101", input=step)
    assert out["infcode"] == -1 and "integers 0..255" in out["err_msg"]

    # another institution neither downloads nor reconciles this institution's file
    other = Hospital(api, api.institution("H36010002"))
    status, content, _ = _download(api, other, his.values["file_qury_no"])
    answer = orjson.loads(content)
    assert status == 200 and answer["infcode"] == -1 and "not found" in answer["err_msg"]
    other.values = dict(his.values)
    out = other.send("3202", fixmedins_code="H36010002")
    assert out["infcode"] == -1 and "not found" in out["err_msg"]


def test_an_interim_settlement_is_refused_naming_the_field(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    his.values["mdtrt_id"] = his.ok("2401")["result"]["mdtrt_id"]
    his.ok("2301")
    step = fixture("2304", his.values)["input"]
    step["data"]["mid_setl_flag"] = "1"
    out = his.send("2304", input=step)
    assert out["infcode"] == -1
    assert "input.data.mid_setl_flag: interim settlement" in out["err_msg"]
    assert his.ok("5206")["cuminfo"]["settled"]["setl_cnt"] == 0  # nothing settled


def test_a_transaction_is_undone_by_its_msgid(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    his.values["mdtrt_id"] = his.ok("2201")["data"]["mdtrt_id"]
    his.ok("2203")
    his.ok("2204")
    setl_id = his.ok("2207", msgid="H36010001-timeout-1")["setlinfo"]["setl_id"]

    # the HIS heard nothing back from its 2207 and undoes it: the settlement is reversed
    his.values.update(omsgid="H36010001-timeout-1", oinfno="2207")
    out = his.ok("2601")
    assert (out["undone"], out["result"]["setl_id"]) == ("reversed", setl_id)
    assert out["result"]["hifp_pay"] == "-84.90"
    assert his.ok("5206")["cuminfo"]["settled"]["setl_cnt"] == 0
    again = his.send("2601")  # a second 2601 of the same transaction: already undone
    assert again["infcode"] == -1 and "already reversed" in again["err_msg"]
    wrong = his.send("2601", input={"data": {"omsgid": "H36010001-timeout-1", "oinfno": "2201"}})
    assert wrong["infcode"] == -1
    assert "input.data.oinfno: msgid H36010001-timeout-1 was a 2207, not a 2201" in wrong["err_msg"]
    other = his.send("2601", input={"data": {"omsgid": "X", "oinfno": "2204"}})
    assert other["infcode"] == -1 and "input.data.oinfno: 2204: 2601 undoes" in other["err_msg"]

    # a 2207 that never arrived: undone before it comes, and refused when it comes late
    his.values.update(omsgid="H36010001-lost-2")
    assert his.ok("2601")["undone"] == "not_arrived"
    late = his.send("2207", msgid="H36010001-lost-2")
    assert late["infcode"] == -1 and "undone by 2601" in late["err_msg"]
    assert his.ok("5206")["cuminfo"]["settled"]["setl_cnt"] == 0

    # an admission undone: the visit is cancelled
    mdtrt_id = his.ok("2401", msgid="H36010001-adm-3")["result"]["mdtrt_id"]
    his.values.update(omsgid="H36010001-adm-3", oinfno="2401")
    out = his.ok("2601")
    assert (out["undone"], out["result"]["mdtrt_id"], out["result"]["status"]) == (
        "reversed",
        mdtrt_id,
        "cancelled",
    )


# ------------------------------------------------------------------ the file and the rule


def test_the_detail_file_is_read_as_published() -> None:
    gbk = "S1\t7\t100.50\t80\t0.5\t0\n\nS1\t7\t100.50\t80\t0.5\t1\n".encode("gbk")
    assert read_detail_file(gbk) == [
        DetailRow("S1", "7", False, (10050, 8000, 50)),
        DetailRow("S1", "7", True, (10050, 8000, 50)),
    ]
    assert read_detail_file(HEADER.encode()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"S1\t7\t1\t1\t1\t2\n", "file line 1: refd_setl_flag: '2': must be 0 or 1"),
        (b"S1\t7\t-1\t1\t1\t0\n", "file line 1: medfee_sumamt"),
        (b"\t7\t1\t1\t1\t0\n", "file line 1: setl_id: missing"),
        (b"S1\t7\t1\t1\t1\t0\nS1\t7\t1\t1\t1\t0\n", "file line 2: setl_id: S1"),
        (b"PK\x03\x04broken", "not a readable zip archive"),
        (b"\xff\xfe\xfa\xfb\xfc", "neither UTF-8 nor GBK"),
    ],
)
def test_a_bad_detail_file_is_refused_naming_the_line(content: bytes, message: str) -> None:
    with pytest.raises(InvalidField) as err:
        read_detail_file(content)
    assert message in str(err.value)


_ROWS = st.lists(
    st.builds(
        DetailRow,
        st.sampled_from(["S1", "S2", "S3", "S4"]),
        st.just("7"),
        st.booleans(),
        st.tuples(*[st.integers(0, 3)] * 3),
    ),
    unique_by=lambda r: r.key,
)


@given(_ROWS, _ROWS)
def test_compare_finds_each_settlement_that_differs(a: list[DetailRow], b: list[DetailRow]) -> None:
    assert compare_details(a, a) == []
    found = compare_details(a, b)
    keys_a, keys_b = {r.key for r in a}, {r.key for r in b}
    by_kind = {
        k: {(d.setl_id, d.refund) for d in found if d.kind == k}
        for k in ("not_at_centre", "not_at_institution", "amounts")
    }
    assert by_kind["not_at_centre"] == keys_a - keys_b
    assert by_kind["not_at_institution"] == keys_b - keys_a
    amounts_b = {r.key: r.amounts for r in b}
    assert by_kind["amounts"] == {
        r.key for r in a if r.key in amounts_b and r.amounts != amounts_b[r.key]
    }
    assert len(result_file(found).splitlines()) == 1 + len(found)
