"""Server secrets kept as files: 256 random bits, base64, mode 0600, made on first start.

A secret file is written aside with ``O_EXCL`` and linked into place, so two processes
starting at once never read a half-written key, and the one that loses the race keeps the
winner's key. A file others may read is refused: its secret is no longer one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path

SECRET_BYTES = 32


def load_or_create_secret(path: str | os.PathLike[str], *, what: str, error: type[Exception]) -> bytes:
    """The secret in ``path`` (created on first use); ``what`` names it in the Chinese message
    of ``error``, raised when the file is readable by others or does not hold 256 bits."""
    path = Path(path)
    if not path.exists():
        _create(path)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise error(f"{what}文件 {path} 只能由本用户读写（权限应为 0600）")
    try:
        secret = base64.b64decode(path.read_text().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what}文件 {path} 内容不是 base64") from None
    if len(secret) != SECRET_BYTES:
        raise error(f"{what}须为 {SECRET_BYTES * 8} 位")
    return secret


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(os.urandom(SECRET_BYTES)).decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
