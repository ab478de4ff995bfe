"""Files and the detail reconciliation: 9101 (upload a file), 9102 (download one), 3202
(reconcile an institution's settlements one by one against its uploaded detail file), over
``services.exchange_files``. A file's bytes travel as the platform's Java clients send them, a
list of byte values, or as a base64 string; 9102 answers base64 (``/fsi`` answers the bytes).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from yibao.api.http import inputs
from yibao.api.http.context import TxContext
from yibao.api.http.handlers_statements import differences_out, reconcile_input
from yibao.api.http.tx import handler
from yibao.policy import fen_to_yuan
from yibao.services import exchange_files
from yibao.services.clock import now
from yibao.services.exchange_files import ExchangeFile


def file_bytes(data: dict[str, Any], field: str = "in") -> bytes:
    """A file's bytes: a list of byte values (0..255) or a base64 string."""
    value = data.get(field)
    if isinstance(value, list):
        if not all(type(b) is int and 0 <= b <= 255 for b in value):
            raise inputs.invalid(field, "a list of byte values must hold integers 0..255 only")
        return bytes(value)
    if isinstance(value, str) and value:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise inputs.invalid(field, "not base64 (RFC 4648, with padding)") from None
    raise inputs.invalid(field, "missing: the file, as a list of byte values or base64")


def file_info(f: ExchangeFile) -> dict[str, Any]:
    return {
        "file_qury_no": f.file_qury_no,
        "filename": f.filename,
        "dld_endtime": f.expires_at.strftime("%Y-%m-%d %H:%M:%S"),
        "size": f.size,
        "sha256": f.sha256,
    }


@handler("9101", "upload a file (a 3202 detail file): its file_qury_no")
def upload_9101(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    name = data.get("filename")
    if not isinstance(name, str):
        raise inputs.invalid("filename", "missing: the file's name")
    content = file_bytes(data)
    code = ctx.principal.institution or inputs.require_text(data, "fixmedins_code", 32)
    ctx.audit(target=f"institution:{code}", detail=f"file {name[:80]} ({len(content)} bytes)")
    return file_info(exchange_files.upload(ctx.uow(), code, name, content, now()))


@handler("9102", "download a file by its file_qury_no (an upload or a 3202 result)")
def download_9102(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    number = inputs.require_text(data, "file_qury_no", 40)
    ctx.audit(target=f"file:{number}", detail="file downloaded")
    f = exchange_files.download(ctx.read_uow(), number, ctx.principal.institution, now())
    return {**file_info(f), "content": base64.b64encode(f.content).decode()}


@handler("3202", "detail reconciliation: an uploaded file of settlements against the centre's")
def reconcile_3202(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    period = reconcile_input(ctx, data, "detail reconciliation")
    number = inputs.require_text(data, "file_qury_no", 40)
    found = exchange_files.reconcile_details(
        ctx.uow(),
        period.institution,
        number,
        period.first,
        period.last,
        period.claimed,
        now(),
        scheme=period.scheme,
        area=period.area,
    )
    differences = found.differences
    agrees = not differences and not found.totals.differences
    return {
        "fileinfo": file_info(found.result),
        "stmtinfo": {
            "setl_optins": period.area,
            "stmt_rslt": "0" if agrees else "1",
            "stmt_rslt_dscr": None if agrees else f"{len(differences)} settlement(s) differ",
        },
        "fixmedins_code": period.institution,
        "stmt_begndate": period.first.isoformat(),
        "stmt_enddate": period.last.isoformat(),
        "rows": found.rows,
        "differences": [
            {
                "setl_id": d.setl_id,
                "refd_setl_flag": "1" if d.refund else "0",
                "kind": d.kind,
                "psn_no": d.psn_no,
                "fields": [
                    {"field": n, "institution": fen_to_yuan(a), "centre": fen_to_yuan(b)}
                    for n, a, b in d.fields
                ],
            }
            for d in differences[:100]
        ],
        "differences_total": len(differences),
        "totals": differences_out(found.totals.differences),
    }
