"""Answer codes (``infcode``) and the error an API layer raises. Every refusal names what to do.

| infcode | meaning | HTTP |
|---|---|---|
| 0 | success | 200 |
| -1 | internal error (nothing stored; retry with the same msgid is safe) | 500 |
| 1001 | malformed request (envelope or JSON) | 400 |
| 1002 | unknown infno | 400 |
| 1003 | an input field is missing or invalid (the message names it) | 200 |
| 2001 | not authenticated (missing or bad signature, unknown key, bad token) | 401 |
| 2002 | request timestamp outside the allowed clock skew | 401 |
| 2003 | replayed request (nonce or signature already used) | 401 |
| 2004 | the caller's role may not do this | 403 |
| 2005 | the record belongs to another institution or person | 403 |
| 3001 | not found (person, visit, settlement) | 200 |
| 3002 | refused by a business rule (the message says which) | 200 |
| 3003 | conflict: already done (e.g. reversed), or the state does not allow it | 200 |
| 4001 | the same msgid is still being processed: retry later | 409 |
"""

from __future__ import annotations

from typing import Any

OK = 0
INTERNAL = -1
MALFORMED = 1001
UNKNOWN_INFNO = 1002
INVALID_FIELD = 1003
UNAUTHENTICATED = 2001
EXPIRED = 2002
REPLAY = 2003
FORBIDDEN = 2004
NOT_YOURS = 2005
NOT_FOUND = 3001
REFUSED = 3002
CONFLICT = 3003
IN_PROGRESS = 4001

HTTP_STATUS = {
    INTERNAL: 500,
    MALFORMED: 400,
    UNKNOWN_INFNO: 400,
    UNAUTHENTICATED: 401,
    EXPIRED: 401,
    REPLAY: 401,
    FORBIDDEN: 403,
    NOT_YOURS: 403,
    IN_PROGRESS: 409,
}

#: Answers that are a property of the request and may be stored under its msgid. Errors of
#: authentication, malformed envelopes and internal errors are not stored: a retry is judged anew.
STORABLE = frozenset({OK, INVALID_FIELD, NOT_FOUND, REFUSED, CONFLICT, NOT_YOURS, FORBIDDEN})


class ApiError(Exception):
    """A refusal with an ``infcode`` and a message a clerk can act on."""

    def __init__(self, infcode: int, message: str, detail: Any = None) -> None:
        self.infcode = infcode
        self.message = message
        self.detail = detail
        super().__init__(message)

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.infcode, 200)


def answer(
    infcode: int, msgid: str | None, err_msg: str | None, output: Any = None
) -> dict[str, Any]:
    return {"infcode": infcode, "inf_refmsgid": msgid, "err_msg": err_msg, "output": output}
