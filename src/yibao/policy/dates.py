"""Dates at the edges: the one parser of a date given in a document (YAML, JSON, options).

Every edge that reads a date from a document (the calculator's scenarios, the services' claim
mappings) uses ``parse_date`` and maps ``DateError`` to its own error type, as amounts are read
with ``policy.money.parse_yuan``.
"""

from __future__ import annotations

import datetime as dt


class DateError(ValueError):
    """A bad date: ``field: reason``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def parse_date(value: object, field: str) -> dt.date:
    """A date, a datetime (its day) or an ISO date string (YYYY-MM-DD)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if value is None:
        raise DateError(field, "missing")
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise DateError(field, f"{value!r} is not an ISO date (YYYY-MM-DD)") from exc


def day_of(text: str) -> dt.date:
    """The day of an ISO date (``YYYY-MM-DD``) or date-time (``YYYY-MM-DD HH:MM:SS``, a ``T``
    and an offset allowed) text; ``ValueError`` for anything else, trailing text included."""
    if len(text) <= 10:
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text).date()


def parse_day(value: object, field: str) -> dt.date:
    """``parse_date``, also taking an ISO date-time text (its day): a time of day as documents
    give one (``fee_ocur_time``, ``oprn_date``), nothing else after the date."""
    if isinstance(value, str) and len(value) > 10:
        try:
            return day_of(value)
        except ValueError:
            raise DateError(
                field, f"{value!r} is not an ISO date or date-time (YYYY-MM-DD[ HH:MM:SS])"
            ) from None
    return parse_date(value, field)
