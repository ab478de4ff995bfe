"""Each national transaction mapped onto yibao's: which handler of ``/api/v1/tx`` answers it,
its input nodes (``data``, ``mdtrtinfo``, ``diseinfo``, ``feedetail``, ...) as that handler's
input, and the handler's output as the platform's (``setlinfo`` + ``setldetail``, ...). Codes are
translated through ``policy.codesets`` (``policy/codes/national.yaml``), the one mapping.

Inpatient transactions are the outpatient ones on an inpatient visit: 2401 is 2201, 2404 is
2202, 2403 is 2203, 2301/2302 are 2204/2205, 2303/2304/2305 are 2206/2207/2208.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yibao.policy.codesets import CodeError, code_sets, to_national, to_yibao
from yibao.services import clock


class InputError(ValueError):
    """A node or field of ``input`` missing or wrong: the message names it."""


Node = dict[str, Any]


def _node(given: dict[str, Any], name: str) -> Node:
    value = given.get(name)
    if not isinstance(value, dict):
        raise InputError(f"input.{name}: missing: an object with the transaction's fields")
    return value


def _list(given: dict[str, Any], name: str, required: bool) -> list[Any]:
    value = given.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise InputError(f"input.{name}: missing: a list")
    return value


def _code(node: Node, where: str, name: str, set_name: str | None = None) -> str | None:
    value = node.get(name)
    if value in (None, ""):
        return None
    try:
        return to_yibao(set_name or name, value)
    except CodeError as exc:
        raise InputError(f"input.{where}.{name}: {value!r}: {exc.reason}") from None


def _person(node: Node, where: str) -> dict[str, Any]:
    """psn_no, else the national ID: ``certno`` (psn_cert_type 01) or the certificate read
    (``mdtrt_cert_no`` of an ID card, mdtrt_cert_type 02)."""
    _code(node, where, "psn_cert_type")
    cert = _code(node, where, "mdtrt_cert_type")
    if node.get("psn_no") not in (None, ""):
        return {"psn_no": node["psn_no"]}
    if node.get("certno") not in (None, ""):
        return {"certno": node["certno"]}
    if cert == "national_id" and node.get("mdtrt_cert_no") not in (None, ""):
        return {"certno": node["mdtrt_cert_no"]}
    raise InputError(
        f"input.{where}.psn_no: missing: give psn_no, certno, or mdtrt_cert_type 02 with "
        "mdtrt_cert_no (yibao reads the e-voucher (01) and the social security card (03) "
        "through the person's national ID)"
    )


def _med_type(node: Node, where: str, default: str) -> str:
    return _code(node, where, "med_type") or default


# ------------------------------------------------------------------------------- outputs


def _gend(sex: Any) -> str | None:
    return {"M": "1", "F": "2"}.get(str(sex))


def baseinfo_out(out: dict[str, Any]) -> dict[str, Any]:
    b = out["baseinfo"]
    insuinfo = [
        {
            "insutype": to_national("insutype", e["insutype"]),
            "balc": out.get("balc"),
            "psn_type": to_national("psn_type", e["psn_type"]),
            "psn_insu_stas": to_national("psn_insu_stas", e["psn_insu_stas"]),
            "psn_insu_date": e["begndate"],
            "paus_insu_date": e["enddate"],
            "cvlserv_flag": "0",
            "insuplc_admdvs": e["insuplc_admdvs"],
            "emp_name": e["emp_no"],
        }
        for e in out["insuinfo"]
    ]
    return {
        "baseinfo": {
            "psn_no": b["psn_no"],
            "psn_cert_type": "01",
            "certno": b["certno"],
            "psn_name": b["psn_name"],
            "gend": _gend(b["gend"]),
            "naty": None,
            "brdy": b["brdy"],
            "age": b["age"],
        },
        "insuinfo": insuinfo,
        "idetinfo": [],
    }


#: setlinfo's amounts, as yibao's settlement answer names them.
SETL_AMOUNTS = (
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
)
#: Amounts of the platform's setlinfo that yibao does not pay (always zero here).
ZERO_AMOUNTS = ("cvlserv_pay", "hifes_pay", "hosp_part_amt")
_INSUTYPE_OF_SCHEME = {"employee": "310", "retiree": "310", "flexible": "310", "resident": "390"}


def setlinfo_out(out: dict[str, Any], msgid: str) -> dict[str, Any]:
    fund_names = code_sets()["fund_pay_type"]
    return {
        "setlinfo": {
            "setl_id": out["setl_id"],
            "mdtrt_id": out["mdtrt_id"],
            "psn_no": out["psn_no"],
            "insutype": _INSUTYPE_OF_SCHEME.get(str(out.get("scheme"))),
            "med_type": to_national("med_type", str(out.get("med_type"))),
            "setl_time": out["setl_time"],
            **{k: out[k] for k in SETL_AMOUNTS},
            **{k: "0.00" for k in ZERO_AMOUNTS},
            # 其他支付: the supplementary commercial insurance (惠民保) paid in one-stop settlement
            "oth_pay": out.get("commercial_pay", "0.00"),
            "balc": out.get("acct_balance_after"),
            "medins_setl_id": msgid,
            "clr_optins": out.get("pooling_area"),
            "setl_type": "1",
        },
        "setldetail": [
            {
                "fund_pay_type": d["fund_pay_type"],
                "fund_pay_type_name": fund_names.name_of(d["fund_pay_type"]) or d["fund_name"],
                "inscp_scp_amt": d["base"],
                "crt_payb_lmt_amt": None,
                "fund_payamt": d["fund_payamt"],
                "setl_proc_info": d["text"],
            }
            for d in out["setldetail"]
        ],
    }


def reversal_out(out: dict[str, Any], msgid: str) -> dict[str, Any]:
    """2208/2305: the reversed settlement's setlinfo, its amounts negated (setl_type 2)."""
    return {
        "setlinfo": {
            "setl_id": out["setl_id"],
            "mdtrt_id": out["mdtrt_id"],
            "psn_no": out["psn_no"],
            "setl_time": out["reversed_on"],
            **{k: out[k] for k in SETL_AMOUNTS},
            "medins_setl_id": msgid,
            "setl_type": "2",
        },
        "setldetail": [],
    }


