"""Evidence files on disk, under ``CARELEDGER_EVIDENCE_DIR``, each by the SHA-256 of its content.

    plain/ab/<sha256>           a file of an issue's entries, as uploaded
    plain/ab/<sha256>.json      its name, media type and size
    cases/<case>/<sha256>       a child's file: 12-byte nonce ‖ AES-256-GCM under the case key
    cases/<case>/<sha256>.json  its media type, size, and its name sealed under the same key
    refs/<sha256>/<aggregate>   an entry of that issue or case names the file (who may read it)
    pending/<sha256>/<aggregate>.<n>  a command naming the file is under way (see ``naming``)
    locks/ab                    one lock of the files whose digest begins with ab

A refused form removes the files it stored new unless something names them; that check and
the removal, a file's storing, and a command's note that it is about to name a file happen
under the file's lock (an exclusive ``flock``, shared by every process on the machine), so a
file another request is naming is never removed under it.

The digest is of the content as uploaded, so a child's file keeps the digest the ledger
names while only ciphertext lies on disk; erasing the case key shreds it (and its name).
Every write goes to a temporary file first and is renamed into place, so a file is whole
or absent. The ledger's events are the record; these files are what they point to.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from application.evidence import FileCheck, StoredFile

NONCE_BYTES = 12
_DIGEST = re.compile(r"[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _associated_data(case_id: UUID, sha256: str, part: str) -> bytes:
    # Bound to the case, the digest and the part: a sealed file or name copied elsewhere does not open.
    return f"{case_id}/{sha256}/{part}".encode()


def _seal(key: bytes, data: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, data, associated)


def _open(key: bytes, sealed: bytes, associated: bytes) -> bytes | None:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except (InvalidTag, ValueError):
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with open(draft, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(draft, path)


class EvidenceFiles:
    """The file store of application.evidence (its ``EvidenceStore`` port)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str, case_id: UUID | None) -> Path:
        if not _DIGEST.fullmatch(sha256):
            raise ValueError("not a lower-case SHA-256")
        if case_id is None:
            return self.root / "plain" / sha256[:2] / sha256
        return self.root / "cases" / str(case_id) / sha256

    def put(self, file: StoredFile, content: bytes, key: bytes | None) -> None:
        path = self._path(file.sha256, file.case_id)
        meta: dict[str, object] = {"media_type": file.media_type, "size": file.size}
        if file.case_id is None:
            meta["name"] = file.name
            data = content
        else:
            assert key is not None
            meta["sealed_name"] = base64.b64encode(
                _seal(key, file.name.encode(), _associated_data(file.case_id, file.sha256, "name"))).decode()
            data = _seal(key, content, _associated_data(file.case_id, file.sha256, "content"))
        with self._lock(file.sha256):
            if not path.exists():
                _write(path, data)
            # The metadata last: a file counts as stored once it is there.
            _write(path.with_name(path.name + ".json"), json.dumps(meta, ensure_ascii=False).encode())

    @contextmanager
    def _lock(self, sha256: str) -> Iterator[None]:
        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(folder / sha256[:2], "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _meta(self, path: Path) -> dict[str, object] | None:
        try:
            return dict(json.loads(path.with_name(path.name + ".json").read_text()))
        except (OSError, ValueError):
            return None

    def find(self, sha256: str, case_id: UUID | None, key: bytes | None) -> StoredFile | None:
        path = self._path(sha256, case_id)
        meta = self._meta(path)
        if meta is None:
            return None
        if case_id is None:
            name = str(meta["name"])
        else:
            opened = key and _open(key, base64.b64decode(str(meta["sealed_name"])),
                                   _associated_data(case_id, sha256, "name"))
            if not opened:
                return None  # shredded with its case key
            name = opened.decode()
        return StoredFile(sha256=sha256, size=int(str(meta["size"])), media_type=str(meta["media_type"]),
                          name=name, case_id=case_id)

    def content(self, sha256: str, case_id: UUID | None, key: bytes | None) -> bytes | None:
        try:
            data = self._path(sha256, case_id).read_bytes()
        except OSError:
            return None
        if case_id is None:
            return data
        return _open(key, data, _associated_data(case_id, sha256, "content")) if key else None

    def attach(self, sha256: str, aggregate_id: UUID) -> None:
        marker = self.root / "refs" / sha256 / str(aggregate_id)
        if not marker.exists():
            _write(marker, b"")

    def references(self, sha256: str) -> list[UUID]:
        try:
            return sorted(UUID(p.name) for p in (self.root / "refs" / sha256).iterdir() if not p.name.startswith("."))
        except OSError:
            return []

    @contextmanager
    def naming(self, sha256s: Sequence[str], aggregate_id: UUID) -> Iterator[Callable[[], None]]:
        """While a command that names these files runs and its references are recorded:
        each file counts as named by ``aggregate_id`` for ``remove_unless``. The caller calls
        what this yields once the command is stored: if recording the references fails after
        that, the notes stay (the entry names the files, and they must never be removed)."""
        marks: list[Path] = []
        stored = False

        def committed() -> None:
            nonlocal stored
            stored = True

        try:
            for sha256 in sha256s:
                if not _DIGEST.fullmatch(sha256):
                    raise ValueError("not a lower-case SHA-256")
                mark = self.root / "pending" / sha256 / f"{aggregate_id}.{secrets.token_hex(8)}"
                with self._lock(sha256):
                    _write(mark, b"")
                marks.append(mark)
            yield committed
        except BaseException:
            if stored:
                marks.clear()
            raise
        finally:
            for mark in marks:
                with self._lock(mark.parent.name):
                    mark.unlink(missing_ok=True)
                    with suppress(OSError):  # another command's note is in it
                        mark.parent.rmdir()

    def remove_unless(self, sha256: str, case_id: UUID | None, named: Callable[[list[UUID]], bool]) -> None:
        """Removes the file unless ``named`` says the aggregates whose entries name it, or
        whose commands are naming it, keep it."""
        path = self._path(sha256, case_id)
        with self._lock(sha256):
            try:
                notes = [p.name.split(".")[0] for p in (self.root / "pending" / sha256).iterdir()
                         if not p.name.startswith(".")]
            except OSError:
                notes = []
            pending = [UUID(n) for n in notes if _UUID.fullmatch(n)]
            if named(self.references(sha256) + pending):
                return
            # The metadata first: without it the file no longer counts as stored.
            for part in (path.with_name(path.name + ".json"), path):
                part.unlink(missing_ok=True)

    def _stored(self) -> Iterator[tuple[str, UUID | None, Path]]:
        for meta in sorted(self.root.glob("plain/*/*.json")):
            yield meta.stem, None, meta.with_suffix("")
        for meta in sorted(self.root.glob("cases/*/*.json")):
            yield meta.stem, UUID(meta.parent.name), meta.with_suffix("")

    def check(self, key_of: Callable[[UUID], bytes | None]) -> FileCheck:
        """Every stored file against its digest; a named file that is not there is missing."""
        result = FileCheck()
        present: set[str] = set()
        for sha256, case_id, path in self._stored():
            present.add(sha256)
            key = key_of(case_id) if case_id is not None else None
            if case_id is not None and key is None:
                result.shredded += 1
                continue
            content = self.content(sha256, case_id, key) if path.exists() else None
            if not path.exists():
                result.missing.append(sha256)
            elif content is None or hashlib.sha256(content).hexdigest() != sha256:
                result.altered.append(sha256)
            else:
                result.checked += 1
        referenced = {p.name for p in (self.root / "refs").glob("*") if _DIGEST.fullmatch(p.name)}
        result.missing.extend(sorted(referenced - present))
        return result
