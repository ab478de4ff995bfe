"""Request signing, staff passwords and tokens (masking: ``yibao.domain.masking``).

Institutions sign every request with their key (HMAC-SHA256) over::

    "{timestamp}\\n{nonce}\\n{METHOD}\\n{path}\\n{sha256(body) hex}"

sent as ``X-Yibao-Institution`` (institution code), ``X-Yibao-Key-Id``, ``X-Yibao-Timestamp``
(Unix seconds), ``X-Yibao-Nonce`` (random, ≤ 64 characters) and ``X-Yibao-Signature`` (hex).
The server never stores institution keys: each is derived from the master secret, the code and
the key id, so a key is revoked by deactivating its id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER_INSTITUTION = "X-Yibao-Institution"
HEADER_KEY_ID = "X-Yibao-Key-Id"
HEADER_TIMESTAMP = "X-Yibao-Timestamp"
HEADER_NONCE = "X-Yibao-Nonce"
HEADER_SIGNATURE = "X-Yibao-Signature"


def institution_key(master_secret: str, code: str, key_id: str) -> str:
    """The institution's signing key (hex), derived from the master secret."""
    msg = f"institution-key:{code}:{key_id}".encode()
    return hmac.new(master_secret.encode(), msg, hashlib.sha256).hexdigest()


def string_to_sign(timestamp: str, nonce: str, method: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n{digest}".encode()


def sign(key: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    """The hex signature a client sends in ``X-Yibao-Signature``."""
    return hmac.new(
        key.encode(), string_to_sign(timestamp, nonce, method, path, body), hashlib.sha256
    ).hexdigest()


def signed_headers(
    code: str, key_id: str, key: str, method: str, path: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """Headers of a signed request (what a client library does)."""
    nonce = secrets.token_hex(16)
    ts = str(timestamp)
    return {
        HEADER_INSTITUTION: code,
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(key, ts, nonce, method, path, body),
    }


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


# ---------------------------------------------------------------------------- staff secrets

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
