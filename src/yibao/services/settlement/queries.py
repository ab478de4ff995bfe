"""Reading settlements back: a stored settlement (its answer, status and layers) and a person's
year-to-date state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.domain.errors import NotFound
from yibao.domain.ids import NotStored
from yibao.domain.settlement import Layer, SettlementAnswer, SettlementStatus
from yibao.services.common import find_person
from yibao.services.settlement.answer import answer_from_json
from yibao.store.uow import UnitOfWork

#: A person's year-to-date state (fen and counts, by ``kernel.settle.state_keys``).
YearState = dict[str, int]


@dataclass(frozen=True, slots=True)
class SettlementOnRecord:
    """A stored settlement: its answer as stored (``response``, JSON) and typed (``answer``),
    its status, when it was reversed, and its layers as stored (fen)."""

    answer: SettlementAnswer
    response: dict[str, Any]
    status: SettlementStatus
    reversed_on: dt.date | None
    layers: tuple[Layer, ...]

    def json(self) -> dict[str, Any]:
        """The stored answer with its status, reversal day and layers (fen), as the API sends
        it."""
        return {
            **self.response,
            "status": self.status.value,
            "reversed_on": self.reversed_on.isoformat() if self.reversed_on else None,
            "layers": [
                {"fund_pay_type": layer.fund_pay_type, "base": layer.base, "payment": layer.payment}
                for layer in self.layers
            ],
        }


def settlement_on_record(uow: UnitOfWork, setl_id: str) -> SettlementOnRecord:
    """A stored settlement read back, typed."""
    with uow:
        row = uow.settlements.get(setl_id)
        if row is None:
            raise NotFound("settlement", setl_id)
        return SettlementOnRecord(
            answer=answer_from_json(row.response),
            response=row.response,
            status=row.status,
            reversed_on=row.reversed_on,
            layers=tuple(uow.settlements.layers(row.id)),
        )


def settlement_of(uow: UnitOfWork, setl_id: str) -> dict[str, Any]:
    """A stored settlement as the API sends it: ``settlement_on_record(...).json()``."""
    return settlement_on_record(uow, setl_id).json()


def year_to_date(uow: UnitOfWork, who: str | int, year: int) -> YearState:
    """The person's stored year-to-date state (5206's source)."""
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        return uow.settlements.state(person.id, year)
