"""What every handler needs: the services, the caller, and the command envelope."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from application.access import Actor
from application.commands import Accepted, Command
from application.errors import NotFound, Unauthenticated
from application.read_policy import POLICY
from domain.base import InvalidCommand
from infrastructure.districts import CODE
from interfaces.bootstrap import Services
from interfaces.deployment import Deployment, district_of
from interfaces.http import formats
from interfaces.http.inputs import moment_or_day_end

# The dashboard's session: a random id whose digest the sessions table keeps (never a token).
COOKIE = "careledger_session"


def cookie_signs_in(request: Request) -> bool:
    """The dashboard's pages, and the spreadsheets they link to, sign in with the cookie.
    The API's commands never do: those stay bearer-only, so no page of another site can
    make a signed-in browser write to the ledger. (The pages' own forms check the Origin
    and a CSRF token.)"""
    path = request.url.path
    if not path.startswith("/api/"):
        return True
    return request.method in ("GET", "HEAD") and path.endswith(".xlsx")


def _credential(request: Request) -> tuple[str, str]:
    """("bearer", token), ("session", id) or ("", "")."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "bearer", token.strip()
    session = request.cookies.get(COOKIE, "") if cookie_signs_in(request) else ""
    return ("session", session) if session else ("", "")


def deployment(request: Request) -> Deployment:
    return request.app.state.deployment  # type: ignore[no-any-return]


async def _authenticate(request: Request, svc: Services) -> Actor:
    kind, credential = _credential(request)
    if not credential:
        raise Unauthenticated("需要 Authorization: Bearer 令牌")
    # Checked against the store on every request, so a revoked token or a deactivated
    # user is refused by every worker at once.
    if kind == "bearer":
        return await run_in_threadpool(svc.accounts.authenticate, credential)
    return await run_in_threadpool(svc.sessions.session_actor, credential)


# `async def`, as every dependency here that does not block: FastAPI sends a plain `def`
# dependency to the threadpool, a thread hop for an attribute read on every request.
async def services(request: Request) -> Services:
    """The services of the district the caller's credential was issued in (its prefix), the
    deployment's own for a credential without one or none at all. The prefix only chooses
    where the credential is looked up: `actor` then finds it there or answers 401, so a
    request reaches no district's data but the one its user belongs to. Under
    /api/v1/districts/{district}/ a province inspector, signed in with the province's own
    credential, reads the district named."""
    place = deployment(request)
    issued_in = district_of(_credential(request)[1])
    own = await _services_of(place, issued_in) or place.province
    named = request.path_params.get("district")
    if named is None or not CODE.fullmatch(named):
        if own.district is not None:
            structlog.contextvars.bind_contextvars(district=own.district)  # every line of the request names it
        return own  # a malformed code is refused by the path's own check (422) before the handler
    caller = await _authenticate(request, own)
    POLICY.require_districts_audit(caller, of_province=issued_in is None)
    target = await _services_of(place, named)
    if target is None:
        raise NotFound("没有这个区县", rule="district_exists")
    request.state.district_reader = caller
    structlog.contextvars.bind_contextvars(district=named)
    return target


async def _services_of(place: Deployment, code: str | None) -> Services | None:
    """``place.services_for(code)``, off the event loop for a code this process does not know
    (it may read the districts table and build a district: Deployment.refresh)."""
    if code is None:
        return place.province
    return place.districts.get(code) or await run_in_threadpool(place.services_for, code)


ServicesDep = Annotated[Services, Depends(services)]


async def actor(request: Request, svc: ServicesDep) -> Actor:
    found = getattr(request.state, "district_reader", None)  # signed in by `services`, in the province
    if found is None:
        found = await _authenticate(request, svc)
    request.state.actor = found
    return found


ActorDep = Annotated[Actor, Depends(actor)]


async def command(
    request: Request,
    caller: ActorDep,
    # `str`, not `str | None`: an absent header is None, and the document must not offer null,
    # which a client would send as the text "null".
    if_match: Annotated[str, Header(
        alias="If-Match", pattern=formats.IF_MATCH, description='聚合的当前版本，形如 "3"；不符时 412')] = None,  # type: ignore[assignment]
    idempotency_key: Annotated[str, Header(
        alias="Idempotency-Key", pattern=formats.IDEMPOTENCY_KEY, description="1–200 个可见 ASCII 字符")] = None,  # type: ignore[assignment]
) -> Command:
    expected = None
    if if_match is not None:
        expected = int(if_match.strip(' \t"W/'))  # its shape checked already (formats.IF_MATCH)
    fingerprint = await request_fingerprint(request) if idempotency_key is not None else ""
    return Command(actor=caller, expected_version=expected, idempotency_key=idempotency_key, fingerprint=fingerprint)


async def request_fingerprint(request: Request) -> str:
    """A plain digest of the request, so it never leaves it: the ledger keeps only its HMAC
    under the server's idempotency key (and compares it with answers kept before that)."""
    body = await _body_or_form(request)
    return hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\n" + body).hexdigest()


async def _body_or_form(request: Request) -> bytes:
    """The raw body, or, for a form FastAPI has already parsed (its stream is spent), a digest
    of its fields and files in order: the same upload sent again gives the same fingerprint."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await request.body()
    digest = hashlib.sha256()
    for key, value in (await request.form()).multi_items():
        digest.update(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest())
        if isinstance(value, UploadFile):
            content = await value.read()
            await value.seek(0)
            digest.update(hashlib.sha256((value.filename or "").encode("utf-8", "surrogatepass")).digest())
            digest.update(hashlib.sha256(content).digest())
        else:
            digest.update(hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest().encode()


CommandDep = Annotated[Command, Depends(command)]


DayOrMoment = Query(pattern=formats.DAY_OR_MOMENT, max_length=40,
                    description="ISO 8601 日期（指当天北京时间结束时）或时间（不带时区按北京时间），1990–2100 年")


async def as_of(as_of: Annotated[str | None, DayOrMoment] = None) -> datetime | None:
    if as_of is None:
        return None
    try:
        return moment_or_day_end(as_of)
    except ValueError:
        raise InvalidCommand("as_of_is_iso8601", "as_of 须为 ISO 8601 日期或时间") from None


AsOfDep = Annotated[datetime | None, Depends(as_of)]


def described(aggregate: Any, *names: str) -> dict[str, Any]:
    """An aggregate's id, version and the named attributes as they are: what a read answers of
    it before adding what it shapes."""
    return {"id": aggregate.id, "version": aggregate.version, **{name: getattr(aggregate, name) for name in names}}


def created(accepted: Accepted) -> JSONResponse:
    """A command's 201 answer (schemas.Accepted: id, version, position), encoded once. Returned
    as a dict, FastAPI would validate it against the response model, serialise that, and then
    encode the result again; the route's response_model still documents it."""
    return JSONResponse({"id": str(accepted.id), "version": accepted.version, "position": accepted.position},
                        status_code=201)


def with_time(cmd: Command, occurred_at: datetime | None) -> Command:
    return Command(
        actor=cmd.actor, occurred_at=occurred_at, expected_version=cmd.expected_version,
        idempotency_key=cmd.idempotency_key, fingerprint=cmd.fingerprint,
    )
