"""Access: the caller, users and their tokens (API.md, "Access"). Thin handlers over Accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from interfaces.http.deps import ActorDep, CommandDep, ServicesDep, created
from interfaces.http.inputs import Code, Name, RequiredText
from interfaces.http.schemas import UNIT_NAME, Accepted, Body

router = APIRouter(prefix="/api/v1", tags=["用户和令牌"])

CREATED: dict[str, Any] = {"status_code": 201}
Role = Literal["agency", "supervisor", "inspector", "admin"]


class Me(BaseModel):
    user_id: UUID
    name: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    role: str
    token_id: UUID | None


class UserIn(Body):
    name: Name
    unit: Code
    role: Role


class UserChange(Body):
    """A user's new role, unit or both, as Accounts.change takes them (the admin's form sends both)."""

    # The document says what the check below refuses: at least one of the two, neither null.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [{"required": ["role"]},
                                                                          {"required": ["unit"]}]})

    role: Role | SkipJsonSchema[None] = None
    unit: Code | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _changes_something(self) -> UserChange:
        if self.role is None and self.unit is None:
            raise ValueError("须给出 role 或 unit")
        return self


class UnitIn(Body):
    """A unit as `careledger units add CODE NAME [--group GROUP]` registers it."""

    code: Code
    name: Name
    group: Code | None = None


class DutyIn(Body):
    """One duty of a unit's catalogue (职责清单): its number within the unit, and its text."""

    duty_id: Code
    text: RequiredText


class UserOut(BaseModel):
    user_id: UUID
    name: str
    unit: str
    unit_name: str = Field(description=UNIT_NAME)
    role: str
    active: bool
    has_password: bool
    created_at: datetime
    version: int


class TokenOut(BaseModel):
    token_id: UUID
    user_id: UUID
    user: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool
    expired: bool


class TokenIssued(Accepted):
    """The token's secret is in this answer and nowhere else, ever."""

    token: str
    token_id: UUID
    user_id: UUID
    expires_at: datetime


class UserCreated(TokenIssued):
    pass


@router.get("/me", response_model=Me, summary="当前登录的用户")
def me(caller: ActorDep, svc: ServicesDep) -> Any:
    return {"user_id": caller.user_id, "name": caller.name, "unit": caller.unit,
            "unit_name": svc.ledger.unit_names(caller.unit), "role": caller.role, "token_id": caller.token_id}


@router.get("/users", response_model=list[UserOut], summary="用户列表（管理员）")
def list_users(caller: ActorDep, svc: ServicesDep) -> Any:
    return svc.ledger.unit_names.annotate(svc.accounts.users(caller))


@router.post("/users", response_model=UserCreated, **CREATED, summary="创建用户并签发令牌（管理员；令牌只返回这一次）")
def create_user(body: UserIn, cmd: CommandDep, svc: ServicesDep) -> Any:
    enrolment = svc.accounts.add_user(cmd, name=body.name, unit=body.unit, role=body.role)
    assert enrolment.accepted is not None
    return {**enrolment.accepted.answer(), "token": enrolment.token, "user_id": enrolment.user_id}


@router.post("/users/{user_id}/deactivation", response_model=Accepted, **CREATED,
             summary="停用用户：其全部令牌和会话立即失效（管理员）")
def deactivate(user_id: UUID, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.accounts.deactivate(cmd, user_id))


@router.post("/users/{user_id}/activation", response_model=Accepted, **CREATED, summary="恢复停用的用户（管理员）")
def activate(user_id: UUID, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.accounts.reactivate(cmd, user_id))


@router.post("/users/{user_id}/changes", response_model=Accepted, **CREATED,
             summary="变更用户的角色或所属单位（管理员）")
def change_user(user_id: UUID, body: UserChange, cmd: CommandDep, svc: ServicesDep) -> Any:
    return created(svc.accounts.change(cmd, user_id, role=body.role, unit=body.unit))


@router.get("/tokens", response_model=list[TokenOut], summary="令牌列表（管理员；从不返回令牌本身）")
def list_tokens(caller: ActorDep, svc: ServicesDep, user: Annotated[UUID | None, Query()] = None) -> Any:
    return svc.accounts.tokens(caller, user)


@router.post("/users/{user_id}/tokens", response_model=TokenIssued, **CREATED,
             summary="为用户签发令牌（管理员；令牌只返回这一次）")
def issue_token(user_id: UUID, cmd: CommandDep, svc: ServicesDep) -> Any:
    issued = svc.accounts.issue_token(cmd, user_id)
    extra = issued.accepted.extra
    return {**issued.accepted.answer(), "token": issued.token, "token_id": issued.accepted.id,
            "user_id": extra["user_id"], "expires_at": extra["expires_at"]}


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response,
               summary="吊销令牌（管理员或令牌本人）：下一次请求即 401")
def revoke_token(token_id: UUID, cmd: CommandDep, svc: ServicesDep) -> Response:
    svc.accounts.revoke_token(cmd, token_id)
    return Response(status_code=204)
