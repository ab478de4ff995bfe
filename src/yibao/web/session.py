"""Console sessions and CSRF tokens, derived from the master secret (no server-side state beyond
the staff token the sign-in issued).

The session cookie carries the staff token, the time of the last request and an HMAC of both:
a cookie older than the idle timeout, or altered, is no session. The CSRF token of a session is
an HMAC of its token's hash; every form carries it and a POST without it (or with another
session's) is refused. Before sign-in the sign-in form is protected by a random value in a
cookie that the form repeats (double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from yibao.domain.credentials import token_hash

SESSION_COOKIE = "yibao_console"
PRESESSION_COOKIE = "yibao_console_pre"
LANG_COOKIE = "yibao_lang"
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{20,100}$")


def _mac(secret: str, purpose: str, value: str) -> str:
    return hmac.new(
        secret.encode(), f"console-{purpose}:{value}".encode(), hashlib.sha256
    ).hexdigest()


def session_value(secret: str, token: str, now: float | None = None) -> str:
    """The cookie value of a session whose last request is ``now``."""
    seen = str(int(time.time() if now is None else now))
    return f"{token}.{seen}.{_mac(secret, 'session', f'{token}.{seen}')}"


@dataclass(frozen=True)
class CookieSession:
    token: str
    last_seen: int


def read_session(
    secret: str, value: str | None, idle_seconds: int, now: float | None = None
) -> CookieSession | None:
    """The session of a cookie value, or None: malformed, altered, or idle too long."""
    if not value or value.count(".") != 2:
        return None
    token, seen, mac = value.split(".")
    if not _TOKEN.match(token) or not seen.isdigit():
        return None
    if not hmac.compare_digest(mac, _mac(secret, "session", f"{token}.{seen}")):
        return None
    current = time.time() if now is None else now
    if current - int(seen) > idle_seconds or int(seen) > current + 60:
        return None
    return CookieSession(token, int(seen))


def csrf_token(secret: str, token: str) -> str:
    """The CSRF token of the session holding staff token ``token``."""
    return _mac(secret, "csrf", token_hash(token))[:40]


def csrf_matches(secret: str, token: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(secret, token), sent or "")


def new_presession() -> str:
    return secrets.token_urlsafe(24)
