"""Today's date, as every use case and edge sees it: the server's clock, or the date set in
``YIBAO_TODAY`` (ISO ``YYYY-MM-DD``; for tests and for replaying a day). A settlement, visit or
reversal dated after it is refused (``services.settlement``); an enrolment or a contribution
dated after the end of next year (``not_far_ahead``). And the moment an action is stamped with
in a trail (``now``: UTC, naive, as the database stores it)."""

from __future__ import annotations

import datetime as dt
import os

from yibao.domain.errors import InvalidField

#: The environment variable that sets today's date.
ENV = "YIBAO_TODAY"


def today() -> dt.date:
    """``YIBAO_TODAY`` if set, else the server's local date."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{ENV}: {value!r} is not a date (YYYY-MM-DD)") from None


def now() -> dt.datetime:
    """The moment, UTC without a zone (how the trails of actions store it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def not_far_ahead(field: str, day: dt.date) -> dt.date:
    """``day``, refused naming ``field`` when after the end of next year: next year's
    enrolments and contributions are made ahead (the resident collection period runs in the
    year before), anything later is a mistyped year."""
    latest = dt.date(today().year + 1, 12, 31)
    if day > latest:
        raise InvalidField(
            field, f"{day.isoformat()} is after the end of next year ({latest.isoformat()})", day
        )
    return day
