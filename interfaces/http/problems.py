"""Every refusal becomes an RFC 9457 problem answer, mapped here and nowhere else."""

from __future__ import annotations

import re
from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from application.errors import (
    ConcurrentWrite,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    Unauthenticated,
    VersionMismatch,
)
from application.evidence import FileTooLarge, UnsupportedFileType
from domain.base import InvalidCommand, RuleViolated
from infrastructure.view_runner import ViewsNotReady
from interfaces.http import validation_messages

log = structlog.get_logger("careledger.http")

PROBLEM = "application/problem+json"

TITLES = {
    400: "请求有误",
    401: "未认证",
    403: "无权操作",
    404: "未找到",
    405: "不支持的方法",
    409: "与当前状态冲突",
    412: "版本不符",
    413: "请求体过大",
    415: "不支持的媒体类型",
    422: "内容无效",
    503: "暂时无法服务",
    504: "处理超时",
}


# Also what /metrics answers a client outside its networks: the same as a path that is not there.
NO_SUCH_PATH = "没有这个地址；全部接口见 /docs"
MALFORMED_MULTIPART = (
    "multipart/form-data 请求体无法解析：须带 boundary，各部分完整；文件放在字段 file 中"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path, asked of the routes themselves (a 405
    from the router names only the first route it tried, and GET and POST of one path are
    two routes here)."""
    # A mount (static files) matches every method under its prefix: it is no answer here.
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def problem(
    status: int, rule: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"/problems/{rule.replace('_', '-')}",
        "title": TITLES.get(status, "错误"),
        "status": status,
        "detail": detail,
        "rule": rule,
        **extra,
    }
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 问题详情；`rule` 是拒绝它的规则名（英文，稳定）",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "rule": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "422 request_schema：每处不符合接口定义的地方",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "in": {"type": "string", "description": "body、query、path 或 header"},
                    "field": {"type": "string", "description": "字段路径，如 measures[0].due"},
                    "msg": {"type": "string", "description": "中文说明（不含提交的值）"},
                    "type": {"type": "string", "description": "pydantic 的错误类型，如 missing、date_parsing"},
                },
            },
        },
        "known_values": {
            "type": "array", "items": {"type": "string"},
            "description": "422 *_is_known：筛选参数的已知取值（未知的值不回显）",
        },
    },
    "additionalProperties": True,
}

_WHEN = {
    401: "没有令牌，或令牌无效",
    403: "该角色或单位无权对该对象这样做",
    404: "没有该问题、个案、单位或方案",
    409: "当前状态不允许该命令，或并发写入在先",
    412: "If-Match 的版本与当前版本不符",
    413: "请求体过大",
    415: "不支持的媒体类型",
    422: "请求内容不符合接口定义或无效",
    503: "数据库或视图暂时不可用",
    504: "未能在时限内完成（命令可能已被记录：请用同一 Idempotency-Key 重试）",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem answers an operation may give (`responses=` on routers)."""
    return {
        status: {"description": _WHEN[status], "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}
        for status in statuses
    }


# Every authenticated API operation may answer these; FastAPI's own 422 schema is replaced.
API_RESPONSES = responses(401, 403, 404, 409, 412, 413, 422, 503, 504)

# The document's name for the rules that may refuse a request its schemas allow: what the ledger
# holds (a unit that is not registered, a version that is no longer current, the time now) or a
# check no schema can state (an ID number's check digit). Each is a `rule` of the problem answer.
RULES = "x-rules"


def refused_by(status: int, **rules: str) -> dict[int | str, dict[str, Any]]:
    """The problem answer ``status`` declared with the rules (name: why) that give it to a
    request the schema allows (`responses=` on routes)."""
    declared = responses(status)
    declared[status][RULES] = rules
    declared[status]["description"] = _with_rules(_WHEN[status], rules)
    return declared


def _with_rules(description: str, rules: dict[str, str]) -> str:
    listed = "；".join(f"`{rule}`：{why}" for rule, why in sorted(rules.items()))
    return f"{description}。符合接口定义的请求也可能因以下规则被拒绝——{listed}"


# Rules of every command, declared from the operation's own parameters and body.
_IF_MATCH_RULE = {"if_match_version": "If-Match 的版本不是对象的当前版本"}
_OCCURRED_AT_RULE = {"occurred_at_not_in_future": "occurred_at 晚于登记时间（服务器当前时间）"}


def declare_command_rules(document: dict[str, Any]) -> dict[str, Any]:
    """Adds to each operation the rules its command envelope brings: If-Match (412) and a body's
    occurred_at (422), so no route has to repeat them."""
    schemas = document.get("components", {}).get("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if any(p.get("name") == "If-Match" for p in operation.get("parameters", [])):
                _add_rules(operation, 412, _IF_MATCH_RULE)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body = schemas.get(body.get("$ref", "").rpartition("/")[2], body)
            if "occurred_at" in body.get("properties", {}):
                _add_rules(operation, 422, _OCCURRED_AT_RULE)
    return document


def _add_rules(operation: dict[str, Any], status: int, rules: dict[str, str]) -> None:
    answers = operation.setdefault("responses", {})
    # A copy: the generated document may share one answer object between operations.
    answer = {**answers.get(str(status), responses(status)[status])}
    answer[RULES] = {**answer.get(RULES, {}), **rules}
    answer["description"] = _with_rules(_WHEN[status], answer[RULES])
    answers[str(status)] = answer


STATUS_OF: list[tuple[type[Exception], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (VersionMismatch, 412),
    (ConcurrentWrite, 409),
    (IdempotencyKeyReused, 422),
    (FileTooLarge, 413),
    (UnsupportedFileType, 415),
    (RuleViolated, 409),
    (InvalidCommand, 422),
]


def install(app: FastAPI) -> None:
    for exc_class, status in STATUS_OF:
        app.add_exception_handler(exc_class, _refusal(status))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The submitted values are left out on purpose: they may hold a child's personal data.
        errors = validation_messages.translate(exc.errors())
        log.info("request_refused", status=422, rule="request_schema")
        return problem(422, "request_schema", validation_messages.summary(errors), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot parse (bad JSON, bad UTF-8, bad multipart):
            # the contract calls a malformed payload 422.
            if request.headers.get("content-type", "").lower().startswith("multipart/"):
                log.info("request_refused", status=422, rule="multipart_is_parseable")
                return problem(422, "multipart_is_parseable", MALFORMED_MULTIPART)
            log.info("request_refused", status=422, rule="body_is_parseable")
            return problem(422, "body_is_parseable", "请求体无法解析：请检查其格式与 Content-Type 是否一致")
        if exc.status_code == 404:
            return problem(404, "no_such_path", NO_SUCH_PATH)
        if exc.status_code == 405:
            allowed = allowed_methods(request) or [
                m.strip() for m in (exc.headers or {}).get("Allow", "GET, HEAD").split(",")]
            answer = problem(405, "method_not_allowed", f"该地址不支持这个方法；它支持：{'、'.join(allowed)}")
            answer.headers["Allow"] = ", ".join(allowed)
            return answer
        detail = str(exc.detail) if _CJK.search(str(exc.detail)) else TITLES.get(exc.status_code, "错误")
        return problem(exc.status_code, "http_error", detail, headers=exc.headers)

    @app.exception_handler(ViewsNotReady)
    async def views_not_ready(_: Request, exc: ViewsNotReady) -> JSONResponse:
        return problem(503, "views_not_caught_up",
                       f"视图尚未处理到位置 {exc.position}（当前 {exc.reached}），请稍后重试")

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database_unavailable", error_type=type(exc).__name__)
        return problem(503, "database_unavailable", "数据库暂时不可用，请稍后重试")


def _refusal(status: int):  # type: ignore[no-untyped-def]
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        rule = getattr(exc, "rule", "refused")
        # Identifiers, rules and statuses only: never the token, a body or a personal field.
        log.info("sign_in_failed" if status == 401 else "command_refused", status=status, rule=rule)
        known = getattr(exc, "known_values", None)
        extra = {"known_values": known} if known is not None else {}
        return problem(status, rule, getattr(exc, "message", str(exc)), **extra)

    return handle
