"""The server secret that keys idempotency fingerprints (application.ports.FingerprintKey).

A kept answer's fingerprint is published with the log; keyed under this secret it proves
nothing about the request to anyone who does not hold the file. The file is made on first
start like the other keys: 256 random bits, base64, mode 0600, written aside with
``O_EXCL`` and linked into place. Never logged, never shown. Losing it costs only this:
a retry of a command sent before the loss is refused as a different command (422).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from domain.idempotency import KEYED
from infrastructure.secret_files import SECRET_BYTES, load_or_create_secret

KEY_BYTES = SECRET_BYTES


class IdempotencyKeyError(Exception):
    """The key file is unusable (its permissions, or its content)."""


def load_idempotency_key(path: str | os.PathLike[str]) -> bytes:
    """Reads the secret from ``path``, creating it on first use."""
    return load_or_create_secret(path, what="幂等指纹密钥", error=IdempotencyKeyError)


class HmacFingerprintKey:
    """HMAC-SHA256 under the secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise IdempotencyKeyError(f"幂等指纹密钥须为 {KEY_BYTES * 8} 位")
        self.__secret = secret

    def keyed(self, text: str) -> str:
        mac = hmac.new(self.__secret, text.encode("utf-8"), hashlib.sha256)
        return KEYED + mac.hexdigest()

    def __repr__(self) -> str:
        return "HmacFingerprintKey(<secret>)"
