"""Evidence files (佐证材料): stored by their SHA-256, named by digest in the entries that
rely on them, read only by whoever may read such an entry.

A file's type is what its content is, never what its name says: the allow-list is of
formats recognised from their first bytes (and, for Office files, from the parts their
zip holds). A child's file is sealed under the case's own key, so erasing the case
shreds it with the rest of the child's personal data.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.access import AGENCY, SUPERVISOR, Actor
from application.errors import ApplicationError, NotFound
from application.read_policy import POLICY
from domain.base import InvalidCommand
from domain.case import ChildCase
from domain.evidence import MAX_EVIDENCE_NAME
from domain.free_text import check_free_text
from domain.issue import RectificationIssue

if TYPE_CHECKING:
    from application.cases import Cases
    from application.ledger import Ledger

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", DOCX: ".docx", XLSX: ".xlsx"}
ALLOWED = "PDF、JPG、PNG、DOCX、XLSX"
# The main part each Office format must hold (ECMA-376); any zip without one is refused.
_OFFICE_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
T = TypeVar("T")


class FileTooLarge(ApplicationError):
    rule = "evidence_within_size_limit"


class UnsupportedFileType(ApplicationError):
    rule = "evidence_type_allowed"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    media_type: str
    name: str
    case_id: UUID | None = None

    def answer(self) -> dict[str, object]:
        return {"sha256": self.sha256, "size": self.size, "media_type": self.media_type, "name": self.name}


@dataclass
class FileCheck:
    """What `careledger verify` found of the stored files."""

    checked: int = 0
    shredded: int = 0  # a child's file whose case key is erased: unreadable by design
    missing: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.missing and not self.altered


class EvidenceStore(Protocol):
    def put(self, file: StoredFile, content: bytes, key: bytes | None) -> None: ...

    def find(self, sha256: str, case_id: UUID | None, key: bytes | None) -> StoredFile | None: ...

    def content(self, sha256: str, case_id: UUID | None, key: bytes | None) -> bytes | None: ...

    def attach(self, sha256: str, aggregate_id: UUID) -> None: ...

    def references(self, sha256: str) -> list[UUID]: ...

    def naming(self, sha256s: Sequence[str], aggregate_id: UUID) -> AbstractContextManager[Callable[[], None]]: ...

    def remove_unless(self, sha256: str, case_id: UUID | None, named: Callable[[list[UUID]], bool]) -> None: ...

    def check(self, key_of: Callable[[UUID], bytes | None]) -> FileCheck: ...


def media_type_of(content: bytes) -> str | None:
    """The allowed format the content is, from the content alone; None for anything else."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError):
            # NotImplementedError: a zip that claims a version or method zipfile cannot read.
            return None
        if "[Content_Types].xml" in names:
            return next((kind for part, kind in _OFFICE_PARTS.items() if part in names), None)
    return None


def named_digests(evidence: object) -> list[str]:
    """The digests a command's ``evidence`` names, as a list of ``{"sha256", "name"}`` (issues)
    or of digests (a child's case); whatever else it holds the domain refuses on its own."""
    items = evidence if isinstance(evidence, list) else []
    found = (item.get("sha256") if isinstance(item, dict) else item for item in items)
    return [d.lower() for d in found if isinstance(d, str) and SHA256.fullmatch(d)]


def _keeps(case_id: UUID | None, named_by: list[UUID]) -> bool:
    return case_id in named_by if case_id is not None else bool(named_by)


def _file_name(given: str | None, media_type: str) -> str:
    # The last part of whatever path a browser sent, without control characters.
    name = _CONTROL.sub("", re.split(r"[\\/]", given or "")[-1]).strip()[:MAX_EVIDENCE_NAME]
    return name or f"佐证材料{EXTENSIONS[media_type]}"


