"""Files attached to a form (佐证材料): stored through the same application service as
``POST /api/v1/evidence``, then named in the command as the API's ``evidence`` list is."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from application.errors import ApplicationError
from application.evidence import named_digests
from domain.base import InvalidCommand
from interfaces.bootstrap import Services
from interfaces.web.forms import Sent

T = TypeVar("T")


async def stored(sent: Sent, svc: Services, name: str = "files", *, case_id: UUID | None = None) -> list[dict[str, str]]:
    """Each file of the form's ``name`` input, stored; a refused one is an error beside it."""
    evidence: list[dict[str, str]] = []
    for upload in sent.files.get(name, []):
        content = await upload.read(svc.evidence.max_bytes + 1)
        try:
            file = await run_in_threadpool(
                svc.evidence.upload, sent.command.actor, content=content, name=upload.filename, case_id=case_id)
        except (ApplicationError, InvalidCommand) as refused:
            sent.refuse(name, f"{upload.filename}：{refused.message}")
            continue
        evidence.append({"name": file.name, "sha256": file.sha256})
    return evidence


def naming(svc: Services, sent: Sent, evidence: list[dict[str, str]], aggregate_id: UUID,
           command: Callable[[], T], *, case_id: UUID | None = None) -> Callable[[], T]:
    """The command, run so that the entry's readers may download the files it names."""
    return lambda: svc.evidence.naming(sent.command.actor, named_digests(evidence), aggregate_id, command,
                                       case_id=case_id)
