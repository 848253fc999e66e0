"""Refuses request bodies over the configured size before any handler reads them; answers 504
to a request its handler has not begun to answer within the deadline."""

from __future__ import annotations

import asyncio
import json

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interfaces.asgi import HttpMiddleware

log = structlog.get_logger("careledger.http")


class BodySizeLimit(HttpMiddleware):
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise _TooLarge
            return message

        answered = False

        async def guarded(message: Message) -> None:
            # A handler that parses the body itself (FastAPI does) may catch the cut-off and
            # answer 400/422: once the body was too large, the answer is 413 whatever it says.
            nonlocal answered
            if refused:
                if not answered:
                    answered = True
                    await self._refuse(send)
                return
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except _TooLarge:
            if not answered:
                answered = True
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        log.info("request_refused", status=413, rule="body_too_large", max_bytes=self.max_bytes)
        await _send_problem(send, 413, "body_too_large", "请求体过大", f"请求体不能超过 {self.max_bytes} 字节")


class _TooLarge(Exception):
    pass


class RequestDeadline(HttpMiddleware):
    """A request whose answer has not started within ``seconds`` is answered 504 (problem+json).

    The handler is not stopped (a thread blocked on the database cannot be): it finishes behind
    the 504 and whatever it then sends is dropped. A command may so be stored after its client
    saw 504; sent again with the same Idempotency-Key it returns that first answer.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        super().__init__(app)
        self.seconds = seconds

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = abandoned = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done or started:
            await task
            return
        abandoned = True
        task.add_done_callback(_finished_late)
        log.warning("request_deadline_passed", status=504, rule="answer_within_deadline", seconds=self.seconds)
        await _send_problem(
            send, 504, "answer_within_deadline", "处理超时",
            f"请求未能在 {self.seconds:g} 秒内完成；命令可能已被记录，请用同一 Idempotency-Key 重试",
        )


async def _send_problem(send: Send, status: int, rule: str, title: str, detail: str) -> None:
    """A problem+json answer (RFC 9457) sent by the middleware itself, no handler having
    answered; its type is the rule's name in the problems' path form."""
    body = json.dumps(
        {"type": f"/problems/{rule.replace('_', '-')}", "title": title, "status": status,
         "detail": detail, "rule": rule},
        ensure_ascii=False,
    ).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _finished_late(task: asyncio.Future[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    log.info("request_finished_after_deadline", failed=type(error).__name__ if error else None)
