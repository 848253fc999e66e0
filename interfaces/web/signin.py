"""Signing in to the dashboard with a user name and a password, and signing out.

A sign-in opens a server-side session: the cookie holds a random id, the store only its
digest, so signing out, deactivation or a new password end it for good. The cookie is
HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS (as a trusted
proxy reports it). The sign-in form itself carries a CSRF token matched by a short-lived
cookie (no session exists yet), and every form post must come from a page of this site.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from application.access import PROVINCE_INSPECTOR, Actor
from application.read_policy import POLICY
from application.sessions import SignInRefused
from interfaces.deployment import district_of
from interfaces.http.deps import COOKIE, ServicesDep, deployment
from interfaces.http.metrics import SIGN_IN_FAILURES
from interfaces.web.pages import PageRoute, error_page, render, safe_next, same_origin

log = structlog.get_logger("careledger.signin")

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Holds the sign-in form's CSRF token until the form is posted (double submit).
FORM_COOKIE = "careledger_signin"
FORM_COOKIE_SECONDS = 3600


def _asked(next_page: str | None) -> str:
    """The page the sign-in form will lead to, kept empty when none was asked for."""
    return safe_next(next_page) if next_page else ""


def _landing(actor: Actor, asked: str) -> str:
    """Where a sign-in leads: the page asked for; none (the sign-in page opened by itself), the
    caller's own start: a responsible unit's to-do, a province inspector's roll-up, else the
    overview."""
    if asked:
        return safe_next(asked)
    if actor.role == PROVINCE_INSPECTOR:
        return "/province"
    return "/todo" if POLICY.keeps_unit_todo(actor) else "/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form(request: Request, next_page: str, refused: str | None, status: int = 200, district: str = "") -> Response:
    token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
    # A deployment of several districts asks which one (or the province: 省级) the user belongs to.
    choices = deployment(request).choices()
    answer = render(request, "signin.html", {"next": next_page, "refused": refused, "form_csrf": token,
                                             "districts": choices, "district": district}, status)
    answer.set_cookie(FORM_COOKIE, token, max_age=FORM_COOKIE_SECONDS, path="/signin", httponly=True,
                      samesite="strict", secure=_secure(request))
    return answer


def _refuse(request: Request, reason: str) -> None:
    SIGN_IN_FAILURES.labels(reason).inc()
    # The reason only: never the name typed (it may be a password typed in the wrong field), the password or the address.
    log.info("sign_in_failed", reason=reason)


@router.get("/signin")
def signin_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    return _form(request, _asked(next), None)


@router.post("/signin")
def signin(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "", password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "", next: Annotated[str, Form(max_length=500)] = "",
    district: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if not same_origin(request):
        _refuse(request, "cross_origin")
        return error_page(request, 403, "登录请求须来自本系统的登录页。")
    expected = request.cookies.get(FORM_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        _refuse(request, "csrf")
        return _form(request, _asked(next), "登录页已失效，请重新输入。", 403)
    place = deployment(request)
    # The district chosen only says where to look the user up: its name and password decide.
    svc = place.services_for(district or None)
    if svc is None:
        _refuse(request, "unknown_district")
        return _form(request, _asked(next), "没有这个区县。", 401)
    address = request.client.host if request.client else ""
    try:
        signed_in = svc.sessions.sign_in(username.strip(), password, address)
    except SignInRefused as refused:
        _refuse(request, refused.reason)
        answer = _form(request, _asked(next), refused.message, 429 if refused.reason == "locked" else 401, district)
        if refused.locked_until is not None:
            wait = max(1, int((refused.locked_until - svc.ledger.clock()).total_seconds()))
            answer.headers["Retry-After"] = str(wait)
        return answer
    held = request.cookies.get(COOKIE, "")
    before = place.services_for(district_of(held))
    if before is not None:
        before.sessions.sign_out(held)  # a session the browser held before ends
    log.info("signed_in", user_id=str(signed_in.actor.user_id), **({"district": svc.district} if svc.district else {}))
    answer = RedirectResponse(_landing(signed_in.actor, next), status_code=303)
    answer.set_cookie(COOKIE, signed_in.session_id, httponly=True, samesite="lax", path="/",
                      secure=_secure(request))
    answer.delete_cookie(FORM_COOKIE, path="/signin", httponly=True, samesite="strict", secure=_secure(request))
    return answer


@router.post("/signout")
def signout(request: Request, svc: ServicesDep) -> Response:
    svc.sessions.sign_out(request.cookies.get(COOKIE, ""))
    answer = RedirectResponse("/signin", status_code=303)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return answer
