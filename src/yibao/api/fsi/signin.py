"""9001/9002 operator sign-in and sign-out (签到/签退) and ``sign_no``.

yibao authenticates every request by its signature (``api.http.auth``); ``sign_no`` adds no
authority, so a business transaction's ``sign_no`` is not checked (hospital systems in use send
the 9001 number, their msgid, or nothing). 9001 answers a stateless number of the operator's
day: ``YYYYMMDD`` and 22 hex digits of HMAC-SHA256(master secret,
``sign-in:<institution>:<opter>:<YYYYMMDD>``). 9002 takes that number back (another is refused),
answers the sign-out time and is audited; nothing is stored, so there is nothing to revoke.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac


def sign_no(secret: str, institution: str, opter: str, day: dt.date) -> str:
    """The operator's sign-in number for ``day`` (30 characters)."""
    ymd = day.strftime("%Y%m%d")
    mac = hmac.new(secret.encode(), f"sign-in:{institution}:{opter}:{ymd}".encode(), hashlib.sha256)
    return ymd + mac.hexdigest()[:22]


def check(secret: str, institution: str, opter: str, day: dt.date, given: str | None) -> str | None:
    """None when ``given`` is the operator's sign-in number for ``day``; else why not."""
    if not given:
        return "sign_no: missing: sign the operator in (9001) and send its sign_no"
    if not hmac.compare_digest(given, sign_no(secret, institution, opter, day)):
        return (
            f"sign_no: not the sign-in of operator {opter} at {institution} today "
            f"({day.isoformat()}): sign in again (9001)"
        )
    return None
