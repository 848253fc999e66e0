"""The admin's page of users and tokens: list (never a secret), issue a token (shown once),
revoke it, deactivate and reactivate a user. Plain forms, each with the session's CSRF token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from application.ledger import Command
from domain.base import RuleViolated
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web.pages import PageRoute, error_page, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _page(request: Request, svc: Any, caller: Any, issued: dict[str, Any] | None = None) -> Response:
    users = svc.ledger.unit_names.annotate(svc.accounts.users(caller))
    tokens = sorted(svc.accounts.tokens(caller), key=lambda t: (t["user"], t["created_at"]))
    return render(request, "admin.html", {"users": users, "tokens": tokens, "issued": issued})


def _then_back(request: Request, act: Callable[[], Any]) -> Response:
    try:
        act()
    except RuleViolated as refused:
        return error_page(request, 409, refused.message)
    return RedirectResponse("/admin", status_code=303)


@router.get("/admin")
def admin(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    return _page(request, svc, caller)


@router.post("/admin/users/{user_id}/deactivation")
def deactivate(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _then_back(request, lambda: svc.accounts.deactivate(Command(caller), user_id))


@router.post("/admin/users/{user_id}/activation")
def activate(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _then_back(request, lambda: svc.accounts.reactivate(Command(caller), user_id))


@router.post("/admin/tokens/{token_id}/revocation")
def revoke(request: Request, token_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _then_back(request, lambda: svc.accounts.revoke_token(Command(caller), token_id))


@router.post("/admin/users/{user_id}/tokens")
def issue(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    try:
        made = svc.accounts.issue_token(Command(caller), user_id)
    except RuleViolated as refused:
        return error_page(request, 409, refused.message)
    # Answered in this page and nowhere else, ever: no redirect could show it again.
    return _page(request, svc, caller, {"token": made.token, "token_id": made.accepted.id,
                                        "user": svc.accounts.tokens(caller, user_id)[-1]["user"],
                                        "expires_at": made.accepted.extra["expires_at"]})
