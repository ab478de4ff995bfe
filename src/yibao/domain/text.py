"""Characters that no text of the system may hold, and those no identifier may hold.

Any text: no lone surrogate (U+D800..U+DFFF alone is not a character: the database cannot
store it) and no control character but tab, line feed and carriage return. An identifier
(visit, settlement and institution codes, msgid, operator, person number): besides, no format
character (Unicode category Cf: bidirectional overrides such as U+202E, zero-width U+200B..U+200D,
U+2060, U+FEFF), no other control, private-use, unassigned or line/paragraph separator: they are
invisible, or reorder what a clerk reads, so two identifiers that look alike would differ.
"""

from __future__ import annotations

import unicodedata

from yibao.domain.errors import InvalidField

#: Unicode categories refused in identifiers.
_NOT_IN_IDENTIFIERS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")


def _describe(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X} (not a character)"
    name = unicodedata.name(ch, "")
    if code == 0:
        name = "NUL"
    return f"U+{code:04X}" + (f" ({name})" if name else "")


def bad_in_text(value: str) -> str | None:
    """What no text may hold, described (the first one found), or None."""
    for ch in value:
        code = ord(ch)
        if (
            0xD800 <= code <= 0xDFFF
            or (code < 0x20 and ch not in _TEXT_CONTROLS_ALLOWED)
            or 0x7F <= code <= 0x9F
        ):
            return _describe(ch)
    return None


def bad_in_identifier(value: str) -> str | None:
    """What no identifier may hold, described (the first one found), or None."""
    if value.isprintable():  # no Other (C*) and no separator but spaces: the common case, in C
        return None
    for ch in value:
        if unicodedata.category(ch) in _NOT_IN_IDENTIFIERS:
            return _describe(ch)
    return None


#: Why such a character is refused.
NOT_IN_IDENTIFIERS = "an identifier takes no invisible, direction-changing or control character"


def check_identifier(field: str, value: str) -> str:
    """``value``, or InvalidField naming ``field`` and the character."""
    bad = bad_in_identifier(value)
    if bad is not None:
        raise InvalidField(field, f"contains {bad}: {NOT_IN_IDENTIFIERS}")
    return value


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, anything unprintable (NUL, controls) as ``?``: for
    logs and the audit trail, which record what was sent without refusing it."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])
