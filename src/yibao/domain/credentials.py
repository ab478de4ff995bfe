"""Credentials of the API's callers, as pure functions: an institution's signing key derived
from the master secret (the server never stores one), staff passwords (scrypt) and bearer tokens
(stored as their SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def institution_key(master_secret: str, code: str, key_id: str) -> str:
    """The institution's signing key (hex), derived from the master secret."""
    msg = f"institution-key:{code}:{key_id}".encode()
    return hmac.new(master_secret.encode(), msg, hashlib.sha256).hexdigest()


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${dk.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, dk_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    dk = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(dk.hex(), dk_hex)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are stored as their SHA-256: a database dump holds no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
