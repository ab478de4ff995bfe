"""Claim input: a claim from a YAML/JSON mapping (amounts in yuan), a claim with its request id,
and the checks every claim passes before anything is read for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yibao.domain.errors import InvalidField, RecordError
from yibao.domain.settlement import (
    Claim,
    Settlement,
    check_cross_region,
    check_level,
    check_med_type,
)
from yibao.domain.text import check_identifier
from yibao.policy import ParameterError
from yibao.policy.dates import DateError, parse_date
from yibao.policy.money import AmountError, parse_yuan
from yibao.services.settlement.common import not_after_today


@dataclass(frozen=True)
class ClaimRequest:
    """A claim to settle with its idempotency key (request id, the caller's msgid) and, for an
    institution calling, its code: a registered visit of another institution is refused."""

    claim: Claim
    request_id: str
    institution: str | None = None


#: What ``settle_many`` gives for each request: the settlement, or the refusal.
Outcome = Settlement | RecordError | ParameterError


def _yuan(value: object, field: str, *, optional: bool = False) -> int:
    """A yuan amount in fen (``policy.money.parse_yuan``); a missing optional one is 0."""
    if value is None:
        if optional:
            return 0
        raise InvalidField(field, "missing")
    try:
        return parse_yuan(value, field)
    except AmountError as exc:
        raise InvalidField(exc.field, exc.reason) from exc


def _date(value: object, field: str) -> dt.date:
    try:
        return parse_date(value, field)
    except DateError as exc:
        raise InvalidField(exc.field, exc.reason) from exc


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return None if value is None else str(value)


def _identifier(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return None if value is None else check_identifier(key, str(value))


#: Each claim amount and the keys a mapping may give it by (the calculator's, the national).
_AMOUNT_KEYS = {
    "total": ("total", "medfee_sumamt"),
    "fully_self_paid": ("fully_self_paid", "fulamt_ownpay_amt"),
    "over_limit": ("over_limit", "overlmt_selfpay"),
    "category_b": ("category_b",),
}


def claim_from_mapping(doc: Mapping[str, Any], person: str | int | None = None) -> Claim:
    """A claim from a YAML/JSON mapping (amounts in yuan); errors name the field. With a
    registered visit (``mdtrt_id``) the total may be left out: the visit's fee detail lines
    then give it (``services.settlement.bill``). ``person``: the person the caller read from
    the request (as given), instead of the mapping's ``person``."""
    if person is None:
        named = doc.get("person") or doc.get("psn_no")
        if named is None:
            raise InvalidField("person", "missing (national ID)")
        person = str(named)
    on = _date(doc.get("date") or doc.get("setl_time"), "date")
    level = doc.get("level")
    if level is not None and not isinstance(level, int):
        raise InvalidField("level", f"unknown institution level {level!r}; expected 1, 2 or 3")
    use_account = doc.get("use_account", True)
    if not isinstance(use_account, bool):
        raise InvalidField("use_account", "must be true or false")
    mdtrt_id = _identifier(doc, "mdtrt_id")
    stated = frozenset(
        name
        for name, keys in _AMOUNT_KEYS.items()
        if any(doc.get(k) not in (None, "") for k in keys)
    )
    return Claim(
        person=person,
        date=on,
        total=_yuan(
            doc.get("total", doc.get("medfee_sumamt")), "total", optional=mdtrt_id is not None
        ),
        med_type=_text(doc, "med_type"),
        level=level,
        fully_self_paid=_yuan(
            doc.get("fully_self_paid", doc.get("fulamt_ownpay_amt")),
            "fully_self_paid",
            optional=True,
        ),
        over_limit=_yuan(
            doc.get("over_limit", doc.get("overlmt_selfpay")), "over_limit", optional=True
        ),
        category_b=_yuan(doc.get("category_b"), "category_b", optional=True),
        cross_region=_text(doc, "cross_region"),
        fixmedins_code=_identifier(doc, "fixmedins_code"),
        mdtrt_id=mdtrt_id,
        use_account=use_account,
        mutual_aid_from=_text(doc, "mutual_aid_from"),
        stated=stated,
        disease=_identifier(doc, "disease") or _identifier(doc, "dise_codg"),
        listed_self_paid=_yuan(doc.get("listed_self_paid"), "listed_self_paid", optional=True),
    )


def check_claim(claim: Claim) -> None:
    """Refuse a claim dated after today or naming an unknown med type, level or cross-region
    status."""
    not_after_today("date", claim.date)
    if claim.med_type is not None:
        check_med_type(claim.med_type)
    if claim.level is not None:
        check_level(claim.level)
    if claim.cross_region is not None:
        check_cross_region(claim.cross_region)