class Evidence:
    """Uploads, the check that a command names stored files, and downloads."""

    def __init__(self, ledger: Ledger, cases: Cases, key_of: Callable[[UUID], bytes | None], store: EvidenceStore,
                 *, max_bytes: int) -> None:
        self.ledger = ledger
        self.cases = cases
        # A child's own key: its files are sealed with it, so erasure shreds them with the rest.
        self.key_of = key_of
        self.store = store
        self.max_bytes = max_bytes

    def _case(self, actor: Actor, case_id: UUID) -> tuple[ChildCase, bytes]:
        case = self.ledger.load(ChildCase, case_id, "儿童个案")
        POLICY.require_case(actor, case)
        key = self.key_of(case_id)
        if key is None or case.erased:
            raise InvalidCommand("case_not_erased", "该个案的个人信息已删除，不能再附加材料")
        return case, key

    def upload(self, actor: Actor, *, content: bytes, name: str | None, case_id: UUID | None = None) -> StoredFile:
        file = self.check_upload(actor, content=content, name=name, case_id=case_id)
        self.keep(actor, file, content)
        return file

    def check_upload(self, actor: Actor, *, content: bytes, name: str | None,
                     case_id: UUID | None = None) -> StoredFile:
        """The file as ``upload`` would store it, every check made, nothing stored: a form
        checks its files with its other fields and stores them only once all are right."""
        POLICY.require_role(actor, AGENCY, SUPERVISOR, doing="上传佐证材料", rule="upload_evidence")
        if len(content) > self.max_bytes:
            raise FileTooLarge(f"文件超过 {self.max_bytes // (1024 * 1024)} MB 的上限")
        media_type = media_type_of(content)
        if media_type is None:
            raise UnsupportedFileType(f"只接受 {ALLOWED} 文件（按文件内容判断，不看扩展名）")
        file = StoredFile(sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                          media_type=media_type, name=_file_name(name, media_type), case_id=case_id)
        if case_id is not None:
            self._case(actor, case_id)
        else:
            # Kept in clear and shown beside the entries: no ID or mobile numbers in it.
            check_free_text("佐证材料名称", file.name)
        return file

    def keep(self, actor: Actor, file: StoredFile, content: bytes) -> bool:
        """Stores a checked file; answers whether it is new (not stored before)."""
        key = self._case(actor, file.case_id)[1] if file.case_id is not None else None
        new = self.store.find(file.sha256, file.case_id, key) is None
        self.store.put(file, content, key)
        return new

    def discard(self, files: Sequence[StoredFile]) -> None:
        """Removes files a refused form stored new, unless an entry has named them since. A
        child's file is that case's own copy: only an entry of that case names it (another
        case naming the same content names its own copy); a plain file is kept once anything
        names its content, erring towards an unnamed copy left over rather than a named one gone.
        A command naming the content at this moment (``naming``) counts as an entry naming it."""
        for file in files:
            self.store.remove_unless(file.sha256, file.case_id, partial(_keeps, file.case_id))

    def _require_stored(self, digests: Sequence[str], case_id: UUID | None) -> None:
        key = self.key_of(case_id) if case_id is not None else None
        unknown = [d for d in digests if self.store.find(d, case_id, key) is None]
        if unknown:
            where = "该个案" if case_id is not None else "佐证材料库"
            raise InvalidCommand("evidence_is_stored", f"{where}中没有摘要为 {unknown[0]} 的文件，请先上传")

    def naming(self, actor: Actor, digests: Sequence[str], aggregate_id: UUID, command: Callable[[], T],
               *, case_id: UUID | None = None) -> T:
        """Runs ``command``, which names these stored files in an entry of ``aggregate_id``
        (a child's files: those uploaded for that case), then records that it does, which is
        what lets that entry's readers download them. Unknown digests refuse it unsent."""
        if digests:
            # Refused as a read would be first: otherwise the store's answer would tell someone
            # who may not read the case whether a file of known content is among its files.
            if case_id is not None:
                POLICY.require_case(actor, self.ledger.load(ChildCase, aggregate_id, "儿童个案"))
            else:
                POLICY.require_issue(actor, self.ledger.load(RectificationIssue, aggregate_id, "整改问题"))
        # Noted as being named before the check that they are stored: from the check until
        # the references are recorded, a refused form elsewhere cannot remove them (discard).
        with self.store.naming(digests, aggregate_id) as stored:
            self._require_stored(digests, case_id)
            answer = command()
            stored()  # the entry names them now, whatever happens to the references
            for digest in digests:
                self.store.attach(digest, aggregate_id)
        return answer

    def download(self, actor: Actor, sha256: str, *, endpoint: str) -> tuple[StoredFile, bytes]:
        """The file, for whoever may read an entry that names it; for anyone else, and for a
        file no entry names, NotFound (404), so no one learns which files exist. Reading a
        child's file is reading personal data: logged like any such read."""
        if not SHA256.fullmatch(sha256):
            raise NotFound("没有这个佐证材料", rule="evidence_exists")
        sha256 = sha256.lower()
        for aggregate_id in self.store.references(sha256):
            aggregate: Aggregate = self.ledger.repository.get(aggregate_id)
            found = None
            if isinstance(aggregate, RectificationIssue) and POLICY.may_read_issue(actor, aggregate):
                found = self._open(sha256, None, None)
            elif isinstance(aggregate, ChildCase) and POLICY.may_read_case(actor, aggregate) \
                    and POLICY.may_read_personal(actor, aggregate):
                # The case's own read: it checks the rules again and logs the read first.
                _, personal = self.cases.read_case(actor, aggregate_id, endpoint=endpoint)
                key = self.key_of(aggregate_id)
                found = self._open(sha256, aggregate_id, key) if personal and key is not None else None
            if found is not None:
                return found
        raise NotFound("没有这个佐证材料", rule="evidence_exists")

    def _open(self, sha256: str, case_id: UUID | None, key: bytes | None) -> tuple[StoredFile, bytes] | None:
        file = self.store.find(sha256, case_id, key)
        content = self.store.content(sha256, case_id, key)
        return (file, content) if file is not None and content is not None else None

    def check(self) -> FileCheck:
        return self.store.check(self.key_of)
