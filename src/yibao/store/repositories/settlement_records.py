"""A settlement as the store keeps it: the record to write (``SettlementRecord``), what a
reversal reads back (``StoredSettlement``), and the row → domain mappers of visits and
settlements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from yibao.domain.errors import InvalidField
from yibao.domain.settlement import Settlement, SettlementStatus, Visit, VisitStatus
from yibao.store.models import SETTLEMENT_AMOUNTS, SettlementRow, VisitRow


def visit_of(row: VisitRow | Row[Any]) -> Visit:
    return Visit(
        mdtrt_id=row.mdtrt_id,
        person_id=row.person_id,
        fixmedins_code=row.fixmedins_code,
        med_type=row.med_type,
        level=row.level,
        begin_date=row.begin_date,
        cross_region=row.cross_region,
        status=VisitStatus(row.status),
        end_date=row.end_date,
        cancelled_on=row.cancelled_on,
        id=row.id,
        discharge_way=row.discharge_way,
    )


def visit_values(visit: Visit) -> dict[str, Any]:
    return {
        "mdtrt_id": visit.mdtrt_id,
        "person_id": visit.person_id,
        "fixmedins_code": visit.fixmedins_code,
        "med_type": visit.med_type,
        "level": visit.level,
        "cross_region": visit.cross_region,
        "begin_date": visit.begin_date,
        "end_date": visit.end_date,
        "status": visit.status.value,
        "cancelled_on": visit.cancelled_on,
        "discharge_way": visit.discharge_way,
    }


@dataclass(frozen=True, slots=True)
class StoredSettlement:
    """What a reversal needs of a stored settlement."""

    id: int
    setl_id: str
    request_id: str
    request_digest: str
    person_id: int
    visit_id: int
    year: int
    status: SettlementStatus
    amounts: dict[str, int]
    response: dict[str, Any]
    state_delta: dict[str, int]
    transaction_id: int | None
    reversed_on: dt.date | None
    reversal_request_id: str | None
    reversal_transaction_id: int | None
    reversal_response: dict[str, Any] | None


def stored_of(row: SettlementRow | Row[Any]) -> StoredSettlement:
    return StoredSettlement(
        id=row.id,
        setl_id=row.setl_id,
        request_id=row.request_id,
        request_digest=row.request_digest,
        person_id=row.person_id,
        visit_id=row.visit_id,
        year=row.year,
        status=SettlementStatus(row.status),
        amounts={a: int(getattr(row, a)) for a in SETTLEMENT_AMOUNTS},
        response=dict(row.response),
        state_delta={k: int(v) for k, v in row.state_delta.items()},
        transaction_id=row.transaction_id,
        reversed_on=row.reversed_on,
        reversal_request_id=row.reversal_request_id,
        reversal_transaction_id=row.reversal_transaction_id,
        reversal_response=dict(row.reversal_response) if row.reversal_response else None,
    )


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """A settlement to store: the answer and what the store keeps beside it."""

    settlement: Settlement
    request_id: str
    request_digest: str
    visit_id: int
    pooling_area: str
    settled_on: dt.date
    scheme: str
    admission_no: int
    reasons: int
    mutual_aid_link_id: int | None
    state_delta: dict[str, int]
    #: what the person's commercial product (惠民保) paid, and the purchase
    commercial_pay: int = 0
    commercial_purchase_id: int | None = None

    def values(self) -> dict[str, Any]:
        s = self.settlement
        if s.setl_id is None:
            raise InvalidField("setl_id", "a settlement is stored with its id")
        return {
            "setl_id": s.setl_id,
            "request_id": self.request_id,
            "request_digest": self.request_digest,
            "visit_id": self.visit_id,
            "person_id": s.person_id,
            "pooling_area": self.pooling_area,
            "year": s.year,
            "settled_on": self.settled_on,
            "scheme": self.scheme,
            "status": SettlementStatus.SETTLED.value,
            "admission_no": self.admission_no,
            "reasons": self.reasons,
            "mutual_aid_link_id": self.mutual_aid_link_id,
            "response": s.response,
            "state_delta": self.state_delta,
            "transaction_id": s.transaction_id,
            **{a: s.amounts[a] for a in SETTLEMENT_AMOUNTS},
            "commercial_pay": self.commercial_pay,
            "commercial_purchase_id": self.commercial_purchase_id,
        }
