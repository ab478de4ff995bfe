"""The one check of every request body's strings, before anything else reads them: no lone
surrogate and no control character other than tab, line feed and carriage return, in any key or
value (``domain.text``). A lone surrogate (``"\\ud800"``) is valid JSON but no character: the
database driver cannot encode it. A NUL PostgreSQL cannot store.

The body is scanned as bytes with one regular expression (JSON escapes of such characters, raw
DEL and C1 controls; raw C0 controls are invalid JSON and refused by the parser); only when it
finds one is the body parsed, to name the field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from yibao.api.http import errors
from yibao.api.http.errors import ApiError
from yibao.domain.text import bad_in_text

#: After a backslash: an escaped backslash or a surrogate pair (both harmless, consumed so that
#: what follows is read right), else an escape of a control character or of a lone surrogate;
#: or a raw DEL or C1 control (UTF-8).
_SUSPECT = re.compile(
    rb"\\(?:(?P<ok>\\|u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|[bf]|u000[0-8bBcCeEfF]|u001[0-9a-fA-F]|u007[fF]|u00[89][0-9a-fA-F]"
    rb"|u[dD][89a-fA-F][0-9a-fA-F]{2})"
    rb"|\x7f|\xc2[\x80-\x9f]"
)


def body_problem(body: bytes) -> str | None:
    """Why the body's strings are refused (naming the field), or None."""
    if b"\\" not in body and b"\x7f" not in body and b"\xc2" not in body:
        return None  # nothing the pattern could match (three searches in C, no pattern run)
    if not any(m.group("ok") is None for m in _SUSPECT.finditer(body)):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return "body: not valid JSON text"
    found = _first_bad(doc, "")
    return found or "body: holds a character no text may hold"


def _first_bad(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        bad = bad_in_text(value)
        return None if bad is None else f"{path or 'body'}: contains {bad}"
    if isinstance(value, dict):
        for k, v in value.items():
            bad = bad_in_text(str(k))
            key = str(k) if bad is None else json.dumps(str(k))[1:-1]  # shown escaped
            where = f"{path}.{key}" if path else key
            if bad is not None:
                return f"{where}: contains {bad} (in the key)"
            found = _first_bad(v, where)
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _first_bad(v, f"{path}[{i}]")
            if found:
                return found
    return None


def check_body(body: bytes) -> None:
    """Refuse a body whose strings hold what no text may (1001, HTTP 400), naming the field."""
    problem = body_problem(body)
    if problem is not None:
        raise ApiError(
            errors.MALFORMED,
            f"malformed request: {problem}, which no text may hold (a lone surrogate or a "
            "control character such as NUL, \\u0000): remove it and send again",
        )
