"""Vectorised date arithmetic on days since 1970-01-01 (the int value of Arrow's date32)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
EPOCH = dt.date(1970, 1, 1)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def year_start(year: int) -> int:
    return day_number(dt.date(year, 1, 1))


def days_in_year(year: int) -> int:
    return year_start(year + 1) - year_start(year)


def years_of(days: I64) -> I64:
    """Calendar year of each day number."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def yyyymmdd(days: I64) -> I64:
    """Each day number as the integer YYYYMMDD."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return np.asarray(year * 10_000 + month * 100 + day, dtype=np.int64)


def add_months(days: I64, months: I64 | int) -> I64:
    """Day numbers moved forward by whole months; the day of month is kept or clipped to the
    last day of the target month (31 Jan + 1 month = 28/29 Feb)."""
    d = days.astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    offset = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = target.astype("datetime64[D]").astype(np.int64) + np.minimum(offset, length - 1)
    return np.asarray(out, dtype=np.int64)


def month_start_after(days: I64) -> I64:
    """The first day of the month after each day."""
    month = days.astype("datetime64[D]").astype("datetime64[M]") + 1
    return np.asarray(month.astype("datetime64[D]").astype(np.int64), dtype=np.int64)


def year_starts(years: I64) -> I64:
    """Day number of 1 January of each year."""
    y = (np.asarray(years, dtype=np.int64) - 1970).astype("datetime64[Y]")
    return np.asarray(y.astype("datetime64[D]").astype(np.int64), dtype=np.int64)
