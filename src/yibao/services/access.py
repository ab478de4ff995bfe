"""Access administration and its audit trail: withdrawing an institution's signing key or a
staff account's bearer tokens (吊销), and recording the command line's reads of a person's file.

Every use case here writes its audit entry (table ``audit_log``, the one the API writes) in the
same transaction as its change. ``actor`` and ``role`` name who did it: ``staff:<username>`` /
the account's role through the API, ``cli:<operator>`` / ``cli`` from the command line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.domain.errors import NotFound
from yibao.domain.text import printable
from yibao.store.access import account_id, deactivate_key, key_of, revoke_live_tokens
from yibao.store.db import utcnow
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.uow import UnitOfWork


@dataclass(frozen=True)
class KeyRevoked:
    code: str
    key_id: str
    #: False: the key was already revoked (nothing changed, the first date kept).
    newly: bool
    revoked_at: dt.datetime


def revoke_key(uow: UnitOfWork, code: str, key_id: str, actor: str, role: str) -> KeyRevoked:
    """Revoke key ``key_id`` of institution ``code``: its signed requests are refused from now
    on. Revoking a revoked key changes nothing and says so; an unknown pair is ``NotFound``."""
    with uow:
        row = key_of(uow.session, code, key_id)
        if row is None:
            raise NotFound(f"key of institution {code}:", key_id)
        newly = deactivate_key(uow.session, row, utcnow())
        assert row.revoked_at is not None
        ApiRepository(uow.session).audit(
            AuditEntry(
                actor,
                role,
                "admin:institutions",
                target=f"{code}/{key_id}",
                detail="key revoked" if newly else "key revoked again: it already was",
            )
        )
        uow.commit()
        return KeyRevoked(code, key_id, newly, row.revoked_at)


def revoke_tokens(uow: UnitOfWork, username: str, actor: str, role: str) -> int:
    """Revoke every live bearer token of account ``username`` (the account stays: it may log
    in again); how many were live. An unknown account is ``NotFound``."""
    with uow:
        account = account_id(uow.session, username)
        if account is None:
            raise NotFound("staff account", username)
        count = revoke_live_tokens(uow.session, account, utcnow())
        ApiRepository(uow.session).audit(
            AuditEntry(
                actor, role, "admin:staff", target=username, detail=f"{count} live token(s) revoked"
            )
        )
        uow.commit()
        return count


def record_cli_read(
    uow: UnitOfWork,
    operator: str,
    command: str,
    person_id: int | None,
    identity_shown: bool,
) -> None:
    """Audit a command-line read of a person's file or identity: who ran which command, about
    whom, and whether national ID, name and phone were printed in full."""
    who = printable(operator, 64) or "?"
    with uow:
        ApiRepository(uow.session).audit(
            AuditEntry(
                f"cli:{who}",
                "cli",
                f"cli:{command}",
                person_id=person_id,
                target=None if person_id is None else f"person:{person_id}",
                detail="identity shown (--show-identity)" if identity_shown else "identity masked",
            )
        )
        uow.commit()