# -------------------------------------------------------------------------------- inputs


def in_1101(given: dict[str, Any]) -> dict[str, Any]:
    data = _node(given, "data")
    out = _person(data, "data")
    if data.get("begntime") not in (None, ""):
        out["date"] = data["begntime"]
    return out


def _register(node: Node, where: str, default_med: str) -> dict[str, Any]:
    out = _person(node, where)
    _code(node, where, "insutype")
    out["med_type"] = _med_type(node, where, default_med)
    if node.get("begntime") not in (None, ""):
        out["begntime"] = node["begntime"]
    return out


def in_2201(given: dict[str, Any]) -> dict[str, Any]:
    return _register(_node(given, "data"), "data", "outpatient")


def in_2401(given: dict[str, Any]) -> dict[str, Any]:
    out = _register(_node(given, "mdtrtinfo"), "mdtrtinfo", "inpatient")
    if out["med_type"] != "inpatient" and out["med_type"] != "maternity":
        raise InputError("input.mdtrtinfo.med_type: not an inpatient med_type (21, 22 or 52)")
    diseinfo = _list(given, "diseinfo", required=False)
    if diseinfo:
        out["diseinfo"] = diseinfo
    return out


def in_visit(given: dict[str, Any]) -> dict[str, Any]:
    """2202, 2404, 2405: ``data.mdtrt_id``."""
    return {"mdtrt_id": _node(given, "data").get("mdtrt_id")}


def _diagnoses(given: dict[str, Any], node_name: str) -> dict[str, Any]:
    node = _node(given, node_name)
    _med_type(node, node_name, "outpatient")
    return {"mdtrt_id": node.get("mdtrt_id"), "diseinfo": _list(given, "diseinfo", True)}


def in_2203(given: dict[str, Any]) -> dict[str, Any]:
    return _diagnoses(given, "mdtrtinfo")


def in_2403(given: dict[str, Any]) -> dict[str, Any]:
    return _diagnoses(given, "adminfo")


def in_fees(given: dict[str, Any]) -> dict[str, Any]:
    """2204, 2301: ``feedetail``, every line of one visit (its ``mdtrt_id``)."""
    lines = _list(given, "feedetail", required=True)
    visits = {str(x.get("mdtrt_id")) for x in lines if isinstance(x, dict)}
    if len(visits) != 1 or "None" in visits:
        raise InputError(
            "input.feedetail[].mdtrt_id: every line must name the same visit (mdtrt_id)"
        )
    for i, x in enumerate(lines):
        if isinstance(x, dict) and x.get("chrgitm_lv") not in (None, ""):
            _code(x, f"feedetail[{i}]", "chrgitm_lv")
    return {"mdtrt_id": visits.pop(), "feedetail": lines}


