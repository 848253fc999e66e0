"""The admin's page of users and tokens: list (never a secret), issue a token (shown once),
revoke it, deactivate and reactivate a user. Plain forms, each with the session's CSRF token.
A user's own page and the new-user form are admin_users; units and duties admin_units."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from application.commands import Command
from application.errors import Forbidden, NotFound
from domain.base import InvalidCommand, RuleViolated
from domain.registry import ROLES
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ROLE_LABELS = {"agency": "成员单位", "supervisor": "督查督办", "inspector": "检查人员", "admin": "管理员",
               "province_inspector": "省级督查"}
ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]

T = TypeVar("T")


def beside_fields(command: Callable[[], T], rules: Collection[str]) -> Callable[[], T]:
    """A refusal of what was typed, which the services raise as the API's 403 (a name taken,
    a code that is a group's) or 404 (a unit not registered): on a form it stands beside its
    field, what was typed kept (409, 422). Refusals of access stay the 403 and 404 pages."""

    def run() -> T:
        try:
            return command()
        except Forbidden as refused:
            if refused.rule in rules:
                raise RuleViolated(refused.rule, refused.message) from None
            raise
        except NotFound as missing:
            if missing.rule in rules:
                raise InvalidCommand(missing.rule, missing.message) from None
            raise

    return run


def _page(request: Request, svc: Any, caller: Any, issued: dict[str, Any] | None = None) -> Response:
    users = svc.ledger.unit_names.annotate(svc.accounts.users(caller))
    tokens = sorted(svc.accounts.tokens(caller), key=lambda t: (t["user"], t["created_at"]))
    if issued is not None:
        issued["user"] = next(u["name"] for u in users if u["user_id"] == issued["user_id"])
    return render(request, "admin.html", {"users": users, "tokens": tokens, "issued": issued, "roles": ROLE_LABELS})


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
