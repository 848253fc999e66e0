"""Refusals the application itself makes (the domain's own are in domain.base)."""

from __future__ import annotations


class ApplicationError(Exception):
    rule = "application_error"

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if rule:
            self.rule = rule


class Unauthenticated(ApplicationError):
    rule = "bearer_token_required"


class Forbidden(ApplicationError):
    rule = "forbidden"


class NotFound(ApplicationError):
    rule = "not_found"


class VersionMismatch(ApplicationError):
    rule = "if_match_version"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"版本不符：请求基于版本 {expected}，当前为版本 {actual}")
        self.expected = expected
        self.actual = actual


class ConcurrentWrite(ApplicationError):
    rule = "concurrent_write"

    def __init__(self) -> None:
        super().__init__("另一个并发写入先完成，请刷新后重试")


class IdempotencyKeyReused(ApplicationError):
    rule = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__("该 Idempotency-Key 已用于内容不同的另一条指令")
