"""Structured JSON logs: one stream, Chinese kept readable, a request id on every line, no personal data.

careledger's own events (structlog) and every standard-library logger (uvicorn's server and
access lines, the eventsourcing library, psycopg) go through one handler on standard error
and one renderer, so each line is one JSON object. Only identifiers, rule names and status
codes are ever logged; request bodies never are.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import secrets
from functools import partial
from typing import Any

import structlog
from starlette.types import Receive, Scope, Send

from interfaces.asgi import HttpMiddleware

_RENDER = structlog.processors.JSONRenderer(serializer=partial(json.dumps, ensure_ascii=False))


def _access_fields(logger: object, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's access line as fields, not as its Apache-like text; other lines' arguments are
    in their message already."""
    args = event.pop("positional_args", ())
    if event["_record"].name == "uvicorn.access" and len(args) == 5:
        client, verb, target, version, status = args
        event.update(event="http_access", client=client, method=verb, target=target,
                     http_version=version, status=status)
    return event


# What every line carries, whoever logged it: the request's bound fields, level, time.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_formatter() -> logging.Formatter:
    """The one formatter of every handler (also named by uvicorn's ``log_config``)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, _access_fields],
        pass_foreign_args=True,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _RENDER],
    )


def log_config(level: int = logging.INFO) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's ``log_config``: applied in the server process and
    in each worker it starts, before uvicorn's first line, so no line escapes the JSON stream."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn's loggers keep no handler of their own: their lines reach the root's.
        "loggers": {name: {"handlers": [], "level": level, "propagate": True}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure(level: int = logging.INFO) -> None:
    logging.config.dictConfig(log_config(level))
    logging.captureWarnings(True)  # a library's warning is a line of the stream too
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


MAX_REQUEST_ID = 128
# A run of seven digits or more may be an ID, phone, landline or card number; but a UUID or 32
# hex digits (nginx's $request_id, a W3C trace id) holding a letter is generated, not typed,
# and is kept whole however its digits run.
_DIGITS_OR_GENERATED = re.compile(
    r"(?<![0-9a-f])(?P<generated>[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})(?![0-9a-f])"
    r"|[0-9]{7,}", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"[0-9]{7,}")


def _masked(found: re.Match[str]) -> str:
    if found.group("generated") and any(c.isalpha() for c in found.group()):
        return found.group()
    return _DIGIT_RUN.sub(lambda run: "*" * len(run.group()), found.group())


def sanitised_request_id(given: bytes) -> str | None:
    """The client's X-Request-ID as it is logged and echoed, or None for a new one.

    Any printable text up to 128 characters is taken (UTF-8; a character that is not printable
    becomes ``_``). A script that put a child's ID number, a phone or card number in it would
    write it into every log line of the request: every run of seven digits or more is masked
    with ``*``, except inside a generated id (a UUID, 32 hex digits, with a letter)."""
    text = given.decode("utf-8", errors="replace").strip()
    if not text or len(text) > MAX_REQUEST_ID:
        return None
    printable = "".join(c if c.isprintable() else "_" for c in text)
    return _DIGITS_OR_GENERATED.sub(_masked, printable)


class RequestId(HttpMiddleware):
    """Binds a request id (the client's X-Request-ID, sanitised, else a new one) to every log line,
    and answers it in the response's X-Request-ID."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"")
        request_id = sanitised_request_id(given) or secrets.token_hex(8)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, path=scope.get("path", ""),
                                               method=scope.get("method", ""))

        async def with_header(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        await self.app(scope, receive, with_header)
