"""The admin's forms on users, through application.accounts.Accounts as the API and the
command line call it: a new user (name, unit, role; ``POST /api/v1/users``, ``careledger
users add``), whose first token is shown once in the answer and nowhere else; a user's page
with the change of role or unit (``Accounts.change``), their tokens and their history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from application.access import Actor
from application.accounts import Enrolment
from application.commands import Accepted
from application.errors import NotFound
from domain.free_text import RULE as FREE_TEXT
from interfaces.bootstrap import Services
from interfaces.http.access import UserChange, UserIn
from interfaces.http.deps import ActorDep, ServicesDep
from interfaces.web import choices, forms, present
from interfaces.web.admin import ROLE_CHOICES, ROLE_LABELS, beside_fields
from interfaces.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Where a service's refusal of what was typed stands on the form.
FIELDS = {"user_name_unique": "name", "user_needs_name": "name", FREE_TEXT: "name",
          "unit_exists": "unit", "role_is_known": "role", "admin_may_not_demote_self": "role"}


def unit_choices(svc: Services, caller: Actor) -> list[tuple[str, str]]:
    """Every unit, with its code: for an admin only."""
    svc.accounts.require_admin(caller)
    return choices.unit_choices(svc, coded=True)


def _new_page(request: Request, units: list[tuple[str, str]], form: forms.Sent | None, status: int = 200,
              enrolled: dict[str, Any] | None = None) -> Response:
    return render(request, "admin/user_new.html", {"form": form, "units": units, "roles": ROLE_CHOICES,
                                                   "enrolled": enrolled}, status)


@router.get("/admin/users/new")
def new_user_form(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    return _new_page(request, unit_choices(svc, caller), None)


@router.post("/admin/users/new")
async def new_user(request: Request, caller: ActorDep, svc: ServicesDep) -> Response:
    units = await run_in_threadpool(unit_choices, svc, caller)  # a non-admin is refused here, before anything
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, UserIn)
    made: list[Enrolment] = []

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        enrolment = svc.accounts.add_user(sent.command, name=body.name, unit=body.unit, role=body.role)
        made.append(enrolment)
        assert enrolment.accepted is not None
        return enrolment.accepted

    answer = await forms.act(sent, beside_fields(command, FIELDS), done=lambda accepted: f"/admin/users/{accepted.id}",
                             again=lambda f, status: _new_page(request, units, f, status), fields=FIELDS)
    if not made:
        return answer
    # The token is in this answer and nowhere else, ever: no redirect could show it again.
    # A second click finds the kept answer, which holds no token, and is told so (409).
    enrolment = made[0]
    assert enrolment.accepted is not None and body is not None
    return _new_page(request, units, None, enrolled={
        "user_id": enrolment.user_id, "name": body.name, "token": enrolment.token, "token_id": enrolment.token_id,
        "expires_at": enrolment.accepted.extra["expires_at"]})


# ---- one user -----------------------------------------------------------------------------


def _user_page(request: Request, svc: Services, caller: Actor, user_id: UUID, form: forms.Sent | None,
               status: int = 200) -> Response:
    users = svc.ledger.unit_names.annotate(svc.accounts.users(caller))
    user = next((u for u in users if u["user_id"] == user_id), None)
    if user is None:
        raise NotFound("没有这个用户", rule="user_exists")
    return render(request, "admin/user.html", {
        "user": user, "form": form, "units": unit_choices(svc, caller), "roles": ROLE_CHOICES,
        "role_labels": ROLE_LABELS, "tokens": svc.accounts.tokens(caller, user_id),
        "timeline": _history(svc, user_id), "done": request.query_params.get("done", "")[:10],
    }, status)


def _history(svc: Services, user_id: UUID) -> list[dict[str, Any]]:
    return present.timeline(svc.trail.history(user_id), svc.settings.late_entry_days, svc.ledger.unit_names, "User")


@router.get("/admin/users/{user_id}")
def user_page(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    return _user_page(request, svc, caller, user_id, None)


@router.post("/admin/users/{user_id}")
async def change_user(request: Request, user_id: UUID, caller: ActorDep, svc: ServicesDep) -> Response:
    await run_in_threadpool(svc.accounts.users, caller)  # a non-admin is refused here, before anything
    sent = await forms.receive(request, caller)
    body = forms.checked(sent, UserChange)

    def command() -> Accepted:
        assert body is not None  # forms.act sends nothing while the form has errors
        return svc.accounts.change(sent.command, user_id, role=body.role, unit=body.unit)

    return await forms.act(
        sent, beside_fields(command, FIELDS), fields=FIELDS,
        done=lambda accepted: f"/admin/users/{user_id}?done={accepted.version}",
        timeline=lambda: _history(svc, user_id),
        again=lambda f, status: _user_page(request, svc, caller, user_id, f, status),
    )
