"""Fee detail lines and a visit's clinical data over ``yibao.services.fees``: 2204 (upload
lines), 2205 (cancel lines), 2203 (a visit's diagnoses), 2402 (discharge), 2405 (cancel the
discharge), 5204 (a visit's lines, diagnoses and procedures). Diagnoses at admission come with 2201
(``handlers_settlement``).

An institution acts only on its own visits: another institution's visit is refused with 2005
before the service runs. Answers use the national field names; amounts are yuan strings,
``cnt`` four decimals, ``pric`` and ``pric_uplmt_amt`` six.
"""

from __future__ import annotations

from typing import Any

from yibao.api.http import inputs
from yibao.api.http.context import TxContext
from yibao.api.http.fee_json import classes_json, line_json, results_json, upload_of
from yibao.api.http.handlers_settlement import _own_institution, _visit_code
from yibao.api.http.tx import handler
from yibao.services import fees
from yibao.services.fees import FeeChange, VisitRecord
from yibao.services.settlement.answer import fee_lines_json


def change_json(change: FeeChange) -> dict[str, Any]:
    return {
        "mdtrt_id": change.visit.mdtrt_id,
        "psn_no": str(change.visit.person_id),
        "result": results_json(change.lines),
        "cancelled": change.cancelled,
        "fee_lines": fee_lines_json(change.sums),
    }


def _record_json(record: VisitRecord) -> dict[str, Any]:
    v = record.visit
    return {
        "mdtrt_id": v.mdtrt_id,
        "psn_no": str(v.person_id),
        "begntime": v.begin_date.isoformat(),
        "dscg_date": None if v.end_date is None else v.end_date.isoformat(),
        "dscg_way": v.discharge_way,
        "status": v.status.value,
        "diseinfo": [
            {
                "diag_srt_no": i,
                "diag_code": d.code,
                "diag_type": d.diag_type,
                "maindiag_flag": "1" if d.principal else "0",
            }
            for i, d in enumerate(record.diagnoses, start=1)
        ],
        "oprninfo": [
            {
                "oprn_oprt_code": p.code,
                "oprn_date": None if p.on is None else p.on.isoformat(),
                "main_oprn_flag": "1" if p.main else "0",
            }
            for p in record.procedures
        ],
    }


def _own_visit(ctx: TxContext, mdtrt_id: str) -> int:
    code, person_id = _visit_code(ctx, mdtrt_id)
    _own_institution(ctx, code, f"visit {mdtrt_id}")
    return person_id


#: The audit detail of an upload.
UPLOADED = "fee lines uploaded"


@handler("2204", "upload fee detail lines of a visit: each classified, all or none stored")
def upload_2204(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    """One upload; concurrent ones from institutions are uploaded together
    (``api.serving.batch``)."""
    upload = upload_of(data, ctx.principal.institution)
    person_id = _own_visit(ctx, upload.mdtrt_id)
    ctx.audit(person_id=person_id, target=f"visit:{upload.mdtrt_id}", detail=UPLOADED)
    change = fees.upload_lines(
        ctx.uow(),
        upload.mdtrt_id,
        upload.docs,
        institution=upload.institution,
        diagnoses=upload.diagnoses,
        procedures=upload.procedures,
        catalogues=ctx.catalogues,
    )
    return change_json(change)


@handler("2205", "cancel fee detail lines of a visit (some, or all)")
def cancel_2205(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    given = data.get("feedetl_sn")
    serials: list[str] | None
    if given in (None, "", "ALL"):
        serials = None
    elif isinstance(given, list) and given:
        serials = [inputs.require_text({"feedetl_sn": s}, "feedetl_sn", 30) for s in given]
    elif isinstance(given, str):
        serials = [inputs.require_text(data, "feedetl_sn", 30)]
    else:
        raise inputs.invalid("feedetl_sn", "a serial, a list of serials, or leave it out for all")
    person_id = _own_visit(ctx, mdtrt_id)
    ctx.audit(person_id=person_id, target=f"visit:{mdtrt_id}", detail="fee lines cancelled")
    change = fees.cancel_lines(
        ctx.uow(),
        mdtrt_id,
        serials,
        institution=ctx.principal.institution,
        catalogues=ctx.catalogues,
    )
    return change_json(change)


@handler("2203", "a visit's diagnoses (visit information; an admission's changes)")
def diagnoses_2203(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    diagnoses = fees.diagnoses_from(data.get("diseinfo"))
    person_id = _own_visit(ctx, mdtrt_id)
    ctx.audit(person_id=person_id, target=f"visit:{mdtrt_id}", detail="diagnoses recorded")
    record = fees.visit_diagnoses(
        ctx.uow(), mdtrt_id, diagnoses, institution=ctx.principal.institution
    )
    return _record_json(record)


@handler("2402", "discharge: date, way, diagnoses and procedures")
def discharge_2402(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    on = inputs.date(data, "dscg_date", default=inputs.date(data, "endtime", default=ctx.today))
    way = inputs.require_text(data, "dscg_way", 2)
    diagnoses = fees.diagnoses_from(data.get("diseinfo"))
    procedures = fees.procedures_from(data.get("oprninfo"))
    person_id = _own_visit(ctx, mdtrt_id)
    ctx.audit(person_id=person_id, target=f"visit:{mdtrt_id}", detail="discharged")
    record = fees.discharge(
        ctx.uow(),
        mdtrt_id,
        on,
        way,
        diagnoses,
        procedures,
        institution=ctx.principal.institution,
    )
    return _record_json(record)


@handler("2405", "cancel a discharge")
def cancel_discharge_2405(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    person_id = _own_visit(ctx, mdtrt_id)
    ctx.audit(person_id=person_id, target=f"visit:{mdtrt_id}", detail="discharge cancelled")
    record = fees.cancel_discharge(ctx.uow(), mdtrt_id, institution=ctx.principal.institution)
    return _record_json(record)


@handler("5204", "a visit's fee detail lines, diagnoses and procedures")
def visit_5204(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    person_id = _own_visit(ctx, mdtrt_id)
    ctx.audit(person_id=person_id, target=f"visit:{mdtrt_id}", detail="visit read")
    institution = ctx.principal.institution
    record = fees.visit_record(ctx.read_uow(), mdtrt_id, institution=institution)
    _, lines = fees.visit_lines(ctx.read_uow(), mdtrt_id, institution=institution)
    return {
        **_record_json(record),
        "feedetail": [
            {**line_json(line), "status": line.status.value, **classes_json(line)} for line in lines
        ],
    }
