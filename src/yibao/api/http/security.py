"""Request signing (the HTTP side: headers, string to sign, signature check).

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
