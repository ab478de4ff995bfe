"""Who is calling: an institution (signed request) or a staff member (bearer token).

``authenticate`` is called once per request by the ``principal`` dependency (``deps.py``)."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yibao.api.http import audit, errors
from yibao.api.http.errors import ApiError
from yibao.api.http.security import (
    HEADER_INSTITUTION,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign,
    signatures_match,
)
from yibao.api.http.settings import Settings
from yibao.domain.credentials import institution_key, token_hash
from yibao.domain.roles import UNMASKED, Role, allowed
from yibao.store.db import utcnow
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.repositories.api import Callers, StoredAnswers

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{20,100}$")
_SHORT = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
#: An institution's signing key, derived once per (secret, institution, key id) and remembered
#: (an HMAC per request otherwise); bounded, as the institution and key id are the caller's.
_institution_key = lru_cache(maxsize=1024)(institution_key)


@dataclass(frozen=True)
class Principal:
    role: Role
    #: ``inst:<code>`` or ``staff:<username>``: what the audit log and msgid scope use.
    actor: str
    institution: str | None = None
    person_id: int | None = None

    def may(self, action: str) -> bool:
        return allowed(self.role, action)

    def require(self, action: str) -> None:
        if not self.may(action):
            raise ApiError(
                errors.FORBIDDEN,
                f"role {self.role.value} may not do {action}; ask an administrator for a role "
                "that may",
            )

    def sees_identity(self, person_id: int | None) -> bool:
        """May this caller see national ID, name and phone of ``person_id`` unmasked?"""
        if self.role is Role.INSURED_PERSON:
            return person_id is not None and person_id == self.person_id
        return self.role in UNMASKED


def authenticate(
    engine: Engine,
    settings: Settings,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> Principal:
    """The caller, or the refusal raised (and audited: ``api.audit``)."""
    what = f"{method} {path}"
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return _staff(engine, settings, auth[7:].strip(), what)
    if headers.get(HEADER_SIGNATURE.lower()):
        try:
            signed = verify_signature(settings, method, path, headers, body)
        except ApiError as err:
            code = headers.get(HEADER_INSTITUTION.lower()) or "?"
            key_id = headers.get(HEADER_KEY_ID.lower()) or "?"
            audit_refusal(engine, settings, f"inst:{code}", err, what, f"key {key_id}")
            raise
        return admit_one(engine, settings, signed, what)
    anonymous = ApiError(
        errors.UNAUTHENTICATED,
        "request is not authenticated: sign it with your institution key "
        f"({HEADER_INSTITUTION}, {HEADER_KEY_ID}, {HEADER_TIMESTAMP}, {HEADER_NONCE}, "
        f"{HEADER_SIGNATURE}) or send Authorization: Bearer <staff token>",
    )
    audit_refusal(engine, settings, "anonymous", anonymous, what, "no signature, no token")
    raise anonymous


def refusal_entry(
    settings: Settings, actor: str, err: ApiError, target: str | None, claimed: str | None
) -> AuditEntry | None:
    """The audit entry of an authentication refusal (the claimed caller, what, why), or None
    when the budget of such entries is spent (``api.audit``)."""
    action = "auth:token" if actor.startswith("staff:") else "auth:signature"
    entry = audit.unauthenticated(actor, action, err, target, claimed)
    return audit.budgeted(settings.refusal_budget(), entry)


def audit_refusal(
    engine: Engine,
    settings: Settings,
    actor: str,
    err: ApiError,
    target: str | None,
    claimed: str | None = None,
) -> None:
    """Write the entry of an authentication refusal; a failure to write it is only logged."""
    audit.write(engine, [refusal_entry(settings, actor, err, target, claimed)])


def _staff(engine: Engine, settings: Settings, token: str, what: str) -> Principal:
    if not _TOKEN.match(token):
        err = ApiError(errors.UNAUTHENTICATED, "bearer token is malformed: log in again")
        audit_refusal(engine, settings, "staff:?", err, what, "malformed token")
        raise err
    with Session(engine) as session:
        repo = ApiRepository(session)
        digest = token_hash(token)
        account = repo.staff_by_token(digest, utcnow())
        owner = repo.token_owner(digest, utcnow()) if account is None else None
    if account is None:
        err = ApiError(
            errors.UNAUTHENTICATED, "bearer token is unknown, expired or revoked: log in again"
        )
        actor, why = owner or ("?", "unknown token")
        audit_refusal(engine, settings, f"staff:{actor}", err, what, why)
        raise err
    return Principal(Role(account.role), f"staff:{account.username}", None, account.person_id)


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature is right; the key's standing and the nonce are still to be
    checked against the database (``admit``)."""

    code: str
    key_id: str
    nonce: str
    signature: str

    @cached_property  # read several times a request by a batch's checks
    def principal(self) -> Principal:
        return Principal(Role.INSTITUTION, f"inst:{self.code}", self.code, None)


