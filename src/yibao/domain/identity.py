"""National ID numbers (居民身份证号码), validated by ``stdnum.cn.ric``.

Birth date and sex are read from the number: digits 7–14 are the birth date, the 17th digit is
odd for men and even for women. The birth-place check (the slow part of ``ric.validate``) is
cached per (area code, birth year), so bulk imports validate at full speed with the same rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from yibao.domain.errors import InvalidNationalId


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


@dataclass(frozen=True, slots=True)
class NationalId:
    number: str
    birth_date: dt.date
    sex: Sex

    def __str__(self) -> str:
        return self.number


@lru_cache(maxsize=65536)
def _place_ok(area: str, year: int) -> bool:
    """The area code was in use in the birth year or later.

    ``ric.get_birth_place`` wants the code in use in the birth year itself, which refuses real
    numbers: codes are those of the place of registration when the number was issued (from
    1984 on), so a person born in 1940 may carry a code created in 1983. A code abolished
    before the birth year is still refused.
    """
    from stdnum import numdb

    results = numdb.get("cn/loc").info(area)
    counties = [v for _, props in results for k, v in props.items() if k == "county"]
    if not counties:
        return False
    for county in ",".join(counties).split(","):
        if not county.startswith("["):
            return True
        end = county[1:].split("]")[0].split("-")[1]
        if not end or int(end) >= year:
            return True
    return False


def _reason(exc: stdnum_errors.ValidationError, number: str) -> str:
    if isinstance(exc, stdnum_errors.InvalidLength):
        return f"must be 18 characters, got {len(number)}"
    if isinstance(exc, stdnum_errors.InvalidFormat):
        return "the first 17 characters must be digits"
    if isinstance(exc, stdnum_errors.InvalidChecksum):
        return f"check digit is wrong (expected {ric.calc_check_digit(number)})"
    if isinstance(exc, stdnum_errors.InvalidComponent):
        return "birth date or birth-place code is not valid"
    return str(exc)


def parse_national_id(
    raw: object, *, field: str = "national_id", today: dt.date | None = None
) -> NationalId:
    """Validate with ``stdnum.cn.ric`` and read birth date and sex, or raise InvalidNationalId."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidNationalId(field, "missing", raw)
    number = raw.upper() if len(raw) == 18 and raw.isascii() else ric.compact(raw)
    try:
        if len(number) != 18 or not number[:17].isdigit() or not number[:17].isascii():
            ric.validate(number)  # raises the precise stdnum error
        if number[-1] != ric.calc_check_digit(number):
            raise stdnum_errors.InvalidChecksum()
        # what ric.get_birth_date does, without compacting the number again
        try:
            birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            raise stdnum_errors.InvalidComponent() from None
        if not _place_ok(number[:6], birth.year):
            raise stdnum_errors.InvalidComponent()
    except stdnum_errors.ValidationError as exc:
        raise InvalidNationalId(field, _reason(exc, number), raw) from exc
    if birth > (today or dt.date.today()):
        raise InvalidNationalId(field, f"birth date {birth.isoformat()} is in the future", raw)
    sex = Sex.MALE if int(number[16]) % 2 == 1 else Sex.FEMALE
    return NationalId(number, birth, sex)


def make_national_id(area: str, birth: dt.date, sequence: int) -> str:
    """A checksum-valid number for tests and synthetic data (odd sequence = male)."""
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")
