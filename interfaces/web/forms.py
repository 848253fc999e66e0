"""The workbench's forms: what every form post goes through, whatever it sends.

A form is checked by the API's own request model (interfaces.http.schemas), so a page and
the API refuse the same input with the same rule; then it becomes the same application
command the API sends. Each rendered form carries its own Idempotency-Key (``once``), so a
double click finds the first answer instead of acting twice, and the version of the record
it was drawn from (``version``), so a form sent after someone else's entry says so and
shows what changed instead of acting on a state its sender never saw.

Refusals a person can correct come back as the same form, what was typed kept, the message
beside its field; refusals of access (401, 403, 404) stay the pages' own (pages.PageRoute).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from application.access import Actor
from application.commands import Accepted, Command
from application.errors import ConcurrentWrite, IdempotencyKeyReused, VersionMismatch
from domain.base import InvalidCommand, RuleViolated
from interfaces.http import formats
from interfaces.http.deps import request_fingerprint
from interfaces.http.validation_messages import field_path, message

M = TypeVar("M", bound=BaseModel)

# Fields every form carries besides its own: never part of the command's content.
ENVELOPE = ("csrf", "once", "version")
_ONCE = re.compile(formats.IDEMPOTENCY_KEY)
_VERSION = re.compile(r"[0-9]{1,9}")
STALE = "此记录已被他人更新"
# Beside no field: the message stands above the form.
WHOLE_FORM = ""


@dataclass
class Sent:
    """One form post: what was typed (to show again), the errors found, the command envelope."""

    typed: dict[str, Any]
    command: Command
    files: dict[str, list[UploadFile]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # The entries recorded since the version the form was drawn from (a stale form).
    changed: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, where: str, said: str) -> None:
        self.errors.setdefault(where, said)


async def receive(request: Request, caller: Actor, *, lists: Iterable[str] = ()) -> Sent:
    """The form as sent: text fields (``lists`` may repeat), files, and the envelope."""
    form = await request.form()
    typed: dict[str, Any] = {}
    files: dict[str, list[UploadFile]] = {}
    many = set(lists)
    for key, value in form.multi_items():
        if key in ENVELOPE:
            continue
        if isinstance(value, UploadFile):
            if value.filename:  # a file input left empty still sends a part with no name
                files.setdefault(key, []).append(value)
            continue
        text = value.strip()
        if key in many:
            if text:
                typed.setdefault(key, []).append(text)
        else:
            typed[key] = text
    for key in many:
        typed.setdefault(key, [])
    return Sent(typed=typed, files=files, command=await _command(request, caller, form))


async def _command(request: Request, caller: Actor, form: FormData) -> Command:
    once = form.get("once")
    key = once if isinstance(once, str) and _ONCE.fullmatch(once) else None
    version = form.get("version")
    # ASCII digits only: str.isdigit() takes "²", which int() refuses.
    expected = int(version) if isinstance(version, str) and _VERSION.fullmatch(version) else None
    # The same form sent twice digests alike (its CSRF token is the session's, so alike too).
    fingerprint = await request_fingerprint(request) if key is not None else ""
    return Command(actor=caller, expected_version=expected, idempotency_key=key, fingerprint=fingerprint)


def checked(sent: Sent, model: type[M], *, flags: Iterable[str] = (), **given: Any) -> M | None:
    """The typed fields as the API's request model reads them (an empty field is an absent
    one; a checkbox is true when sent), with ``given`` added; None with ``sent.errors``
    filled, each beside its field, when the model refuses them."""
    data: dict[str, Any] = {}
    for name in model.model_fields:
        if name in flags:
            data[name] = name in sent.typed
        elif name in given:
            data[name] = given[name]
        elif sent.typed.get(name) not in (None, "", []):
            data[name] = sent.typed[name]
    try:
        return model.model_validate(data)
    except ValidationError as refused:
        for error in refused.errors():
            path = field_path(error.get("loc", ()))
            sent.refuse(path.split(".")[0].split("[")[0], message(error))
        return None


def stale_form(sent: Sent, timeline: list[dict[str, Any]], since: int) -> None:
    """A form drawn from version ``since``: the entries recorded after it (``timeline`` as
    present.timeline shapes them, labelled and named)."""
    sent.changed = [e for e in timeline if e["version"] > since]
    sent.refuse(WHOLE_FORM, f"{STALE}：您打开表单后又有 {len(sent.changed)} 条新记录，请核对下列变化后重新提交。")


async def act(
    sent: Sent,
    command: Callable[[], Accepted],
    *,
    done: Callable[[Accepted], str],
    again: Callable[[Sent, int], Response],
    timeline: Callable[[], list[dict[str, Any]]] | None = None,
    fields: Mapping[str, str] | None = None,
) -> Response:
    """Runs the command (when the form had no errors) and answers: on to ``done`` (303), or
    ``again`` with what refused it. ``fields`` places a rule's message beside its field."""
    if sent.errors:
        return again(sent, 422)
    try:
        accepted = await run_in_threadpool(command)
    except VersionMismatch as stale:
        if timeline is not None:
            stale_form(sent, await run_in_threadpool(timeline), stale.expected)
        else:
            sent.refuse(WHOLE_FORM, f"{STALE}，请刷新后重新填写。")
        return again(sent, 409)
    except InvalidCommand as invalid:
        sent.refuse((fields or {}).get(invalid.rule, WHOLE_FORM), invalid.message)
        return again(sent, 422)
    except (RuleViolated, ConcurrentWrite, IdempotencyKeyReused) as refused:
        said = refused.message
        sent.refuse((fields or {}).get(getattr(refused, "rule", "") or "", WHOLE_FORM), said)
        return again(sent, 409)
    return RedirectResponse(done(accepted), status_code=303)
