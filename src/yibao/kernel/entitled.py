"""The kernel's entitlement date (``Persons.entitled_from``, days since 1970-01-01): a claim
dated before it is self-paid (waiting period, 等待期).

Callers hold a person's first entitled day as a date or None, and None means one of two
opposite things, so every caller names which with ``entitled_days(day, if_none=...)``:

- ``ALWAYS``: entitled before any claim, no waiting period. The calculator's person without
  ``entitled_from`` and a null in an Arrow batch's ``entitled_from`` column mean this.
- ``NEVER``: entitled after any claim, no benefits at all (unpaid, suspended). The services'
  ``Entitlement.entitled_from`` is None for this (``services.person_file.entitlement``).

Both sentinels fit the Arrow edge's int32 date column and lie far outside any claim's date.
"""

from __future__ import annotations

import datetime as dt

from yibao.kernel.tables import epoch_days

#: Days: before any claim (entitled always: no waiting period).
ALWAYS = -(10**9)
#: Days: after any claim (entitled never: every claim is self-paid).
NEVER = 10**9


def entitled_days(day: dt.date | None, *, if_none: int) -> int:
    """``day`` as the kernel's ``entitled_from``; None becomes ``if_none`` (ALWAYS or NEVER)."""
    if if_none not in (ALWAYS, NEVER):
        raise ValueError(f"if_none must be ALWAYS or NEVER, got {if_none}")
    return if_none if day is None else epoch_days(day)
