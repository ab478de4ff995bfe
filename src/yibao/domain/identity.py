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
from typing import Any

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


#: Weights of the 17 body digits (GB 11643-1999, ISO 7064 MOD 11-2), left to right.
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_CHECK = "10X98765432"  # the check character by (weighted sum mod 11)
#: reasons ``normalise_ids`` gives, by code (0: valid)
ID_REASONS = (
    "",
    "missing",
    "must be 15 or 18 characters",
    "not digits (the 18th may be X)",
    "check digit is wrong",
    "birth date is not a date",
)


def check_digit(body17: str) -> str:
    """The check character of a 17-digit body (what ``ric.calc_check_digit`` computes)."""
    return _CHECK[sum(int(c) * w for c, w in zip(body17, _WEIGHTS, strict=True)) % 11]


def upgrade_15(number: str) -> str:
    """A 15-digit ID (issued before 1999: 2-digit year, no check character) as its 18-digit
    form: century 19 inserted, check character appended."""
    body = number[:6] + "19" + number[6:15]
    return body + check_digit(body)


def normalise_ids(raw: Any) -> tuple[Any, Any]:
    """Many IDs at once (an Arrow string array): the 18-digit form of each valid ID (15-digit
    ones upgraded), null where it is not valid, and the reason code per row (``ID_REASONS``).

    The checks of ``parse_national_id`` that can run on columns: length, digits, the check
    character, the birth date a real date. The birth-place code is not checked here (a
    comparison matches against IDs the registry already validated)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(raw, pa.string())))
    n = len(text)
    reason = np.zeros(n, dtype=np.int8)
    length = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    reason[length == 0] = 1
    ok_len = (length == 15) | (length == 18)
    reason[(length > 0) & ~ok_len] = 2
    # 15 → 18: insert "19" after the place code, the check character computed below
    fifteen = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 6), "19", pc.utf8_slice_codeunits(text, 6, 15), "?", ""
    )
    long = pc.if_else(pa.array(length == 15), fifteen, text)
    padded = pc.if_else(pa.array(ok_len), long, pa.scalar("?" * 18))
    if not pa.types.is_string(padded.type):
        padded = padded.cast(pa.string())
    if isinstance(padded, pa.ChunkedArray):
        padded = padded.combine_chunks()
    # every value now 18 bytes unless it held non-ASCII characters
    ascii_ok = pc.equal(pc.binary_length(padded), 18).to_numpy(zero_copy_only=False)
    safe = pc.if_else(pa.array(ascii_ok), padded, pa.scalar("?" * 18))
    data = np.frombuffer(
        pc.cast(safe, pa.binary(18)).buffers()[1], dtype=np.uint8, count=18 * n
    ).reshape(n, 18)
    digits = data[:, :17] - np.uint8(48)  # wraps below '0': > 9 either way
    body_ok = np.asarray((digits <= 9).all(axis=1), dtype=bool)
    last = data[:, 17]
    last_ok = ((last >= 48) & (last <= 57)) | (last == ord("X")) | (length == 15)
    bad_chars = ok_len & ~(body_ok & last_ok & ascii_ok)
    reason[bad_chars & (reason == 0)] = 3
    body = np.where(body_ok[:, None], digits, np.uint8(0)).astype(np.int32)
    total = (body @ np.array(_WEIGHTS, dtype=np.int32)) % 11
    check = np.frombuffer(_CHECK.encode(), dtype=np.uint8)[total]
    wrong = (length == 18) & (check != last)
    reason[wrong & (reason == 0)] = 4
    ymd = body[:, 6:14].astype(np.int64) @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
    year, month, day = ymd // 10_000, ymd // 100 % 100, ymd % 100
    month_ok = (month >= 1) & (month <= 12)
    start = (np.clip(year, 1800, 2200) - 1970).astype("datetime64[Y]").astype(
        "datetime64[M]"
    ) + np.clip(month - 1, 0, 11)
    days = ((start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")).astype(np.int64)
    date_ok = (year >= 1880) & month_ok & (day >= 1) & (day <= days)
    reason[~date_ok & (reason == 0)] = 5
    data = data.copy()
    data[:, 17] = np.where(length == 15, check, data[:, 17])
    fixed = pa.Array.from_buffers(pa.binary(18), n, [None, pa.py_buffer(data.tobytes())])
    valid = reason == 0
    out = pc.cast(pc.cast(fixed, pa.binary()), pa.string())
    return pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string())), reason


def id_keys(ids: Any) -> Any:
    """Each 18-character ID (an Arrow string array, nulls allowed) as one int64 — the 17-digit
    body times 11 plus the check value (X = 10) — for joins on integers; -1 where null or not
    18 ASCII digits (X last)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    n = len(arr)
    ok = pc.fill_null(pc.equal(pc.binary_length(arr), 18), False)
    safe = pc.if_else(ok, arr, pa.scalar("0" * 18)).cast(pa.binary())
    data = np.frombuffer(
        pc.cast(safe, pa.binary(18)).buffers()[1], dtype=np.uint8, count=18 * n
    ).reshape(n, 18)
    digits = data[:, :17] - np.uint8(48)
    last = data[:, 17]
    check = np.where(last == ord("X"), 10, last.astype(np.int64) - 48)
    good = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    good &= (digits <= 9).all(axis=1) & (check >= 0) & (check <= 10)
    body = digits.astype(np.int64) @ (10 ** np.arange(16, -1, -1, dtype=np.int64))
    return np.where(good, body * 11 + check, -1)
