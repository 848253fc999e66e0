"""Files attached to a form (佐证材料): checked with the form's other fields, stored through
the same application service as ``POST /api/v1/evidence`` only when the command is sent, and
named in it as the API's ``evidence`` list is. A form refused, whether by its fields, by one
of its files or by the service, leaves no file of its own behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from application.errors import ApplicationError
from application.evidence import StoredFile, named_digests
from domain.base import InvalidCommand
from interfaces.bootstrap import Services
from interfaces.web.forms import Sent

T = TypeVar("T")


@dataclass
class Attached:
    """The form's files, checked and not yet stored."""

    files: list[tuple[StoredFile, bytes]] = field(default_factory=list)

    @property
    def evidence(self) -> list[dict[str, str]]:
        """What the command names: each file's name and digest."""
        return [{"name": file.name, "sha256": file.sha256} for file, _ in self.files]

    @property
    def digests(self) -> list[str]:
        return [file.sha256 for file, _ in self.files]


async def checked(sent: Sent, svc: Services, name: str = "files", *, case_id: UUID | None = None) -> Attached:
    """Each file of the form's ``name`` input, checked as an upload is; a refused one is an
    error beside it. Nothing is stored yet."""
    attached = Attached()
    for upload in sent.files.get(name, []):
        content = await upload.read(svc.evidence.max_bytes + 1)
        try:
            file = await run_in_threadpool(
                svc.evidence.check_upload, sent.command.actor, content=content, name=upload.filename, case_id=case_id)
        except (ApplicationError, InvalidCommand) as refused:
            sent.refuse(name, f"{upload.filename}：{refused.message}")
            continue
        attached.files.append((file, content))
    return attached


def naming(svc: Services, sent: Sent, attached: Attached, aggregate_id: UUID,
           command: Callable[[], T], *, case_id: UUID | None = None) -> Callable[[], T]:
    """The command, run once the files are stored, so that the entry's readers may download
    the files it names; the files it stored new are removed again if it is refused."""
    actor = sent.command.actor

    def run() -> T:
        new: list[StoredFile] = []
        sent_ok = False

        def send() -> T:
            nonlocal sent_ok
            answer = command()
            sent_ok = True
            return answer

        try:
            for file, content in attached.files:
                if svc.evidence.keep(actor, file, content):
                    new.append(file)
            return svc.evidence.naming(actor, named_digests(attached.evidence), aggregate_id, send,
                                       case_id=case_id)
        except BaseException:
            # Only a refused command's files go: once it is stored its entry names them, even
            # if recording that it does failed after.
            if not sent_ok:
                svc.evidence.discard(new)
            raise

    return run
