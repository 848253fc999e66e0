"""The server secret that keys idempotency fingerprints (application.ports.FingerprintKey).

A kept answer's fingerprint is published with the log; keyed under this secret it proves
nothing about the request to anyone who does not hold the file. The file is made on first
start like the other keys: 256 random bits, base64, mode 0600, written aside with
``O_EXCL`` and linked into place. Never logged, never shown. Losing it costs only this:
a retry of a command sent before the loss is refused as a different command (422).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from domain.idempotency import KEYED

KEY_BYTES = 32


class IdempotencyKeyError(Exception):
    """The key file is unusable (its permissions, or its content)."""


def load_idempotency_key(path: str | os.PathLike[str]) -> bytes:
    """Reads the secret from ``path``, creating it on first use."""
    path = Path(path)
    if not path.exists():
        _create(path)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise IdempotencyKeyError(f"幂等指纹密钥文件 {path} 只能由本用户读写（权限应为 0600）")
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise IdempotencyKeyError(f"幂等指纹密钥文件 {path} 内容不是 base64") from None
    if len(key) != KEY_BYTES:
        raise IdempotencyKeyError(f"幂等指纹密钥须为 {KEY_BYTES * 8} 位")
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Two processes starting at once: the one that loses the link keeps the winner's key.
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


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
