"""The admin's page of users and tokens: list (never a secret), issue a token (shown once),
revoke it, deactivate and reactivate a user. Plain forms, each with the session's CSRF token."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from application.commands import Command
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _page(request: Request, svc: Any, caller: Any, issued: dict[str, Any] | None = None) -> Response:
    users = svc.ledger.unit_names.annotate(svc.accounts.users(caller))
    tokens = sorted(svc.accounts.tokens(caller), key=lambda t: (t["user"], t["created_at"]))
    if issued is not None:
        issued["user"] = next(u["name"] for u in users if u["user_id"] == issued["user_id"])
    return render(request, "admin.html", {"users": users, "tokens": tokens, "issued": issued})


def _then_back(act: Callable[[], Any]) -> Response:
    act()
    return RedirectResponse("/admin", status_code=303)


@router.get("/admin")
def admin(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    return _page(request, svc, caller)


@router.post("/admin/users/{user_id}/deactivation")
def deactivate(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _then_back(lambda: svc.accounts.deactivate(Command(caller), user_id))


@router.post("/admin/users/{user_id}/activation")
def activate(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _then_back(lambda: svc.accounts.reactivate(Command(caller), user_id))


@router.post("/admin/tokens/{token_id}/revocation")
def revoke(request: Request, token_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _then_back(lambda: svc.accounts.revoke_token(Command(caller), token_id))


@router.post("/admin/users/{user_id}/tokens")
def issue(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep,
          once: Annotated[str | None, Form(pattern=r"^[\x21-\x7e]{1,200}$")] = None) -> Response:
    # The form's own key: a second click finds the first answer kept and is told the token
    # was shown once (a 409 page), instead of issuing a second token nobody sees.
    request_digest = hashlib.sha256(f"POST {request.url.path}".encode()).hexdigest()
    made = svc.accounts.issue_token(Command(caller, idempotency_key=once, fingerprint=request_digest), user_id)
    # Answered in this page and nowhere else, ever: no redirect could show it again.
    return _page(request, svc, caller, {"token": made.token, "token_id": made.accepted.id, "user_id": user_id,
                                        "expires_at": made.accepted.extra["expires_at"]})
