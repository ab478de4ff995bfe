"""Identifiers: person numbers and 18-digit national ID numbers (公民身份号码, GB 11643-1999).

An ID is the 6-digit place code, the birth date YYYYMMDD, a 3-digit order code (odd for men,
even for women) and an ISO 7064 MOD 11-2 check character. The place code is the pooling area's
code when ``stdnum.cn.ric`` knows it for the birth year, else its prefecture (XXXX00), else its
province (XX0000). Order codes are counted per (birth date, sex) over the whole run, chunk after
chunk, so IDs are unique while at most 500 men (499 women) share a birth date, which holds up to
roughly ten million persons; past that the count wraps and duplicates are reported.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.cn import ric

from yibao.synth.dates import I64, year_start, yyyymmdd

B = npt.NDArray[np.bool_]

#: Weights of the 17 body digits, left to right: 2^(17-i) mod 11.
WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
CHECK_CHARS = pa.array(list("0123456789X"), type=pa.string())
MALE_CODES = 500
FEMALE_CODES = 499
#: Oldest birth year an order counter is kept for, relative to the year generated.
MAX_AGE = 110


def psn_numbers(region: str, first: int, count: int) -> I64:
    """Person numbers: the region code followed by a 10-digit running number from 1."""
    base = int(region) * 10**10 + first + 1
    return np.arange(base, base + count, dtype=np.int64)


def check_values(body: I64) -> I64:
    """Check value 0..10 (10 is 'X') of 17-digit ID bodies."""
    total = np.zeros(len(body), dtype=np.int64)
    rest = body.copy()
    for i in range(16, -1, -1):
        total += (rest % 10) * WEIGHTS[i]
        rest //= 10
    return np.asarray((12 - total % 11) % 11, dtype=np.int64)


def place_code(region: str, birth_year: int) -> str:
    """The place code an ID of someone born in ``birth_year`` in the region starts with."""
    for code in (region, region[:4] + "00", region[:2] + "0000"):
        body = f"{code}{birth_year:04d}0101001"
        if ric.is_valid(body + ric.calc_check_digit(body + "0")):
            return code
    raise ValueError(
        f"region {region} is not a division code that stdnum.cn.ric knows for births in "
        f"{birth_year}; use the code of a city or county (e.g. 360100)"
    )


def check_region(region: str, year: int) -> None:
    """Raise ValueError unless IDs can be made for every birth year of a run for ``year``."""
    for y in range(year - MAX_AGE, year + 2):
        place_code(region, y)


class IdIssuer:
    """Issues national IDs chunk after chunk; holds the order-code counters between chunks."""

    def __init__(self, region: str, year: int) -> None:
        self.first_year = year - MAX_AGE
        self.base_day = year_start(self.first_year)
        years = range(self.first_year, year + 2)
        self.places = np.array([int(place_code(region, y)) for y in years], dtype=np.int64)
        days = year_start(year + 2) - self.base_day
        self.counts = np.zeros(days * 2, dtype=np.int64)
        self.overflow = 0

    def order_codes(self, birth: I64, male: B) -> I64:
        """Next free order code for each person's (birth date, sex), in the given order."""
        key = (birth - self.base_day) * 2 + male.astype(np.int64)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.r_[0, np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1]
        sizes = np.diff(np.r_[starts, len(key)])
        rank = np.arange(len(key)) - np.repeat(starts, sizes)
        n = np.empty(len(key), dtype=np.int64)
        n[order] = self.counts[sorted_key] + rank
        np.add.at(self.counts, sorted_key[starts], sizes)
        capacity = np.where(male, MALE_CODES, FEMALE_CODES)
        self.overflow += int(np.count_nonzero(n >= capacity))
        n %= capacity
        return np.asarray(np.where(male, 2 * n + 1, 2 * n + 2), dtype=np.int64)

    def issue(self, birth: I64, male: B) -> pa.Array:
        """National ID strings for persons born on ``birth`` (day numbers)."""
        ymd = yyyymmdd(birth)
        place = self.places[ymd // 10_000 - self.first_year]
        body = place * 10**11 + ymd * 1000 + self.order_codes(birth, male)
        check = CHECK_CHARS.take(pa.array(check_values(body)))
        return pc.binary_join_element_wise(pc.cast(pa.array(body), pa.string()), check, "")
