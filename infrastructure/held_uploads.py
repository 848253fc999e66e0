"""Problem lists previewed and awaiting confirmation (application.ports.HeldUploads), on disk
in a folder of their own beside the evidence files:

    held/<user id>/<sha256>        the file as uploaded
    held/<user id>/<sha256>.json   its name

Only the user who uploaded a file finds it: the owner is part of the path, never taken from
the form. Writes go to a temporary file and are renamed into place, so a file is whole or absent.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from uuid import UUID

from infrastructure.evidence_files import _write

_DIGEST = re.compile(r"[0-9a-f]{64}")
# A preview nobody confirmed within a day is abandoned: the sender's next upload removes it.
KEPT_SECONDS = 24 * 3600


class HeldUploadFiles:
    def __init__(self, root: Path) -> None:
        self.root = root / "held"

    def _path(self, owner: UUID, sha256: str) -> Path | None:
        if not _DIGEST.fullmatch(sha256):
            return None  # a digest from a form: anything else names no file
        return self.root / str(owner) / sha256

    def hold(self, owner: UUID, name: str, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._path(owner, sha256)
        assert path is not None
        # Everyone's abandoned previews, not only this sender's: a list previewed by someone
        # who never uploads again must not stay on disk for good (its free text may name a child).
        self._forget_abandoned()
        _write(path, content)
        _write(path.with_name(sha256 + ".json"), json.dumps({"name": name}, ensure_ascii=False).encode())
        return sha256

    def held(self, owner: UUID, sha256: str) -> tuple[str, bytes] | None:
        path = self._path(owner, sha256)
        if path is None:
            return None
        try:
            name = str(json.loads(path.with_name(sha256 + ".json").read_text())["name"])
            content = path.read_bytes()
        except (OSError, ValueError, KeyError):
            return None
        # A file changed on disk is not the one previewed.
        return (name, content) if hashlib.sha256(content).hexdigest() == sha256 else None

    def release(self, owner: UUID, sha256: str) -> None:
        path = self._path(owner, sha256)
        if path is None:
            return
        for part in (path.with_name(sha256 + ".json"), path):
            part.unlink(missing_ok=True)

    def _forget_abandoned(self) -> None:
        stale = time.time() - KEPT_SECONDS
        for old in self.root.glob("*/*"):
            try:
                if old.stat().st_mtime < stale:
                    old.unlink(missing_ok=True)
            except OSError:
                continue  # removed meanwhile by another request