def in_cancel_fees(given: dict[str, Any]) -> dict[str, Any]:
    """2205, 2302: ``data.mdtrt_id``; ``feedetl_sn`` one line, else (or ``0000``) all."""
    data = _node(given, "data")
    out: dict[str, Any] = {"mdtrt_id": data.get("mdtrt_id")}
    sn = data.get("feedetl_sn")
    if sn not in (None, "", "0000"):
        out["feedetl_sn"] = sn
    return out


def in_settle(given: dict[str, Any]) -> dict[str, Any]:
    """2206/2207, 2303/2304: a registered visit settled from its fee details."""
    data = _node(given, "data")
    out = _person(data, "data")
    _med_type(data, "data", "outpatient")
    _code(data, "data", "insutype")
    _code(data, "data", "psn_setlway")
    if data.get("mdtrt_id") in (None, ""):
        raise InputError("input.data.mdtrt_id: missing: register the visit (2201/2401) first")
    out["mdtrt_id"] = data["mdtrt_id"]
    if str(data.get("mid_setl_flag") or "0") != "0":
        raise InputError(
            "input.data.mid_setl_flag: interim settlement of a stay (中途结算) is not offered: "
            "send 0 and settle the stay at discharge"
        )
    out["date"] = clock.today().isoformat()  # the platform settles at the time of the call
    if data.get("medfee_sumamt") not in (None, ""):
        out["medfee_sumamt"] = data["medfee_sumamt"]
    flag = _code(data, "data", "acct_used_flag")
    if flag is not None:
        out["use_account"] = flag == "true"
    if data.get("dise_codg") not in (None, ""):  # 门诊慢特病: the disease the claim is for
        out["disease"] = data["dise_codg"]
    return out


def in_reverse(given: dict[str, Any]) -> dict[str, Any]:
    data = _node(given, "data")
    return {"setl_id": data.get("setl_id")}


def in_2402(given: dict[str, Any]) -> dict[str, Any]:
    node = _node(given, "dscginfo")
    way = _code(node, "dscginfo", "dscg_way")
    out: dict[str, Any] = {"mdtrt_id": node.get("mdtrt_id"), "dscg_way": way}
    if node.get("endtime") not in (None, ""):
        out["dscg_date"] = node["endtime"]
    diseinfo = _list(given, "diseinfo", required=False)
    if diseinfo:
        out["diseinfo"] = diseinfo
    return out


def in_5206(given: dict[str, Any]) -> dict[str, Any]:
    data = _node(given, "data")
    out = _person(data, "data")
    ym = data.get("cum_ym")
    if ym not in (None, ""):
        if not re.fullmatch(r"[0-9]{6}", str(ym)):
            raise InputError(f"input.data.cum_ym: {ym!r} is not a month (YYYYMM)")
        out["year"] = str(ym)[:4]
    return out


def in_3201(given: dict[str, Any]) -> dict[str, Any]:
    data = dict(_node(given, "data"))
    if data.get("insutype") not in (None, ""):
        _code(data, "data", "insutype")
    return data


def in_2601(given: dict[str, Any]) -> dict[str, Any]:
    """``data``: ``omsgid`` (the transaction undone), ``oinfno`` (its number), ``psn_no``."""
    data = _node(given, "data")
    return {"omsgid": data.get("omsgid"), "oinfno": data.get("oinfno")}


def in_9101(given: dict[str, Any]) -> dict[str, Any]:
    """``fsUploadIn``: ``in`` (the file's bytes), ``filename``, ``fixmedins_code``."""
    return dict(_node(given, "fsUploadIn"))


def in_9102(given: dict[str, Any]) -> dict[str, Any]:
    """``fsDownloadIn``: ``file_qury_no`` (``filename`` and ``fixmedins_code`` not needed)."""
    return {"file_qury_no": _node(given, "fsDownloadIn").get("file_qury_no")}


# -------------------------------------------------------------------------------- table


def _pass(out: dict[str, Any], _msgid: str) -> dict[str, Any]:
    return out


@dataclass(frozen=True)
class Transaction:
    """One national transaction: the handler that answers it, its input and output."""

    yibao: str
    node: str
    to_input: Callable[[dict[str, Any]], dict[str, Any]]
    to_output: Callable[[dict[str, Any], str], dict[str, Any]] = _pass
    #: A settlement that needs the visit's fee details uploaded first.
    needs_lines: bool = False
    renames: dict[str, str] = field(default_factory=dict)


