"""Audit entries of refusals: written so that they can never fail the request they record, and
those of callers not yet authenticated within a budget, so that nobody can fill the audit log by
sending garbage.

Refusals of an authenticated caller (role, owner, a replayed msgid) are one entry each: the
caller signed a fresh request (or holds a token) for every one. Refusals before a caller is
known (bad or missing signature, expired timestamp, replayed nonce, unknown or revoked key or
token, failed login) record the *claimed* institution and key id, or account, and why; never
the signature, the token, the password or the body. Of those, a worker process writes at most
``Settings.audit_refusals_per_minute`` entries a minute: the next entry written after a
minute that overflowed says how many were left out, and the overflow is logged (warning).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from yibao.api.http.errors import ApiError
from yibao.domain.text import printable
from yibao.store.repositories import ApiRepository, AuditEntry

log = logging.getLogger("yibao.api")

WINDOW = 60.0  # seconds


class RefusalBudget:
    """At most ``per_window`` entries per ``WINDOW`` seconds (a fixed window); the entries over
    it are counted, and the count is handed to the next entry let through."""

    def __init__(self, per_window: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_window = per_window
        self.clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._used = 0
        self._dropped = 0

    def take(self) -> int | None:
        """None: over the budget (counted, not to be written); else how many were left out
        since the last entry let through."""
        with self._lock:
            now = self.clock()
            if now - self._start >= WINDOW:
                self._start, self._used = now, 0
            if self._used >= self.per_window:
                self._dropped += 1
                if self._dropped == 1:
                    log.warning(
                        "audit: more than %d authentication refusals this minute; the rest are "
                        "counted, not written",
                        self.per_window,
                    )
                return None
            self._used += 1
            dropped, self._dropped = self._dropped, 0
            return dropped


def budgeted(budget: RefusalBudget, entry: AuditEntry) -> AuditEntry | None:
    """The entry to write for a refusal before authentication, or None (over the budget)."""
    dropped = budget.take()
    if dropped is None:
        return None
    if dropped:
        note = f" ({dropped} earlier refusal(s) over the budget not recorded)"
        return replace(entry, detail=(entry.detail or "")[:400] + note)
    return entry


def unauthenticated(
    actor: str, action: str, err: ApiError, target: str | None, claimed: str | None = None
) -> AuditEntry:
    """The entry of an authentication refusal: the claimed caller, what it asked, why."""
    why = f"[{err.infcode}] {err.message}"
    detail = why if claimed is None else f"{claimed}; {why}"
    return AuditEntry(
        actor=printable(actor, 80),
        role="unknown",
        action=action,
        outcome="refused",
        target=None if target is None else printable(target, 80),
        detail=printable(detail, 500),
    )


def write(engine: Engine, entries: Iterable[AuditEntry | None]) -> None:
    """Write the entries (None skipped) in their own transaction. A failure is logged, never
    raised: the audit of a refusal must not turn the refusal into an internal error."""
    rows = [e for e in entries if e is not None]
    if not rows:
        return
    try:
        with Session(engine) as session:
            ApiRepository(session).audits(rows)
            session.commit()
    except Exception:
        log.exception("could not write %d audit entr(ies) of %s", len(rows), rows[0].action)