def verify_signature(
    settings: Settings,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> SignedRequest:
    """The checks of a signed request that need no database: headers, clock, signature."""
    code = headers.get(HEADER_INSTITUTION.lower(), "")
    key_id = headers.get(HEADER_KEY_ID.lower(), "")
    ts = headers.get(HEADER_TIMESTAMP.lower(), "")
    nonce = headers.get(HEADER_NONCE.lower(), "")
    signature = headers.get(HEADER_SIGNATURE.lower(), "").strip().lower()
    for name, value in (
        (HEADER_INSTITUTION, code),
        (HEADER_KEY_ID, key_id),
        (HEADER_NONCE, nonce),
    ):
        if not _SHORT.match(value):
            raise ApiError(
                errors.UNAUTHENTICATED,
                f"header {name} is missing or malformed (1-64 letters, digits, _ . : -)",
            )
    if not _HEX64.match(signature):
        raise ApiError(errors.UNAUTHENTICATED, f"header {HEADER_SIGNATURE} must be 64 hex digits")
    try:
        sent = int(ts)
    except ValueError:
        raise ApiError(
            errors.UNAUTHENTICATED, f"header {HEADER_TIMESTAMP} must be Unix seconds"
        ) from None
    skew = abs(time.time() - sent)
    if skew > settings.max_clock_skew_seconds:
        raise ApiError(
            errors.EXPIRED,
            f"request timestamp is {int(skew)} s away from the server clock (at most "
            f"{settings.max_clock_skew_seconds} s allowed): check the clock and sign again",
        )
    key = _institution_key(settings.api_secret.get_secret_value(), code, key_id)
    if not signatures_match(sign(key, ts, nonce, method, path, body), signature):
        raise ApiError(
            errors.UNAUTHENTICATED,
            "signature does not match: sign 'timestamp\\nnonce\\nMETHOD\\npath\\n"
            "sha256(body)' with HMAC-SHA256 and your key",
        )
    return SignedRequest(code, key_id, nonce, signature)


def _unknown_key(signed: SignedRequest) -> ApiError:
    return ApiError(
        errors.UNAUTHENTICATED,
        f"key {signed.key_id} is unknown, revoked, or not a key of institution {signed.code}",
    )


def _replayed() -> ApiError:
    return ApiError(errors.REPLAY, "replayed request: this nonce was already used")


def admit(
    session: Session,
    settings: Settings,
    requests: list[SignedRequest],
    active: set[tuple[str, str]] | None = None,
) -> list[ApiError | None]:
    """The database checks of signed requests, in the caller's transaction: the key is active,
    and the nonce is new (it is stored; the same nonce twice in ``requests`` is a replay too).
    One refusal per request, or None. ``active``: the requests' active (code, key id) pairs,
    read by the caller in this transaction (``ApiRepository.callers``); read here without."""
    repo = ApiRepository(session)
    if active is None:
        active = repo.callers((r.code, r.key_id) for r in requests).active
    out = _screened(requests, active)
    fresh = [_nonce(r) for r, o in zip(requests, out, strict=True) if o is None]
    return _replays(requests, out, repo.take_nonces(fresh, utcnow()))


@dataclass(frozen=True, slots=True)
class Admitted:
    """``admit_batch``: the callers read, one refusal (or None) per request, and the stored
    answers of the admitted requests' msgids."""

    callers: Callers
    refusals: list[ApiError | None]
    stored: StoredAnswers


def admit_batch(
    session: Session, settings: Settings, requests: list[SignedRequest], msgids: list[str]
) -> Admitted:
    """The callers' keys, levels and kinds (``ApiRepository.callers``), ``admit`` and the
    stored answers of the admitted requests' ``msgids`` (one per request), in the caller's
    transaction: one statement on PostgreSQL (``ApiRepository.open_batch``), three elsewhere.
    That statement is offered the nonces of the requests that repeat no earlier one of the
    batch and stores those whose key is active; a request that repeats only requests whose key
    is not active is admitted as ``admit`` would, its nonce stored by a second statement."""
    repo = ApiRepository(session)
    pairs = [(r.code, r.key_id) for r in requests]
    keys = [(r.principal.actor, m) for r, m in zip(requests, msgids, strict=True)]
    offered = [o is None for o in _screened(requests, set(pairs))]  # every key taken as active
    nonces = [(r.code, r.key_id, *_nonce(r)) for r, o in zip(requests, offered, strict=True) if o]
    opened = repo.open_batch(pairs, nonces, keys, utcnow())
    if opened is None:
        callers = repo.callers(pairs)
        refusals = admit(session, settings, requests, callers.active)
        asked = [k for k, r in zip(keys, refusals, strict=True) if r is None]
        return Admitted(callers, refusals, repo.stored_answers(asked))
    out = _screened(requests, opened.callers.active)
    fresh = [i for i, o in enumerate(out) if o is None]
    used = {(requests[i].principal.actor, requests[i].nonce) for i in fresh if offered[i]}
    used -= opened.stored_nonces
    late = [_nonce(requests[i]) for i in fresh if not offered[i]]
    if late:  # each repeats a request whose key is not active
        used |= repo.take_nonces(late, utcnow())
    refusals = _replays(requests, out, used)
    admitted = {k for k, r in zip(keys, refusals, strict=True) if r is None}
    stored = {k: v for k, v in opened.answers.items() if k in admitted}
    return Admitted(opened.callers, refusals, stored)


def _nonce(r: SignedRequest) -> tuple[str, str, str]:
    return r.principal.actor, r.nonce, r.signature


def _screened(requests: list[SignedRequest], active: set[tuple[str, str]]) -> list[ApiError | None]:
    """The refusals known before the nonces are stored (a key not ``active``; the nonce or
    signature of an earlier request of ``requests`` not refused), or None."""
    out: list[ApiError | None] = []
    seen: set[tuple[str, str]] = set()
    signatures: set[str] = set()
    for r in requests:
        caller = r.principal.actor
        if (r.code, r.key_id) not in active:
            out.append(_unknown_key(r))
        elif (caller, r.nonce) in seen or r.signature in signatures:
            out.append(_replayed())
        else:
            seen.add((caller, r.nonce))
            signatures.add(r.signature)
            out.append(None)
    return out


def _replays(
    requests: list[SignedRequest], out: list[ApiError | None], used: set[tuple[str, str]]
) -> list[ApiError | None]:
    """``out`` with the requests whose (caller, nonce) was used already refused."""
    for i, r in enumerate(requests):
        if out[i] is None and (r.principal.actor, r.nonce) in used:
            out[i] = _replayed()
    return out


#: Requests between purges of the old nonces, on average: each purge is a transaction of its own
#: with its COMMIT, and a table of a few thousand rows more costs nothing.
PURGE_EVERY = 1000


def purge_nonces_now_and_then(engine: Engine, settings: Settings, requests: int = 1) -> None:
    """About once per ``PURGE_EVERY`` requests, in its own short transaction: drop the nonces
    older than the skew window can replay (kept four times as long)."""
    if random.random() >= min(1.0, requests / PURGE_EVERY):
        return
    before = utcnow() - dt.timedelta(seconds=4 * settings.max_clock_skew_seconds)
    with Session(engine) as session:
        ApiRepository(session).purge_nonces(before)
        session.commit()


def admit_one(
    engine: Engine, settings: Settings, signed: SignedRequest, what: str | None = None
) -> Principal:
    """``admit`` one signed request in its own transaction: the caller, or the refusal raised
    (and audited, ``what`` naming the request)."""
    with Session(engine) as session:
        try:
            refused = admit(session, settings, [signed])[0]
            if refused is None:
                session.commit()
        except IntegrityError:
            refused = _replayed()
    if refused is not None:
        actor = signed.principal.actor
        audit_refusal(engine, settings, actor, refused, what, f"key {signed.key_id}")
        raise refused
    purge_nonces_now_and_then(engine, settings)
    return signed.principal
