"""Reading fields of ``input``: each failure names the field and what is expected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from yibao.api.http import errors
from yibao.api.http.errors import ApiError
from yibao.domain.errors import InvalidField, InvalidNationalId
from yibao.domain.identity import parse_national_id
from yibao.domain.text import NOT_IN_IDENTIFIERS, bad_in_identifier
from yibao.policy.dates import day_of
from yibao.policy.money import AmountError, parse_int, parse_yuan


def invalid(field: str, reason: str) -> ApiError:
    return ApiError(errors.INVALID_FIELD, f"input.{field}: {reason}")


def text(data: dict[str, Any], field: str, max_len: int = 64, required: bool = True) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise invalid(field, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(field, "must be a string")
    value = str(value).strip()
    if len(value) > max_len:
        raise invalid(field, f"longer than {max_len} characters")
    bad = bad_in_identifier(value)
    if bad is not None:  # every text read here is an identifier or a code
        raise invalid(field, f"contains {bad}: {NOT_IN_IDENTIFIERS}")
    return value


def require_text(data: dict[str, Any], field: str, max_len: int = 64) -> str:
    value = text(data, field, max_len, required=True)
    assert value is not None
    return value


def date(data: dict[str, Any], field: str, default: dt.date | None = None) -> dt.date:
    value = data.get(field)
    if value is None or value == "":
        if default is not None:
            return default
        raise invalid(field, "missing (a date, YYYY-MM-DD)")
    if not isinstance(value, str):
        raise invalid(field, "must be a date string YYYY-MM-DD")
    try:
        return day_of(value)
    except ValueError:
        raise invalid(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def integer(data: dict[str, Any], field: str, default: int | None = None) -> int:
    value = data.get(field)
    if value is None or value == "":
        if default is not None:
            return default
        raise invalid(field, "missing (an integer)")
    try:
        return parse_int(value, field)
    except AmountError as exc:
        raise invalid(field, exc.reason) from None


def amount(data: dict[str, Any], field: str, default: Decimal | None = None) -> Decimal:
    """A yuan amount ≥ 0 with at most two decimals, not above ``policy.money.MAX_YUAN``."""
    value = data.get(field)
    if value is None or value == "":
        if default is not None:
            return default
        raise invalid(field, "missing (an amount in yuan)")
    try:
        return Decimal(parse_yuan(value, field)).scaleb(-2)
    except AmountError as exc:
        raise invalid(field, exc.reason) from None


def person_ref(data: dict[str, Any]) -> str | int:
    """``psn_no`` (the person number) or ``certno`` (the national ID number)."""
    psn_no = data.get("psn_no")
    if psn_no not in (None, ""):
        if isinstance(psn_no, bool) or not isinstance(psn_no, str | int):
            raise invalid("psn_no", "must be the person number (digits)")
        s = str(psn_no).strip()
        if not (s.isascii() and s.isdigit()) or len(s) > 18:
            raise invalid("psn_no", "must be the person number (digits)")
        return int(s)
    certno = data.get("certno")
    if certno in (None, ""):
        raise invalid("psn_no", "missing: give psn_no (person number) or certno (national ID)")
    if not isinstance(certno, str):
        raise invalid("certno", "must be an 18-character national ID number")
    try:
        return parse_national_id(certno).number
    except InvalidNationalId as exc:
        raise invalid("certno", f"not a valid national ID number ({exc.reason})") from None


def person_named(value: str, field: str = "person") -> str | int:
    """A person named in one field by national ID number (18 characters) or person number
    (digits); else InvalidField naming ``field``."""
    s = value.strip()
    if len(s) == 18:
        try:
            return parse_national_id(s).number
        except InvalidNationalId as exc:
            raise InvalidField(field, f"not a valid national ID number ({exc.reason})") from None
    if s.isascii() and s.isdigit():
        return int(s)
    raise InvalidField(field, "a national ID number (18 characters) or a person number (digits)")
