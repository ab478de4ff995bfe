"""The API's repository: institutions and their keys, request nonces, staff accounts and
tokens, stored answers by msgid, and the audit log, over one session (the caller commits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from yibao.store.api_models import (
    AuditRow,
    InstitutionKeyRow,
    InstitutionRow,
    RequestNonceRow,
    StaffAccountRow,
    StaffTokenRow,
    TxResponseRow,
)
from yibao.store.db import utcnow
from yibao.store.sql import BulkRead, any_of, driver_of, insert_gathered

# Statements of every signed request, built once and executed with their parameters.
_NONCES = cast(Table, RequestNonceRow.__table__)
_RESPONSES = cast(Table, TxResponseRow.__table__)
_AUDIT = cast(Table, AuditRow.__table__)
_INSTITUTIONS = cast(Table, InstitutionRow.__table__)
_INSTITUTION = select(InstitutionRow).where(InstitutionRow.code == bindparam("p_code"))
_KEYS = cast(Table, InstitutionKeyRow.__table__)
_STORED_ANSWER = select(TxResponseRow).where(
    TxResponseRow.caller == bindparam("p_caller"), TxResponseRow.msgid == bindparam("p_msgid")
)
_INSERT_NONCE = insert(_NONCES)
# a batch's callers: their institutions (registered or not, active or not) with the active
# keys among those named, one row per key found (or one without a key)
_CALLERS = BulkRead(
    lambda in_: (
        select(
            _INSTITUTIONS.c.code,
            _INSTITUTIONS.c.level,
            _INSTITUTIONS.c.kind,
            _INSTITUTIONS.c.active,
            _KEYS.c.key_id,
        )
        .outerjoin(
            _KEYS,
            and_(
                _KEYS.c.institution_id == _INSTITUTIONS.c.id,
                in_(_KEYS.c.key_id, "keys"),
                _KEYS.c.active.is_(True),
            ),
        )
        .where(in_(_INSTITUTIONS.c.code, "codes"))
    )
)
_KINDS = BulkRead(
    lambda in_: select(_INSTITUTIONS.c.code, _INSTITUTIONS.c.kind).where(
        in_(_INSTITUTIONS.c.code, "keys")
    )
)
_STORED_ANSWERS = BulkRead(
    lambda in_: select(
        _RESPONSES.c.caller, _RESPONSES.c.msgid, _RESPONSES.c.infno, _RESPONSES.c.response
    ).where(in_(_RESPONSES.c.caller, "callers"), in_(_RESPONSES.c.msgid, "msgids"))
)
# PostgreSQL: the nonces stored in one statement; a nonce (or signature) already used is skipped
# and so not returned (a concurrent insert of the same one is waited for, then skipped).
# (run on the psycopg connection: SQLAlchemy's execution step cost more than the statement)
_TAKE_NONCES_PG = (
    "INSERT INTO request_nonces (caller, nonce, signature, seen_at)"
    " SELECT * FROM unnest(CAST(%(c)s AS VARCHAR[]), CAST(%(n)s AS VARCHAR[]),"
    " CAST(%(s)s AS VARCHAR[]), CAST(%(t)s AS TIMESTAMP[]))"
    " ON CONFLICT DO NOTHING RETURNING caller, nonce"
)
# PostgreSQL: a batch's opening in one statement (``ApiRepository.open_batch``): the callers'
# read (as ``_CALLERS``), the nonces stored of the requests whose key is active among them, and
# the stored answers of the msgids. The nonces' insert waits for a concurrent insert of the
# same nonce or signature, then skips it (not returned: a replay), as ``_TAKE_NONCES_PG``.
# The answers are probed by (caller, msgid) pairs: with ``caller = ANY(...) AND msgid =
# ANY(...)`` the generic plan of the prepared statement expected a caller's share of the table
# (few callers, many msgids each), so PostgreSQL planned the statement anew at every run.
_OPEN_BATCH_PG = (
    "WITH c AS (SELECT i.code, i.level, i.kind, i.active, k.key_id FROM institutions i"
    " LEFT JOIN institution_keys k ON k.institution_id = i.id"
    " AND k.key_id = ANY(CAST(%(keys)s AS TEXT[])) AND k.active"
    " WHERE i.code = ANY(CAST(%(codes)s AS TEXT[]))),"
    " n AS (INSERT INTO request_nonces (caller, nonce, signature, seen_at)"
    " SELECT r.caller, r.nonce, r.signature, CAST(%(t)s AS TIMESTAMP)"
    " FROM unnest(CAST(%(rc)s AS VARCHAR[]), CAST(%(rk)s AS VARCHAR[]),"
    " CAST(%(c)s AS VARCHAR[]), CAST(%(n)s AS VARCHAR[]), CAST(%(s)s AS VARCHAR[]))"
    " AS r(code, key_id, caller, nonce, signature)"
    " WHERE EXISTS (SELECT FROM c WHERE c.code = r.code AND c.key_id = r.key_id AND c.active)"
    " ON CONFLICT DO NOTHING RETURNING caller, nonce)"
    " SELECT 0, code, key_id, kind, level, active, NULL FROM c"
    " UNION ALL SELECT 1, caller, nonce, NULL, NULL, NULL, NULL FROM n"
    " UNION ALL SELECT 2, t.caller, t.msgid, t.infno, NULL, NULL, t.response"
    " FROM unnest(CAST(%(ac)s AS TEXT[]), CAST(%(am)s AS TEXT[])) AS q(caller, msgid)"
    " JOIN tx_responses t ON t.caller = q.caller AND t.msgid = q.msgid"
)
_INSERT_RESPONSE = insert(_RESPONSES)
_UPDATE_ANSWER = (
    update(_RESPONSES)
    .where(_RESPONSES.c.caller == bindparam("p_caller"), _RESPONSES.c.msgid == bindparam("p_msgid"))
    .values(infcode=bindparam("p_infcode"), response=bindparam("p_response"))
)


#: Column widths of ``audit_log`` (``audit`` cuts values to them).
ACTOR, ROLE, ACTION, TARGET, DETAIL = 80, 24, 40, 80, 500


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    role: str
    action: str
    outcome: str = "ok"
    person_id: int | None = None
    target: str | None = None
    msgid: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class StaffAccount:
    id: int
    username: str
    role: str
    person_id: int | None
    active: bool


def _account(row: StaffAccountRow) -> StaffAccount:
    return StaffAccount(row.id, row.username, row.role, row.person_id, row.active)


@dataclass(frozen=True, slots=True)
class Callers:
    """``ApiRepository.callers``: the active (institution code, key id) pairs among those
    asked, {code: level (1-3) or None} of the institutions found, and {code: kind, or None
    when not registered} of every code asked."""

    active: set[tuple[str, str]]
    levels: dict[str, int | None]
    kinds: dict[str, str | None]


def _callers(
    wanted: set[tuple[str, str]],
    codes: set[str],
    rows: Iterable[tuple[str, int | None, str, bool, str | None]],
) -> Callers:
    """``Callers`` of the rows (code, level, kind, active, key id) read for ``wanted``."""
    rows = list(rows)
    active = {(c, k) for c, _, _, on, k in rows if on and k is not None} & wanted
    levels = {c: (lv if lv in (1, 2, 3) else None) for c, lv, _, _, _ in rows}
    kinds: dict[str, str | None] = dict.fromkeys(codes)
    kinds.update({str(c): str(k) for c, _, k, _, _ in rows})
    return Callers(active, levels, kinds)


#: {(caller, msgid): (its transaction's infno, stored answer (None: still in progress))}
StoredAnswers = dict[tuple[str, str], tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class Opened:
    """``ApiRepository.open_batch``: the callers (as ``callers`` reads them), the (caller,
    nonce) pairs stored (the others offered were used already, or their key is not active), and
    the stored answers of the msgids asked."""

    callers: Callers
    stored_nonces: set[tuple[str, str]]
    answers: StoredAnswers


class ApiRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ institutions & keys
    def add_institution(
        self,
        code: str,
        name: str,
        level: int | None = None,
        area: str | None = None,
        kind: str = "hospital",
    ) -> int:
        row = InstitutionRow(code=code, name=name, level=level, area=area, active=True, kind=kind)
        self.session.add(row)
        self.session.flush()
        return row.id

    def institution(self, code: str) -> InstitutionRow | None:
        return self.session.scalar(_INSTITUTION, {"p_code": code})

    def callers(self, pairs: Iterable[tuple[str, str]]) -> Callers:
        """Of (institution code, key id), those whose key id exists, is active and belongs to
        the active institution of that code, and the levels and kinds of those institutions,
        in one read."""
        wanted = set(pairs)
        codes = {c for c, _ in wanted}
        if not wanted:
            return Callers(set(), {}, {})
        rows = _CALLERS.rows(self.session, codes=sorted(codes), keys=sorted({k for _, k in wanted}))
        return _callers(wanted, codes, rows)

    def open_batch(
        self,
        pairs: Iterable[tuple[str, str]],
        nonces: list[tuple[str, str, str, str, str]],
        msgids: list[tuple[str, str]],
        at: dt.datetime,
    ) -> Opened | None:
        """A batch's ``callers`` of the (code, key id) ``pairs``, ``take_nonces`` of the
        ``nonces`` (code, key id, caller, nonce, signature) whose (code, key id) is active, and
        ``stored_answers`` of ``msgids`` (caller, msgid): one statement on PostgreSQL (None
        elsewhere: the caller makes the three). ``nonces`` hold no pair or signature twice.
        The reads see the database as of the statement's start (a nonce stored concurrently is
        waited for and refused all the same; a msgid answered concurrently fails the
        transaction at the answers' insert, as after ``stored_answers``)."""
        conn = self.session.connection()
        if conn.dialect.name != "postgresql":
            return None
        wanted = set(pairs)
        codes = {c for c, _ in wanted}
        asked = sorted(set(msgids))
        params = {
            "keys": sorted({k for _, k in wanted}),
            "codes": sorted(codes),
            "t": at,
            "rc": [r[0] for r in nonces],
            "rk": [r[1] for r in nonces],
            "c": [r[2] for r in nonces],
            "n": [r[3] for r in nonces],
            "s": [r[4] for r in nonces],
            "ac": [c for c, _ in asked],
            "am": [m for _, m in asked],
        }
        with driver_of(conn, _OPEN_BATCH_PG) as driver, driver.cursor() as cursor:
            cursor.execute(_OPEN_BATCH_PG, params)
            rows = cursor.fetchall()
        found = [(c, lv, kd, on, k) for t, c, k, kd, lv, on, _ in rows if t == 0]
        stored = {(c, n) for t, c, n, _, _, _, _ in rows if t == 1}
        answers = {(c, m): (i, r) for t, c, m, i, _, _, r in rows if t == 2}
        return Opened(_callers(wanted, codes, found), stored, answers)

    def institution_kinds(self, codes: set[str]) -> dict[str, str]:
        """{code: kind} of the institutions found (``policy.vocab.InstitutionKind``)."""
        if not codes:
            return {}
        return {str(c): str(k) for c, k in _KINDS.rows(self.session, keys=sorted(codes))}

    def add_key(self, institution_id: int, key_id: str) -> None:
        self.session.add(InstitutionKeyRow(institution_id=institution_id, key_id=key_id))
        self.session.flush()

    def take_nonces(
        self, keys: list[tuple[str, str, str]], at: dt.datetime
    ) -> set[tuple[str, str]]:
        """Store the nonces (caller, nonce, signature) seen ``at``; returns the (caller, nonce)
        pairs refused as already used, by nonce or by signature. ``keys`` hold no pair or
        signature twice. On PostgreSQL one statement; elsewhere a query, then an insert."""
        if not keys:
            return set()
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            with driver_of(conn, _TAKE_NONCES_PG) as driver, driver.cursor() as cursor:
                cursor.execute(
                    _TAKE_NONCES_PG,
                    {
                        "c": [c for c, _, _ in keys],
                        "n": [n for _, n, _ in keys],
                        "s": [s for _, _, s in keys],
                        "t": [at] * len(keys),
                    },
                )
                taken = cursor.fetchall()
            return {(c, n) for c, n, _ in keys} - {(c, n) for c, n in taken}
        used = self._used_nonces(keys)
        fresh = [(c, n, s) for c, n, s in keys if (c, n) not in used]
        if fresh:
            conn.execute(
                _INSERT_NONCE,
                [{"caller": c, "nonce": n, "signature": s, "seen_at": at} for c, n, s in fresh],
            )
        return used

    def _used_nonces(self, keys: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
        """Of (caller, nonce, signature), the (caller, nonce) pairs already used (by nonce or
        by signature), in one query."""
        by_signature = {s: (c, n) for c, n, s in keys}
        pairs = {(c, n) for c, n, _ in keys}
        rows = self.session.execute(
            select(RequestNonceRow.caller, RequestNonceRow.nonce, RequestNonceRow.signature).where(
                any_of(self.session, RequestNonceRow.signature, by_signature)
                | (
                    any_of(self.session, RequestNonceRow.caller, {c for c, _ in pairs})
                    & any_of(self.session, RequestNonceRow.nonce, {n for _, n in pairs})
                )
            )
        ).all()
        used = {(c, n) for c, n, _ in rows if (c, n) in pairs}
        used |= {by_signature[s] for _, _, s in rows if s in by_signature}
        return used

    def purge_nonces(self, before: dt.datetime) -> None:
        self.session.execute(delete(RequestNonceRow).where(RequestNonceRow.seen_at < before))

    # ------------------------------------------------------------------------------- staff
    def add_staff(
        self, username: str, role: str, password_hash: str, person_id: int | None = None
    ) -> StaffAccount:
        row = StaffAccountRow(
            username=username,
            role=role,
            password_hash=password_hash,
            person_id=person_id,
            active=True,
        )
        self.session.add(row)
        self.session.flush()
        return _account(row)

    def staff_by_name(self, username: str) -> tuple[StaffAccount, str] | None:
        row = self.session.scalar(
            select(StaffAccountRow).where(StaffAccountRow.username == username)
        )
        return (_account(row), row.password_hash) if row else None

    def add_token(self, account_id: int, token_sha256: str, expires_at: dt.datetime) -> None:
        self.session.add(
            StaffTokenRow(account_id=account_id, token_hash=token_sha256, expires_at=expires_at)
        )
        self.session.flush()

    def staff_by_token(self, token_sha256: str, now: dt.datetime) -> StaffAccount | None:
        row = self.session.scalar(
            select(StaffAccountRow)
            .join(StaffTokenRow, StaffTokenRow.account_id == StaffAccountRow.id)
            .where(
                StaffTokenRow.token_hash == token_sha256,
                StaffTokenRow.revoked.is_(False),
                StaffTokenRow.expires_at > now,
                StaffAccountRow.active.is_(True),
            )
        )
        return _account(row) if row else None

    def token_owner(self, token_sha256: str, now: dt.datetime) -> tuple[str, str] | None:
        """(username, why the token is refused) of a token that exists but is refused: revoked,
        expired, or its account deactivated. None: no such token."""
        row = self.session.execute(
            select(
                StaffAccountRow.username,
                StaffAccountRow.active,
                StaffTokenRow.revoked,
                StaffTokenRow.expires_at,
            )
            .join(StaffTokenRow, StaffTokenRow.account_id == StaffAccountRow.id)
            .where(StaffTokenRow.token_hash == token_sha256)
        ).first()
        if row is None:
            return None
        username, active, revoked, expires_at = row
        why = (
            "token revoked"
            if revoked
            else "token expired"
            if expires_at <= now
            else "account deactivated"
            if not active
            else "token refused"
        )
        return username, why

    # ------------------------------------------------------------------- msgid responses
    def stored_answer(self, caller: str, msgid: str) -> TxResponseRow | None:
        return self.session.scalar(_STORED_ANSWER, {"p_caller": caller, "p_msgid": msgid})

    def mark_msgid(self, caller: str, msgid: str, infno: str, request_sha256: str) -> None:
        """Insert the msgid marker (no answer yet) in the current transaction; a concurrent
        request with the same msgid fails on the unique constraint (here, or at commit)."""
        self.session.connection().execute(
            _INSERT_RESPONSE,
            {
                "caller": caller,
                "msgid": msgid,
                "infno": infno,
                "request_sha256": request_sha256,
                "infcode": 0,
                "response": None,
            },
        )

    def store_answer(
        self, caller: str, msgid: str, infno: str, request_sha256: str, infcode: int, body: str
    ) -> None:
        self.session.flush()  # what the session holds goes first (e.g. a loaded marker row)
        conn = self.session.connection()
        moved = conn.execute(
            _UPDATE_ANSWER,
            {"p_caller": caller, "p_msgid": msgid, "p_infcode": infcode, "p_response": body},
        )
        if moved.rowcount == 0:  # no marker (a refusal, or a read): insert the answer
            conn.execute(
                _INSERT_RESPONSE,
                {
                    "caller": caller,
                    "msgid": msgid,
                    "infno": infno,
                    "request_sha256": request_sha256,
                    "infcode": infcode,
                    "response": body,
                },
            )

    def stored_answers(self, keys: list[tuple[str, str]]) -> StoredAnswers:
        """{(caller, msgid): (its transaction's infno, stored answer (None: still in
        progress))} of those present."""
        if not keys:
            return {}
        wanted = set(keys)
        rows = _STORED_ANSWERS.rows(
            self.session,
            callers=sorted({c for c, _ in wanted}),
            msgids=sorted({m for _, m in wanted}),
        )
        return {(c, m): (i, r) for c, m, i, r in rows if (c, m) in wanted}

    def add_answers(self, rows: list[tuple[str, str, str, str, int, str]]) -> None:
        """Insert answers (caller, msgid, infno, request sha256, infcode, body) of requests that
        stored no marker: one insert, gathered if the session gathers its writes
        (``store.sql.gathered``). A msgid answered concurrently fails the transaction."""
        insert_gathered(
            self.session,
            _RESPONSES,
            [
                {
                    "caller": c,
                    "msgid": m,
                    "infno": i,
                    "request_sha256": h,
                    "infcode": code,
                    "response": body,
                }
                for c, m, i, h, code, body in rows
            ],
        )

    # ------------------------------------------------------------------------------ audit
    def audits(self, entries: list[AuditEntry]) -> None:
        """Append many audit entries: one insert, gathered if the session gathers its writes."""
        at = utcnow()
        insert_gathered(
            self.session,
            _AUDIT,
            [
                {
                    "at": at,
                    "actor": e.actor,
                    "role": e.role,
                    "action": e.action,
                    "person_id": e.person_id,
                    "target": e.target,
                    "msgid": e.msgid,
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in entries
            ],
        )

    def audit(self, entry: AuditEntry, at: dt.datetime | None = None) -> None:
        """Add one entry (the caller commits); text cut to the column widths, never refused."""
        self.session.add(
            AuditRow(
                at=at or utcnow(),
                actor=entry.actor[:ACTOR],
                role=entry.role[:ROLE],
                action=entry.action[:ACTION],
                person_id=entry.person_id,
                target=None if entry.target is None else entry.target[:TARGET],
                msgid=entry.msgid,
                outcome=entry.outcome,
                detail=None if entry.detail is None else entry.detail[:DETAIL],
            )
        )

    def audit_log(
        self,
        person_id: int | None = None,
        actor: str | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if person_id is not None:
            q = q.where(AuditRow.person_id == person_id)
        if actor is not None:
            q = q.where(AuditRow.actor == actor)
        return list(self.session.scalars(q))
