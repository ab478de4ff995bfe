"""Institutions, their signing keys and staff accounts (机构、密钥与账户): registering an
institution and issuing it a key, creating a staff (or insured person's) account, logging in
for a bearer token.

Each use case writes its audit entry in the same transaction as its change. ``actor`` and
``role`` name who did it: ``staff:<username>`` / the account's role through the API, ``cli`` /
``administrator`` from the command line. The specs (``NewInstitution``, ``NewStaff``) carry
their own field checks; the API takes them as request bodies, the command line builds them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from yibao.domain.credentials import (
    check_password,
    hash_password,
    institution_key,
    new_token,
    token_hash,
)
from yibao.domain.errors import AlreadyExists, InvalidField, RecordError
from yibao.domain.roles import STAFF_ROLES, Role
from yibao.policy.vocab import InstitutionKind
from yibao.rules.institutions import institution_terms, registered_level
from yibao.services import clock
from yibao.services.common import policy_for
from yibao.store.db import utcnow
from yibao.store.repositories import ApiRepository, AuditEntry, StaffAccount
from yibao.store.uow import UnitOfWork

#: Who acts when nobody logged in does: the command line, as the administrator.
CLI_ACTOR, CLI_ROLE = "cli", Role.ADMINISTRATOR.value


class NewInstitution(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.:\-]+$")
    name: str = Field(min_length=1, max_length=200)
    level: int | None = Field(default=None, ge=0, le=3)
    area: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    #: 定点医药机构类别: a village clinic or pharmacy is registered at its kind's level
    #: (``institutions.<kind>.level`` of its area's parameters; another level is refused)
    kind: InstitutionKind = InstitutionKind.HOSPITAL


class NewStaff(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@\-]+$")
    role: Role
    password: str = Field(min_length=10, max_length=200)
    psn_no: int | None = Field(default=None, ge=1, le=2**62, description="insured person only")


@dataclass(frozen=True)
class IssuedKey:
    code: str
    key_id: str
    #: Shown once: the institution signs its requests with it (never stored, derived again).
    key: str


class AccountConflict(AlreadyExists):
    """The username is taken, or the person number names nobody (one constraint error)."""

    def __init__(self, username: str, psn_no: int | None) -> None:
        super().__init__("user", username)
        self.args = (f"user {username} exists, or psn_no {psn_no} is unknown",)


def issue_institution(
    uow: UnitOfWork,
    secret: str,
    spec: NewInstitution,
    actor: str = CLI_ACTOR,
    role: str = CLI_ROLE,
) -> IssuedKey:
    """Register institution ``spec.code`` (unless it is already) and issue it a new key, derived
    from the master ``secret``. A concurrent registration of the same code is ``AlreadyExists``."""
    key_id = f"k{secrets.token_hex(6)}"
    kind = InstitutionKind(spec.kind)
    terms = institution_terms(policy_for(spec.area or "000000"), kind, clock.today())
    level = registered_level(terms, spec.level)
    with uow:
        repo = ApiRepository(uow.session)
        try:
            found = repo.institution(spec.code)
            inst_id = (
                found.id
                if found is not None
                else repo.add_institution(spec.code, spec.name, level, spec.area, kind.value)
            )
            repo.add_key(inst_id, key_id)
        except IntegrityError:
            raise AlreadyExists("institution", spec.code) from None
        repo.audit(AuditEntry(actor, role, "admin:institutions", target=f"{spec.code}/{key_id}"))
        uow.commit()
    return IssuedKey(spec.code, key_id, institution_key(secret, spec.code, key_id))


def institution_level(uow: UnitOfWork, code: str) -> int | None:
    """The level (医院等级, 1-3) institution ``code`` is registered at; None when it is not
    registered, or registered without one."""
    with uow:
        row = ApiRepository(uow.session).institution(code)
        return row.level if row is not None and row.level in (1, 2, 3) else None


def create_staff(
    uow: UnitOfWork, spec: NewStaff, actor: str = CLI_ACTOR, role: str = CLI_ROLE
) -> StaffAccount:
    """Create an account for a staff role, or for an insured person (``psn_no``, and only
    then); institutions use keys, not accounts. The password is stored as its scrypt hash."""
    if spec.role not in STAFF_ROLES:
        raise InvalidField("role", "institutions use keys, not accounts")
    if (spec.role is Role.INSURED_PERSON) != (spec.psn_no is not None):
        raise InvalidField("psn_no", "required for insured_person accounts, and only for them")
    with uow:
        repo = ApiRepository(uow.session)
        try:
            account = repo.add_staff(
                spec.username, spec.role.value, hash_password(spec.password), spec.psn_no
            )
        except IntegrityError:
            raise AccountConflict(spec.username, spec.psn_no) from None
        repo.audit(
            AuditEntry(actor, role, "admin:staff", person_id=spec.psn_no, target=spec.username)
        )
        uow.commit()
    return account


@dataclass(frozen=True)
class BearerToken:
    #: Shown once: only its SHA-256 is stored.
    token: str
    role: str
    expires_at: dt.datetime


class LoginRefused(RecordError):
    """Unknown user, wrong password or deactivated account: one message for all (``why`` says
    which, for the audit log only)."""

    def __init__(self, username: str, why: str) -> None:
        self.username = username
        self.why = why
        super().__init__("unknown user or wrong password")


def log_in(uow: UnitOfWork, username: str, password: str, ttl_seconds: int) -> BearerToken:
    """A bearer token valid ``ttl_seconds`` for an active account whose password matches, the
    login audited (as ``staff:<username>``); otherwise ``LoginRefused``, nothing written."""
    with uow:
        repo = ApiRepository(uow.session)
        found = repo.staff_by_name(username)
        if found is None:
            raise LoginRefused(username, "unknown user")
        account, stored = found
        if not (account.active and check_password(password, stored)):
            raise LoginRefused(username, "wrong password or account deactivated")
        token = new_token()
        expires = utcnow() + dt.timedelta(seconds=ttl_seconds)
        repo.add_token(account.id, token_hash(token), expires)
        repo.audit(AuditEntry(f"staff:{username}", account.role, "auth:login"))
        uow.commit()
    return BearerToken(token, account.role, expires)