def _wrap(key: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    return lambda out, _msgid: {key: out}


def _visit_data(out: dict[str, Any], _msgid: str) -> dict[str, Any]:
    return {"data": {"mdtrt_id": out["mdtrt_id"], "psn_no": out["psn_no"], "ipt_otp_no": None}}


def _admission(out: dict[str, Any], _msgid: str) -> dict[str, Any]:
    return {"result": {"mdtrt_id": out["mdtrt_id"], "psn_no": out["psn_no"], "ipt_otp_no": None}}


def _fees(out: dict[str, Any], _msgid: str) -> dict[str, Any]:
    return {"result": out["result"], "fee_lines": out["fee_lines"]}


def _stmt(out: dict[str, Any], _msgid: str) -> dict[str, Any]:
    return {
        "stmtinfo": {
            "setl_optins": out["setl_optins"],
            "stmt_rslt": out["stmt_rslt"],
            "stmt_rslt_dscr": "; ".join(
                f"{d['field']}: institution {d['institution']}, centre {d['centre']}"
                for d in out["differences"]
            )
            or None,
        },
        **out,
    }


def _1101(out: dict[str, Any], _msgid: str) -> dict[str, Any]:
    return baseinfo_out(out)


#: yibao field names (in its messages) → the national input path.
_SETTLE_NAMES = {
    "total": "data.medfee_sumamt",
    "medfee_sumamt": "data.medfee_sumamt",
    "date": "data.setl_time",
    "use_account": "data.acct_used_flag",
}
_REG_NAMES = {"date": "begntime"}

TRANSACTIONS: dict[str, Transaction] = {
    "1101": Transaction("1101", "data", in_1101, _1101),
    "2201": Transaction("2201", "data", in_2201, _visit_data, renames=_REG_NAMES),
    "2202": Transaction("2202", "data", in_visit, _wrap("data")),
    "2203": Transaction("2203", "mdtrtinfo", in_2203, _wrap("result")),
    "2204": Transaction("2204", "feedetail", in_fees, _fees),
    "2205": Transaction("2205", "data", in_cancel_fees, _fees),
    "2206": Transaction("2206", "data", in_settle, setlinfo_out, renames=_SETTLE_NAMES),
    "2207": Transaction(
        "2207", "data", in_settle, setlinfo_out, needs_lines=True, renames=_SETTLE_NAMES
    ),
    "2208": Transaction("2208", "data", in_reverse, reversal_out),
    "2401": Transaction("2201", "mdtrtinfo", in_2401, _admission, renames=_REG_NAMES),
    "2402": Transaction(
        "2402", "dscginfo", in_2402, _wrap("result"), renames={"dscg_date": "endtime"}
    ),
    "2403": Transaction("2203", "adminfo", in_2403, _wrap("result")),
    "2404": Transaction("2202", "data", in_visit, _wrap("data")),
    "2405": Transaction("2405", "data", in_visit, _wrap("result")),
    "2301": Transaction("2204", "feedetail", in_fees, _fees),
    "2302": Transaction("2205", "data", in_cancel_fees, _fees),
    "2303": Transaction("2206", "data", in_settle, setlinfo_out, renames=_SETTLE_NAMES),
    "2304": Transaction(
        "2207", "data", in_settle, setlinfo_out, needs_lines=True, renames=_SETTLE_NAMES
    ),
    "2305": Transaction("2208", "data", in_reverse, reversal_out),
    "5206": Transaction("5206", "data", in_5206, _wrap("cuminfo"), renames={"year": "cum_ym"}),
    "3201": Transaction("3201", "data", in_3201, _stmt),
    "3202": Transaction("3202", "data", in_3201),
    "2601": Transaction("2601", "data", in_2601),
    "9101": Transaction("9101", "fsUploadIn", in_9101),
    "9102": Transaction("9102", "fsDownloadIn", in_9102),
}

_FIELD = re.compile(r"^(?:input\.)?([a-z_]+)([\[.:].*)$", re.S)


def national_message(tx: Transaction, message: str) -> str:
    """yibao's message with its field named as the platform's input names it
    (``input.certno: ...`` → ``input.data.certno: ...``)."""
    m = _FIELD.match(message)
    if m is None:
        return message
    name, rest = m.groups()
    if name in ("feedetail", "diseinfo", "oprninfo"):
        return f"input.{name}{rest}"
    path = tx.renames.get(name, name)
    if "." not in path:
        path = f"{tx.node}.{path}"
    return f"input.{path}{rest}"
