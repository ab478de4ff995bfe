"""Visits and settlements (一站式结算) as plain data: the claim a designated institution submits,
its visit, and what was settled. Amounts are integer fen; no ORM import."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from typing import Any

from yibao.domain.errors import InvalidField
from yibao.domain.fees import LineSums
from yibao.policy import money
from yibao.policy.vocab import CROSS_REGIONS, LEVELS, MED_TYPES


class VisitStatus(StrEnum):
    REGISTERED = "registered"
    CANCELLED = "cancelled"


class SettlementStatus(StrEnum):
    SETTLED = "settled"
    REVERSED = "reversed"


def check_med_type(value: object, field: str = "med_type") -> str:
    if value not in MED_TYPES:
        raise InvalidField(
            field, f"unknown value {value!r}; expected one of {', '.join(MED_TYPES)}"
        )
    return str(value)


def check_level(value: object, field: str = "level") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in LEVELS:
        raise InvalidField(field, f"unknown institution level {value!r}; expected 1, 2 or 3")
    return value


def check_cross_region(value: object, field: str = "cross_region") -> str:
    if value not in CROSS_REGIONS:
        raise InvalidField(
            field, f"unknown value {value!r}; expected one of {', '.join(CROSS_REGIONS)}"
        )
    return str(value)


def check_fen(value: object, field: str) -> int:
    """An amount in integer fen, not negative, not above ``policy.money.MAX_FEN``."""
    try:
        return money.check_fen(value, field)
    except money.AmountError as exc:
        raise InvalidField(exc.field, exc.reason) from None


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit (就诊) registered by a designated institution: ``mdtrt_id``."""

    mdtrt_id: str
    person_id: int
    fixmedins_code: str
    med_type: str
    level: int
    begin_date: dt.date
    cross_region: str = "none"
    status: VisitStatus = VisitStatus.REGISTERED
    end_date: dt.date | None = None  # the discharge date (出院日期, 2402)
    cancelled_on: dt.date | None = None
    id: int | None = None
    discharge_way: str | None = None  # 离院方式 (policy.vocab.DischargeWay), with end_date

    def __post_init__(self) -> None:
        check_med_type(self.med_type)
        check_level(self.level)
        check_cross_region(self.cross_region)
        if not self.fixmedins_code or len(self.fixmedins_code) > 40:
            raise InvalidField("fixmedins_code", "missing or longer than 40 characters")
        if not self.mdtrt_id or len(self.mdtrt_id) > 40:
            raise InvalidField("mdtrt_id", "missing or longer than 40 characters")
        if self.end_date is not None and self.end_date < self.begin_date:
            raise InvalidField("end_date", "is before the visit's begin date")


