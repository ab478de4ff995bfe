"""A visit's clinical data: its diagnoses (ICD-10, the principal one first; with 2201 or the
discharge), its procedures (ICD-9-CM-3), its discharge (出院办理, 2402: date, way) and the
discharge taken back (2405)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yibao.domain.errors import ForeignRecord, InvalidField, NotFound, SettlementRefused
from yibao.domain.fees import (
    Diagnosis,
    Procedure,
    check_discharge_way,
    check_icd9cm3,
    check_icd10,
    principal_first,
)
from yibao.domain.settlement import Visit, VisitStatus
from yibao.policy.dates import DateError, parse_day
from yibao.services.settlement.common import not_after_today
from yibao.store.uow import UnitOfWork

#: The most diagnoses and procedures a visit holds.
MAX_DIAGNOSES = 50
MAX_PROCEDURES = 50
_FLAGS = ("0", "1")
_DIAG_TYPES = ("1", "2", "3")


@dataclass(frozen=True)
class VisitRecord:
    """A visit with its clinical data."""

    visit: Visit
    diagnoses: list[Diagnosis]
    procedures: list[Procedure]


def _flag(doc: Mapping[str, Any], key: str, field: str) -> bool:
    value = str(doc.get(key) or "0").strip()
    if value not in _FLAGS:
        raise InvalidField(field, f"{value!r}: expected 1 (yes) or 0 (no)")
    return value == "1"


def diagnoses_from(docs: object, field: str = "diseinfo") -> list[Diagnosis]:
    """Diagnoses from national ``diseinfo`` entries (diag_code, diag_type, maindiag_flag), the
    principal one first (flagged, else the first given)."""
    if docs is None:
        return []
    if not isinstance(docs, list):
        raise InvalidField(field, "must be a list")
    if len(docs) > MAX_DIAGNOSES:
        raise InvalidField(field, f"more than {MAX_DIAGNOSES} diagnoses")
    out = []
    for i, doc in enumerate(docs):
        at = f"{field}[{i}]"
        if not isinstance(doc, Mapping):
            raise InvalidField(at, "must be an object")
        code = check_icd10(doc.get("diag_code"), f"{at}.diag_code")
        diag_type = str(doc.get("diag_type") or "1").strip()
        if diag_type not in _DIAG_TYPES:
            raise InvalidField(
                f"{at}.diag_type", f"{diag_type!r}: expected 1 (西医), 2 (中医主病) or 3 (中医主证)"
            )
        out.append(Diagnosis(code, _flag(doc, "maindiag_flag", f"{at}.maindiag_flag"), diag_type))
    return principal_first(out, field)


def procedures_from(docs: object, field: str = "oprninfo") -> list[Procedure]:
    """Procedures from national ``oprninfo`` entries (oprn_oprt_code, oprn_date,
    main_oprn_flag), the main one first."""
    if docs is None:
        return []
    if not isinstance(docs, list):
        raise InvalidField(field, "must be a list")
    if len(docs) > MAX_PROCEDURES:
        raise InvalidField(field, f"more than {MAX_PROCEDURES} procedures")
    out = []
    for i, doc in enumerate(docs):
        at = f"{field}[{i}]"
        if not isinstance(doc, Mapping):
            raise InvalidField(at, "must be an object")
        code = check_icd9cm3(doc.get("oprn_oprt_code"), f"{at}.oprn_oprt_code")
        when = doc.get("oprn_date")
        try:
            on = None if when in (None, "") else parse_day(when, f"{at}.oprn_date")
        except DateError as exc:
            raise InvalidField(exc.field, exc.reason) from None
        out.append(Procedure(code, on, _flag(doc, "main_oprn_flag", f"{at}.main_oprn_flag")))
    mains = [i for i, p in enumerate(out) if p.main]
    if len(mains) > 1:
        raise InvalidField(f"{field}[{mains[1]}].main_oprn_flag", "a second main procedure")
    return [out[i] for i in mains] + [p for p in out if not p.main]


def _visit(uow: UnitOfWork, mdtrt_id: str, institution: str | None, *, lock: bool) -> Visit:
    visit = uow.settlements.visit(mdtrt_id, lock=lock)
    if visit is None:
        raise NotFound("visit", mdtrt_id)
    if institution is not None and visit.fixmedins_code != institution:
        raise ForeignRecord(f"visit {mdtrt_id}")
    return visit


def record_diagnoses(uow: UnitOfWork, visit_id: int, diagnoses: Sequence[Diagnosis]) -> None:
    """Replace a visit's diagnoses (inside the caller's unit of work)."""
    uow.fees.set_diagnoses(visit_id, diagnoses)


def discharge(
    uow: UnitOfWork,
    mdtrt_id: str,
    on: dt.date,
    way: object,
    diagnoses: Sequence[Diagnosis] | None = None,
    procedures: Sequence[Procedure] | None = None,
    *,
    institution: str | None = None,
) -> VisitRecord:
    """Discharge a visit (出院办理, 2402): its date and way, and its diagnoses and procedures
    (those given replace the stored ones). Refused: a cancelled visit, one with a settlement
    in force (DIP/DRG pay by what the discharge records: reverse the settlement, 2208,
    first), one already discharged, a date before the visit or after today, a fee line or a
    procedure dated after the discharge."""
    dscg_way = check_discharge_way(way)
    not_after_today("dscg_date", on)
    with uow:
        visit = _visit(uow, mdtrt_id, institution, lock=True)
        assert visit.id is not None
        if visit.status is VisitStatus.CANCELLED:
            raise SettlementRefused(f"visit {mdtrt_id}", "was cancelled")
        setl_id = uow.settlements.settled_on_visit(visit.id)
        if setl_id is not None:
            raise SettlementRefused(
                f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it (2208) first"
            )
        if visit.end_date is not None:
            raise SettlementRefused(
                f"visit {mdtrt_id}",
                f"already discharged on {visit.end_date}; cancel the discharge (2405) first",
            )
        if on < visit.begin_date:
            raise InvalidField("dscg_date", f"{on} is before the visit began ({visit.begin_date})")
        late = [line for line in uow.fees.lines(visit.id, live_only=True) if line.fee_date > on]
        if late:
            raise InvalidField(
                "dscg_date",
                f"{on} is before fee line {late[0].feedetl_sn} ({late[0].fee_date}); cancel it "
                "(2205) or discharge later",
            )
        for i, p in enumerate(procedures or []):
            if p.on is not None and not visit.begin_date <= p.on <= on:
                raise InvalidField(f"oprninfo[{i}].oprn_date", f"{p.on} is outside the stay")
        uow.fees.discharge(visit, on, dscg_way.value)
        if diagnoses:
            uow.fees.set_diagnoses(visit.id, diagnoses)
        if procedures:
            uow.fees.set_procedures(visit.id, procedures)
        uow.commit()
    return visit_record(uow, mdtrt_id)


def visit_diagnoses(
    uow: UnitOfWork,
    mdtrt_id: str,
    diagnoses: Sequence[Diagnosis],
    *,
    institution: str | None = None,
) -> VisitRecord:
    """Replace a visit's diagnoses (就诊信息上传, 2203; an admission's changes, 2403). Refused:
    no diagnosis given, a cancelled visit, one with a settlement in force."""
    if not diagnoses:
        raise InvalidField("diseinfo", "missing: at least one diagnosis (diag_code)")
    with uow:
        visit = _visit(uow, mdtrt_id, institution, lock=True)
        assert visit.id is not None
        if visit.status is VisitStatus.CANCELLED:
            raise SettlementRefused(f"visit {mdtrt_id}", "was cancelled")
        setl_id = uow.settlements.settled_on_visit(visit.id)
        if setl_id is not None:
            raise SettlementRefused(
                f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it (2208) first"
            )
        uow.fees.set_diagnoses(visit.id, diagnoses)
        uow.commit()
    return visit_record(uow, mdtrt_id)


def cancel_discharge(
    uow: UnitOfWork, mdtrt_id: str, *, institution: str | None = None
) -> VisitRecord:
    """Take back a discharge (2405): refused when the visit is not discharged or a settlement
    of it is in force."""
    with uow:
        visit = _visit(uow, mdtrt_id, institution, lock=True)
        assert visit.id is not None
        if visit.end_date is None:
            raise SettlementRefused(f"visit {mdtrt_id}", "is not discharged")
        setl_id = uow.settlements.settled_on_visit(visit.id)
        if setl_id is not None:
            raise SettlementRefused(
                f"visit {mdtrt_id}", f"settlement {setl_id} is in force; reverse it (2208) first"
            )
        uow.fees.discharge(visit, None, None)
        uow.commit()
    return visit_record(uow, mdtrt_id)


def visit_record(uow: UnitOfWork, mdtrt_id: str, *, institution: str | None = None) -> VisitRecord:
    """A visit with its diagnoses and procedures."""
    with uow:
        visit = _visit(uow, mdtrt_id, institution, lock=False)
        assert visit.id is not None
        return VisitRecord(visit, uow.fees.diagnoses(visit.id), uow.fees.procedures(visit.id))
