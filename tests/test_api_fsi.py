"""The national platform's interface (docs/fsi.md): request fixtures written from the published
field tables (``tests/fixtures/fsi``) replayed over HTTP on SQLite and PostgreSQL, an outpatient
visit and an inpatient stay end to end against the shipped catalogue, each answer checked field
by field and against a hand computation; bad envelopes answered -1 naming the field."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, Inst
from tests.test_api_fees_shipped import WHO, walk_employee
from yibao.api.fsi.route import PATH
from yibao.domain.enrolment import EnrolmentKind
from yibao.domain.enrolment import Status as EnrolmentStatus
from yibao.kernel.report import FUND_CODES
from yibao.policy.codesets import CodeError, code_sets, to_yibao
from yibao.policy.vocab import ITEM_CLASS_CODES, DischargeWay
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fsi"

#: The answer's fields (出参), in the platform's table.
ANSWER = {
    "infcode",
    "inf_refmsgid",
    "refmsg_time",
    "respond_time",
    "err_msg",
    "warn_msg",
    "cainfo",
    "signtype",
    "output",
}
SETLINFO = {
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "insutype",
    "med_type",
    "setl_time",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "cvlserv_pay",
    "hifes_pay",
    "oth_pay",
    "hosp_part_amt",
    "balc",
    "medins_setl_id",
    "clr_optins",
    "setl_type",
}
SETLDETAIL = {
    "fund_pay_type",
    "fund_pay_type_name",
    "inscp_scp_amt",
    "crt_payb_lmt_amt",
    "fund_payamt",
    "setl_proc_info",
}


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-05-03")


def fixture(name: str, values: dict[str, str]) -> dict[str, Any]:
    text = (FIXTURES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace(f'"${key}"', json.dumps(value))
    doc: dict[str, Any] = json.loads(text)
    return doc


class Hospital:
    """A HIS at a front processor: the envelope of fixtures/fsi/envelope.json, signed."""

    def __init__(self, api: Api, inst: Inst) -> None:
        self.api = api
        self.inst = inst
        self.values: dict[str, str] = {"certno": WHO}
        self.sign_no = ""

    def raw(self, body: bytes) -> dict[str, Any]:
        r = self.api.client.post(PATH, content=body, headers=self.api.signed(self.inst, PATH, body))
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        assert set(out) == ANSWER
        return out

    def send(self, name: str, msgid: str | None = None, **change: Any) -> dict[str, Any]:
        step = fixture(name, self.values)
        env = fixture("envelope", {})
        env.update(infno=step["infno"], input=step["input"], sign_no=self.sign_no)
        env["msgid"] = msgid or f"H36010001{uuid.uuid4().hex[:20]}"
        env.update(change)
        out = self.raw(orjson.dumps(env))
        assert out["inf_refmsgid"] == env["msgid"]
        return out

    def ok(self, name: str, **change: Any) -> dict[str, Any]:
        out = self.send(name, **change)
        assert out["infcode"] == 0, out["err_msg"]
        assert out["err_msg"] is None
        result: dict[str, Any] = out["output"]
        return result


def signed_in(api: Api, uow: UnitOfWork) -> Hospital:
    walk_employee(uow)
    his = Hospital(api, api.institution())  # level 2
    signin = his.ok("9001")["signinoutb"]
    assert set(signin) == {"sign_time", "sign_no"}
    assert len(signin["sign_no"]) == 30 and signin["sign_no"].startswith("20250503")
    his.sign_no = signin["sign_no"]
    info = his.ok("1101")
    assert set(info) == {"baseinfo", "insuinfo", "idetinfo"}
    base = info["baseinfo"]
    assert set(base) == {
        "psn_no",
        "psn_cert_type",
        "certno",
        "psn_name",
        "gend",
        "naty",
        "brdy",
        "age",
    }
    assert (base["psn_cert_type"], base["gend"], base["age"]) == ("01", "1", 40)
    (insu,) = info["insuinfo"]
    assert {k: insu[k] for k in ("insutype", "psn_type", "psn_insu_stas", "insuplc_admdvs")} == {
        "insutype": "310",
        "psn_type": "1101",
        "psn_insu_stas": "1",
        "insuplc_admdvs": "360100",
    }
    assert insu["psn_insu_date"] == "2025-01-01"
    # the personal account: the employee's own 2 % of 8000.00 for three months = 480.00
    assert insu["balc"] == "480.00"
    his.values["psn_no"] = base["psn_no"]
    return his


def test_outpatient_visit_in_the_national_format(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    reg = his.ok("2201")["data"]
    assert set(reg) == {"mdtrt_id", "psn_no", "ipt_otp_no"}
    his.values["mdtrt_id"] = reg["mdtrt_id"]
    visit = his.ok("2203")["result"]
    assert [(d["diag_code"], d["maindiag_flag"]) for d in visit["diseinfo"]] == [("J18.900", "1")]

    fees = his.ok("2204")
    consult, drug, senior = fees["result"]
    assert (consult["chrgitm_lv"], consult["inscp_scp_amt"]) == ("01", "10.00")
    assert (drug["chrgitm_lv"], drug["det_item_fee_sumamt"]) == ("01", "400.00")
    assert (senior["chrgitm_lv"], senior["category_b"], senior["preselfpay_amt"]) == (
        "02",
        "35.00",
        "3.50",
    )

    # 445.00 in all; category B 35.00 pre-pays 10 % = 3.50; policy scope 441.50; the
    # employee's outpatient deductible 300.00 (000000.yaml), then 60 % at level 2:
    # (441.50 − 300.00) × 0.60 = 84.90; the account not used: cash 445.00 − 84.90 = 360.10
    figures = {
        "medfee_sumamt": "445.00",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_selfpay": "0.00",
        "preselfpay_amt": "3.50",
        "inscp_scp_amt": "441.50",
        "act_pay_dedc": "300.00",
        "hifp_pay": "84.90",
        "fund_pay_sumamt": "84.90",
        "psn_part_amt": "360.10",
        "acct_pay": "0.00",
        "psn_cash_pay": "360.10",
        "cvlserv_pay": "0.00",
    }
    pre = his.ok("2206")
    assert set(pre["setlinfo"]) == SETLINFO
    assert {k: pre["setlinfo"][k] for k in figures} == figures

    settled = his.ok("2207")
    info = settled["setlinfo"]
    assert set(info) == SETLINFO
    assert {k: info[k] for k in figures} == figures
    assert (info["insutype"], info["med_type"], info["setl_type"]) == ("310", "11", "1")
    layer, large = settled["setldetail"]
    assert set(layer) == set(large) == SETLDETAIL
    assert (large["fund_pay_type"], large["fund_payamt"]) == ("330100", "0.00")
    assert (layer["fund_pay_type"], layer["fund_payamt"]) == ("310100", "84.90")
    assert layer["fund_pay_type_name"] == "职工基本医疗保险统筹基金"
    his.values["setl_id"] = info["setl_id"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for k in ("medfee_sumamt", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay"):
        assert f'"{k}": "{figures[k]}"' in readme, k

    # the same settlement through yibao's own route: the same handler, the same figures
    own = api.tx(his.inst, "5206", {"psn_no": his.values["psn_no"], "year": 2025})
    assert own["output"]["settled"]["hifp_pay"] == "84.90"

    back = his.ok("2208")["setlinfo"]
    assert back["setl_id"] == info["setl_id"]
    assert (back["hifp_pay"], back["medfee_sumamt"], back["setl_type"]) == (
        "-84.90",
        "-445.00",
        "2",
    )
    again = his.send("2208")
    assert again["infcode"] == -1 and "already reversed" in again["err_msg"]
    out = his.ok("9002", input={"signOut": {"sign_no": his.sign_no, "opter_no": "0107"}})
    assert set(out["signoutoutb"]) == {"sign_time"}


def test_inpatient_stay_in_the_national_format(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    adm = his.ok("2401")["result"]
    his.values["mdtrt_id"] = adm["mdtrt_id"]
    # no fee details yet: the platform refuses to settle, and so does yibao (nothing stored)
    early = his.send("2304", msgid="H36010001early0001")
    assert early["infcode"] == -1
    assert "[3002] input.data.mdtrt_id" in early["err_msg"] and "2301" in early["err_msg"]

    fees = his.ok("2301")["result"]
    op, bed1, bed2, pet = fees
    assert (op["chrgitm_lv"], op["inscp_scp_amt"]) == ("01", "2000.00")
    for bed in (bed1, bed2):  # class B, price limit 50.00
        assert (bed["overlmt_amt"], bed["category_b"]) == ("100.00", "50.00")
    assert (pet["fulamt_ownpay_amt"], pet["reason"]) == ("7000.00", "level")

    dscg = his.ok("2402")["result"]
    assert (dscg["dscg_date"], dscg["dscg_way"]) == ("2025-05-03", "1")

    # README's bill: 9300.00 − 7000.00 − 200.00 − 100.00 × 10 % = 2090.00 in scope;
    # (2090.00 − 500.00) × 85 % = 1351.50; cash 9300.00 − 1351.50 = 7948.50
    figures = {
        "medfee_sumamt": "9300.00",
        "fulamt_ownpay_amt": "7000.00",
        "overlmt_selfpay": "200.00",
        "preselfpay_amt": "10.00",
        "inscp_scp_amt": "2090.00",
        "act_pay_dedc": "500.00",
        "hifp_pay": "1351.50",
        "fund_pay_sumamt": "1351.50",
        "psn_cash_pay": "7948.50",
    }
    pre = his.ok("2303")["setlinfo"]
    assert {k: pre[k] for k in figures} == figures
    # the refused msgid was not stored: sent again once the lines are there, it settles
    settled = his.send("2304", msgid="H36010001early0001")
    assert settled["infcode"] == 0, settled
    info = settled["output"]["setlinfo"]
    assert set(info) == SETLINFO
    assert {k: info[k] for k in figures} == figures
    assert (info["med_type"], info["medins_setl_id"]) == ("21", "H36010001early0001")
    # the same msgid again: the first answer, nothing settled twice
    same = his.send("2304", msgid="H36010001early0001")
    assert same["output"] == settled["output"]
    his.values["setl_id"] = info["setl_id"]
    # settled: the discharge DIP/DRG pay by stands until the settlement is reversed
    late = his.send("2402")
    assert late["infcode"] == -1 and "[3002]" in late["err_msg"], late
    assert f"settlement {info['setl_id']} is in force; reverse it (2208)" in late["err_msg"]
    back = his.ok("2305")["setlinfo"]
    assert back["setl_id"] == info["setl_id"]
    # reversed: the discharge is taken back and made again
    assert his.ok("2405")["result"]["dscg_date"] is None
    assert his.ok("2402")["result"]["dscg_date"] == "2025-05-03"


def _bad(his: Hospital, body: bytes) -> str:
    out = his.raw(body)
    assert out["infcode"] == -1, out
    assert out["output"] == {}
    message: str = out["err_msg"]
    return message


def test_bad_envelopes_are_refused_naming_the_field(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    env = fixture("envelope", {})
    env.update(msgid="H36010001bad", sign_no=his.sign_no, infno="1101")

    def with_(**change: Any) -> bytes:
        return orjson.dumps({**env, "msgid": f"H36010001bad{uuid.uuid4().hex[:12]}", **change})

    no_infno = {k: v for k, v in env.items() if k != "infno"}
    assert _bad(his, orjson.dumps(no_infno)) == "[1001] infno: missing"
    assert "infno: 9999 is not a transaction" in _bad(his, with_(infno="9999"))
    assert _bad(his, with_(input=None)).startswith("[1001] input: missing")
    assert _bad(his, with_(input={})).startswith("[1003] input.data: missing")
    wrong_code = with_(input={"data": {"mdtrt_cert_type": "07", "certno": WHO}})
    assert _bad(his, wrong_code).startswith("[1003] input.data.mdtrt_cert_type: '07': not a code")
    settle = fixture("2206", his.values)["input"]
    settle["data"]["med_type"] = "99"
    message = _bad(his, with_(infno="2206", input=settle))
    assert message.startswith("[1003] input.data.med_type: '99': not a code of med_type")
    settle["data"]["med_type"] = "11"
    settle["data"]["insutype"] = "392"
    assert "settle under 390" in _bad(his, with_(infno="2206", input=settle))
    assert "insuplc_admdvs" in _bad(his, with_(insuplc_admdvs="36A100"))
    bad_signout = with_(infno="9002", input={"signOut": {"sign_no": "20250503" + "0" * 22}})
    assert "input.signOut.sign_no: not the sign-in of operator 0107" in _bad(his, bad_signout)
    assert _bad(his, b"{not json").startswith("[1001] body: not JSON")
    assert "lone surrogate" in _bad(his, b'{"infno": "1101", "msgid": "\\ud800"}')
    assert "[1001] body: must be a JSON object" in _bad(his, b"[1, 2]")
    his.values["mdtrt_id"] = his.ok("2201")["data"]["mdtrt_id"]
    settle = fixture("2206", his.values)["input"]
    settle["data"]["medfee_sumamt"] = "1e3"
    message = _bad(his, with_(infno="2206", input=settle))
    assert message.startswith("[1003] input.data.medfee_sumamt:"), message
    rlo = with_(input={"data": {"mdtrt_cert_type": "02", "psn_no": "1\u202e2"}})
    assert "input.data.psn_no" in _bad(his, rlo)
    first = his.send("1101", msgid="H36010001reused")
    assert first["infcode"] == 0
    reused = his.send("2206", msgid="H36010001reused")
    assert reused["err_msg"].startswith("[3003] msgid H36010001reused was used for 1101: a 2206"), (
        reused
    )
    missing = with_(input={"data": {"mdtrt_cert_type": "02"}})
    assert _bad(his, missing).startswith("[1003] input.data.psn_no: missing")


def test_unsigned_request_is_refused_in_the_envelope(api: Api) -> None:
    body = orjson.dumps(fixture("envelope", {}))
    r = api.client.post(PATH, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json()["infcode"] == -1 and r.json()["err_msg"].startswith("[2001]")


def test_stay_changed_and_taken_back(api: Api, uow: UnitOfWork) -> None:
    """2401 → 2403 → 2301 → 2302 → 2402 → 2405 → 2404, and 2201 → 2205 → 2202; 5206, 3201."""
    his = signed_in(api, uow)
    his.values["mdtrt_id"] = his.ok("2401")["result"]["mdtrt_id"]
    changed = his.ok("2403")["result"]
    assert [(d["diag_code"], d["maindiag_flag"]) for d in changed["diseinfo"]] == [
        ("K35.800", "1"),
        ("I10.X00", "0"),
    ]
    assert len(his.ok("2301")["result"]) == 4
    cut = his.ok("2302")
    assert (cut["fee_lines"]["count"], cut["fee_lines"]["det_item_fee_sumamt"]) == (3, "9150.00")
    assert his.ok("2402")["result"]["dscg_date"] == "2025-05-03"
    assert his.ok("2405")["result"]["dscg_date"] is None
    assert his.ok("2404")["data"]["status"] == "cancelled"

    his.values["mdtrt_id"] = his.ok("2201")["data"]["mdtrt_id"]
    his.ok("2204")
    emptied = his.ok("2205")
    assert emptied["fee_lines"]["count"] == 0
    refused = his.send("2207", msgid="H36010001nolines")  # no live fee details
    assert refused["infcode"] == -1 and "upload them (2204)" in refused["err_msg"]
    with Session(api.engine) as session:  # refused before the handler ran, and audited
        (entry,) = ApiRepository(session).audit_log(limit=1)
    assert (entry.action, entry.outcome, entry.msgid) == ("tx:2207", "refused", "H36010001nolines")
    assert his.ok("2202")["data"]["status"] == "cancelled"

    cum = his.ok("5206")["cuminfo"]
    assert (cum["year"], cum["settled"]["setl_cnt"]) == (2025, 0)
    stmt = his.ok("3201")["stmtinfo"]
    assert (stmt["setl_optins"], stmt["stmt_rslt"], stmt["stmt_rslt_dscr"]) == ("360100", "0", None)


def test_another_institutions_visit_is_refused(api: Api, uow: UnitOfWork) -> None:
    his = signed_in(api, uow)
    his.values["mdtrt_id"] = his.ok("2201")["data"]["mdtrt_id"]
    other = Hospital(api, api.institution("H36010002"))
    other.sign_no = other.ok("9001", fixmedins_code="H36010002")["signinoutb"]["sign_no"]
    other.values = dict(his.values)
    out = other.send("2204", fixmedins_code="H36010002")
    assert out["infcode"] == -1 and out["err_msg"].startswith("[2005]")
    # an envelope naming another institution than the one that signed it
    forged = his.send("2206", fixmedins_code="H36010002")
    assert forged["infcode"] == -1 and forged["err_msg"].startswith("[2005] fixmedins_code")


def test_sign_no_is_not_required_of_business_transactions(api: Api, uow: UnitOfWork) -> None:
    """Hospital systems in use send the 9001 number, their msgid, or nothing: the signature
    authenticates, so any is answered."""
    his = signed_in(api, uow)
    for sign_no in ("", "H36010001202505030930000001"):
        his.sign_no = sign_no
        assert his.ok("1101")["baseinfo"]["psn_no"] == his.values["psn_no"]


CODE_TABLE = [
    ("med_type", "11", "outpatient"),
    ("med_type", "14", "chronic"),
    ("med_type", "21", "inpatient"),
    ("med_type", "41", "pharmacy"),
    ("med_type", "51", "maternity"),
    ("med_type", "52", "maternity"),
    ("insutype", "310", "employee"),
    ("insutype", "390", "resident"),
    ("mdtrt_cert_type", "02", "national_id"),
    ("acct_used_flag", "0", "false"),
    ("dscg_way", "5", "5"),
    ("chrgitm_lv", "02", "B"),
    ("fund_pay_type", "330100", "large_amount"),
]


@pytest.mark.parametrize(("code_set", "code", "value"), CODE_TABLE)
def test_national_codes_map_to_yibao(code_set: str, code: str, value: str) -> None:
    assert to_yibao(code_set, code) == value


def test_code_sets_agree_with_the_vocabulary() -> None:
    sets = code_sets()
    for kind in EnrolmentKind:
        assert sets["psn_type"].to_national(kind.value) is not None, kind
    for status in EnrolmentStatus:
        assert sets["psn_insu_stas"].to_national(status.value) is not None, status
    for item_class, code in ITEM_CLASS_CODES.items():
        assert sets["chrgitm_lv"].to_yibao(code) == item_class.value
    for layer, (code, _name) in FUND_CODES.items():
        assert sets["fund_pay_type"].to_yibao(code) == layer
    for way in DischargeWay:
        assert sets["dscg_way"].to_yibao(way.value) == way.value
    with pytest.raises(CodeError, match="settle under 310"):
        to_yibao("insutype", "330")