#: A claim's amounts (fen), as ``Claim`` names them.
CLAIM_AMOUNTS = ("total", "fully_self_paid", "over_limit", "category_b")


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of one person to settle (or pre-settle): the 2206/2207 input.

    With ``mdtrt_id`` the claim settles that registered visit (its med type, level, cross-region
    status and institution are the visit's; given ones must agree). Without it, a visit is
    registered with the settlement. ``mutual_aid_from`` names the employee whose personal account
    pays through an authorised link (default: the first link in force, if any).

    ``stated`` names the amount fields the request gave (``CLAIM_AMOUNTS``); None (a claim
    built in code) counts every non-zero one as given. A registered visit with fee detail lines
    derives the amounts from them (``services.settlement.bill``): a request may then leave
    ``total`` out (0 here) and must not give the other three.
    """

    person: str | int
    date: dt.date
    total: int
    med_type: str | None = None
    level: int | None = None
    fully_self_paid: int = 0
    over_limit: int = 0
    category_b: int = 0
    cross_region: str | None = None
    fixmedins_code: str | None = None
    mdtrt_id: str | None = None
    use_account: bool = True
    mutual_aid_from: str | None = None
    stated: frozenset[str] | None = None
    #: a chronic claim's disease (门诊慢特病病种编码, ``dise_codg``): paid only when the person is
    #: certified for it on the claim's date; none named: the person's only certified disease
    disease: str | None = None
    #: the claim's self-paid items on the list of the person's commercial product (惠民保,
    #: fen; at most the fully self-paid amount): what a product covering ``listed`` pays on
    listed_self_paid: int = 0

    def gave(self, name: str) -> bool:
        """Whether the request gave the amount ``name`` (see ``stated``)."""
        if self.stated is None:
            return bool(getattr(self, name))
        return name in self.stated

    def __post_init__(self) -> None:
        if not isinstance(self.date, dt.date):
            raise InvalidField("date", f"must be a date, got {self.date!r}")
        check_fen(self.total, "total")
        parts = 0
        for name in ("fully_self_paid", "over_limit", "category_b"):
            parts += check_fen(getattr(self, name), name)
        if parts > self.total and (self.stated is None or "total" in self.stated):
            raise InvalidField(
                "total", "fully_self_paid + over_limit + category_b is larger than total"
            )
        if self.med_type is not None:
            check_med_type(self.med_type)
        if self.level is not None:
            check_level(self.level)
        if self.cross_region is not None:
            check_cross_region(self.cross_region)
        if self.mdtrt_id is None:
            if not self.gave("total") and self.stated is not None:
                raise InvalidField("total", "missing (an amount in yuan)")
            if self.med_type is None:
                raise InvalidField("med_type", "missing (required without a registered visit)")
            if self.level is None:
                raise InvalidField("level", "missing (required without a registered visit)")
        if not isinstance(self.use_account, bool):
            raise InvalidField("use_account", "must be true or false")
        check_fen(self.listed_self_paid, "listed_self_paid")

    def digest(self) -> str:
        """A fingerprint of the request (idempotency: a request id is bound to one claim)."""
        data = {
            name: (
                v.isoformat()
                if isinstance(v, dt.date)
                else sorted(v)
                if isinstance(v, frozenset)
                else v
            )
            for name in _claim_fields()
            for v in (getattr(self, name),)
            # a claim naming no disease, no listed self-paid items: as before those fields
            if (v is not None or name != "disease") and (v != 0 or name != "listed_self_paid")
        }
        text = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@cache
def _claim_fields() -> tuple[str, ...]:
    """The names of a claim's fields, in order (``Claim.digest``: read once, not per claim)."""
    return tuple(f.name for f in fields(Claim))


@dataclass(frozen=True, slots=True)
class Layer:
    """One fund layer (or assistance tier) of a settlement: fund type code, base, payment, and
    the answer's explanation of it (``text``, not stored with the layer)."""

    fund_pay_type: str
    fund_name: str
    base: int
    payment: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class SettlementAnswer:
    """What a (pre-)settlement answers (2206/2207), typed: amounts in fen.

    ``amounts`` holds every settlement amount field (the claim's parts and the kernel's layers,
    named as the national platform names them, ``cross_prepay`` included); ``layers`` are the
    answer's ``setldetail``. ``setl_id`` is None for a pre-settlement; ``entitled_from`` is None
    when the person has no benefits at all. The JSON form (yuan strings, stored and sent) is
    written and read by ``services.settlement.answer`` only.
    """

    setl_id: str | None
    mdtrt_id: str | None
    psn_no: str
    fixmedins_code: str | None
    date: dt.date
    med_type: str
    level: int
    cross_region: str
    scheme: str
    pooling_area: str
    admission_no: int
    amounts: Mapping[str, int]
    layers: tuple[Layer, ...]
    reasons: tuple[str, ...]
    entitled_from: dt.date | None
    entitlement_rule: str
    incentive_raise: int
    acct_balance_after: int
    fee_lines: LineSums | None = None  # the visit's live fee lines summed, when it has any


@dataclass(frozen=True, slots=True)
class Settlement:
    """A (pre-)settlement: its typed ``answer`` and the answer as sent (``response``: JSON, yuan
    strings, serialised once from the answer by the service, or as stored for a replay).
    ``replayed`` is true when a repeated request id got the first answer."""

    answer: SettlementAnswer
    person_id: int
    status: SettlementStatus | None
    response: dict[str, Any]
    transaction_id: int | None = None
    replayed: bool = False

    @property
    def setl_id(self) -> str | None:
        """None for a pre-settlement."""
        return self.answer.setl_id

    @property
    def mdtrt_id(self) -> str | None:
        return self.answer.mdtrt_id

    @property
    def year(self) -> int:
        return self.answer.date.year

    @property
    def amounts(self) -> Mapping[str, int]:
        """Fen, named as the settlement amount fields."""
        return self.answer.amounts

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.answer.layers

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.answer.reasons


@dataclass(frozen=True, slots=True)
class Reversal:
    """A reversal (2208) and its answer as sent (``response``)."""

    setl_id: str
    reversed_on: dt.date
    transaction_id: int | None
    response: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False
