"""The platform's envelope (入参报文) and answer (出参报文): every field checked and named."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from yibao.domain.text import NOT_IN_IDENTIFIERS, bad_in_identifier

#: The platform answers 0 for success and -1 for any failure (its err_msg says why).
SUCCESS = 0
FAILURE = -1

#: China Standard Time: the platform's times are local.
CST = dt.timezone(dt.timedelta(hours=8))

_MSGID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_INFNO = re.compile(r"^[0-9]{4}$")
_ADMDVS = re.compile(r"^[0-9]{6}$")

#: Optional text fields of the envelope and their longest length (national field table).
OPTIONAL = {
    "mdtrtarea_admvs": 6,
    "insuplc_admdvs": 6,
    "recer_sys_code": 10,
    "dev_no": 100,
    "dev_safe_info": 2000,
    "cainfo": 1024,
    "signtype": 10,
    "infver": 6,
    "opter_type": 3,
    "opter_name": 50,
    "fixmedins_name": 200,
    "sign_no": 30,
}
#: Required text fields and their longest length.
REQUIRED = {"infno": 4, "msgid": 64, "opter": 64, "inf_time": 32, "fixmedins_code": 32}
#: 经办人类别: 1 clerk, 2 self-service terminal, 3 mobile terminal.
OPTER_TYPES = ("1", "2", "3")


class EnvelopeError(ValueError):
    """A field of the envelope missing or wrong: ``field: reason``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class Envelope:
    infno: str
    msgid: str
    fixmedins_code: str
    opter: str
    inf_time: str
    input: dict[str, Any]
    fields: dict[str, str | None]

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def _text(doc: dict[str, Any], name: str, max_len: int, required: bool) -> str | None:
    value = doc.get(name)
    if value is None or value == "":
        if required:
            raise EnvelopeError(name, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EnvelopeError(name, "must be a string")
    text = str(value).strip()
    if len(text) > max_len:
        raise EnvelopeError(name, f"longer than {max_len} characters")
    if name not in ("opter_name", "fixmedins_name", "dev_safe_info", "cainfo"):
        bad = bad_in_identifier(text)
        if bad is not None:
            raise EnvelopeError(name, f"contains {bad}: {NOT_IN_IDENTIFIERS}")
    return text


def parse(doc: object) -> Envelope:
    """The envelope of a request body already parsed as JSON; ``EnvelopeError`` names the
    first field that is wrong."""
    if not isinstance(doc, dict):
        raise EnvelopeError("body", "must be a JSON object (the platform's envelope)")
    fields = {n: _text(doc, n, m, True) for n, m in REQUIRED.items()}
    fields.update({n: _text(doc, n, m, False) for n, m in OPTIONAL.items()})
    if not _INFNO.match(fields["infno"] or ""):
        raise EnvelopeError("infno", f"{fields['infno']!r} is not a transaction number (4 digits)")
    if not _MSGID.match(fields["msgid"] or ""):
        raise EnvelopeError("msgid", "1-64 of A-Z a-z 0-9 _ . : -")
    for area in ("mdtrtarea_admvs", "insuplc_admdvs"):
        value = fields[area]
        if value is not None and not _ADMDVS.match(value):
            raise EnvelopeError(area, f"{value!r} is not an area code (6 digits)")
    if fields["opter_type"] is not None and fields["opter_type"] not in OPTER_TYPES:
        raise EnvelopeError("opter_type", f"{fields['opter_type']!r}: expected 1, 2 or 3")
    given = doc.get("input")
    if not isinstance(given, dict):
        raise EnvelopeError("input", "missing: an object with the transaction's nodes")
    return Envelope(
        infno=fields["infno"] or "",
        msgid=fields["msgid"] or "",
        fixmedins_code=fields["fixmedins_code"] or "",
        opter=fields["opter"] or "",
        inf_time=fields["inf_time"] or "",
        input=given,
        fields=fields,
    )


def stamp(at: dt.datetime) -> str:
    """The platform's time format: yyyyMMddHHmmssSSS, China Standard Time."""
    local = at.astimezone(CST)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def answer(
    infcode: int,
    msgid: str | None,
    received: dt.datetime,
    output: Any = None,
    err_msg: str | None = None,
    warn_msg: str | None = None,
) -> dict[str, Any]:
    """The platform's answer."""
    return {
        "infcode": infcode,
        "inf_refmsgid": msgid,
        "refmsg_time": stamp(received),
        "respond_time": stamp(dt.datetime.now(dt.UTC)),
        "err_msg": err_msg,
        "warn_msg": warn_msg,
        "cainfo": None,
        "signtype": None,
        "output": output if output is not None else {},
    }
