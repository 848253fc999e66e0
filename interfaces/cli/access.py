"""Access from the command line: `admin create`, `users list|deactivate|activate|change|set-password`,
`tokens list|issue|revoke`. The command line acts as `system`, an admin, and is recorded as such."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from application.commands import SYSTEM, Command
from application.errors import ApplicationError
from domain.base import DomainError
from domain.registry import user_id
from interfaces import bootstrap
from interfaces.cli import output
from interfaces.cli.districts import DistrictOption, settings_for
from interfaces.cli.reports import tokens_document, tokens_tables, users_document, users_tables

console = output.stdout_console()
err = Console(stderr=True)

admin_app = typer.Typer(help="管理员", no_args_is_help=True)
tokens_app = typer.Typer(help="令牌", no_args_is_help=True)

ADMIN_UNIT = ("admin", "系统管理")


@contextmanager
def _services(district: str | None = None) -> Iterator[bootstrap.Services]:
    services = bootstrap.build(settings_for(district), district=district)
    try:
        yield services
    except (DomainError, ApplicationError) as exc:
        err.print(f"[red]拒绝：{getattr(exc, 'message', exc)}[/red] ({getattr(exc, 'rule', '')})")
        raise typer.Exit(code=output.REFUSED) from None
    finally:
        services.close()


def _password_from_stdin() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("新密码", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def admin_create(name: str, as_json: output.JsonFlag = False, district: DistrictOption = None) -> None:
    """新部署的第一个管理员：创建单位 admin（如无）和该用户，打印一次性密码和令牌（最后一行）。"""
    password = secrets.token_urlsafe(12)
    with _services(district) as services:
        code, unit_name = ADMIN_UNIT
        enrolment = services.accounts.add_user(Command(SYSTEM), name=name, unit=code, role="admin",
                                               unit_name=unit_name)
        services.accounts.set_password(Command(SYSTEM), name, password)
    if as_json:
        output.print_json({"user_id": str(enrolment.user_id), "name": name, "unit": code, "role": "admin",
                           "password": password, "token": enrolment.token})
        return
    console.print(f"管理员 {name} 已创建。密码和令牌只显示这一次，请妥善保存（登录后可由管理员重设密码）：")
    print(f"密码: {password}")
    print(enrolment.token)


def users_list(as_json: output.JsonFlag = False, district: DistrictOption = None) -> None:
    """列出用户（从不显示密码或令牌）。"""
    with _services(district) as services:
        users = services.accounts.users(SYSTEM)
    if as_json:
        output.print_json(users_document(users))
    else:
        output.print_tables(*users_tables(users))


def users_deactivate(name: str, district: DistrictOption = None) -> None:
    """停用用户：其全部令牌和会话立即失效。"""
    with _services(district) as services:
        services.accounts.deactivate(Command(SYSTEM), user_id(name))
    console.print(f"用户 {name} 已停用。")


def users_activate(name: str, district: DistrictOption = None) -> None:
    """恢复停用的用户。"""
    with _services(district) as services:
        services.accounts.reactivate(Command(SYSTEM), user_id(name))
    console.print(f"用户 {name} 已恢复。")


def users_change(
    name: str,
    role: Annotated[str | None, typer.Option(help="新角色：agency、supervisor、inspector 或 admin")] = None,
    unit: Annotated[str | None, typer.Option(help="新所属单位代码")] = None,
    district: DistrictOption = None,
) -> None:
    """变更用户的角色或所属单位（其令牌和会话的下一次请求即按新角色和单位）。"""
    with _services(district) as services:
        services.accounts.change(Command(SYSTEM), user_id(name), role=role, unit=unit)
    console.print(f"用户 {name} 已变更。")


def users_set_password(name: str, district: DistrictOption = None) -> None:
    """从标准输入读入新密码（看板登录用）；该用户已登录的会话随之结束。"""
    password = _password_from_stdin()
    with _services(district) as services:
        services.accounts.set_password(Command(SYSTEM), name, password)
    console.print(f"用户 {name} 的密码已设置。")


def tokens_list(
    user: Annotated[str | None, typer.Option("--user", help="只列出该用户的令牌")] = None,
    as_json: output.JsonFlag = False,
    district: DistrictOption = None,
) -> None:
    """列出令牌：编号、所属用户、签发、失效和最近使用时间（从不显示令牌本身）。"""
    with _services(district) as services:
        if user is not None:
            services.accounts.user_by_name(user)
        tokens = services.accounts.tokens(SYSTEM, user_id(user) if user else None)
    if as_json:
        output.print_json(tokens_document(tokens))
    else:
        output.print_tables(*tokens_tables(tokens))


def tokens_issue(name: str, as_json: output.JsonFlag = False, district: DistrictOption = None) -> None:
    """为用户签发新令牌；最后一行打印令牌，仅此一次（--json 时为 token 字段）。"""
    with _services(district) as services:
        issued = services.accounts.issue_token(Command(SYSTEM), user_id(name))
    expires = issued.accepted.extra["expires_at"]
    if as_json:
        output.print_json({"token_id": str(issued.accepted.id), "user": name, "expires_at": expires,
                           "token": issued.token})
        return
    console.print(f"令牌 {issued.accepted.id} 已签发给 {name}，有效至 {expires}。只显示这一次：")
    print(issued.token)


def tokens_revoke(token_id: str, district: DistrictOption = None) -> None:
    """吊销令牌：持有者的下一次请求即被拒绝。"""
    try:
        target = UUID(token_id)
    except ValueError:
        err.print("令牌编号须为 UUID（见 careledger tokens list）")
        raise typer.Exit(code=output.USAGE) from None
    with _services(district) as services:
        services.accounts.revoke_token(Command(SYSTEM), target)
    console.print(f"令牌 {token_id} 已吊销。")


def register(app: typer.Typer, users_app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
    app.add_typer(tokens_app, name="tokens")
    admin_app.command("create")(admin_create)
    commands: list[tuple[typer.Typer, str, Callable[..., None]]] = [
        (users_app, "list", users_list), (users_app, "deactivate", users_deactivate),
        (users_app, "activate", users_activate), (users_app, "set-password", users_set_password),
        (users_app, "change", users_change),
        (tokens_app, "list", tokens_list), (tokens_app, "issue", tokens_issue), (tokens_app, "revoke", tokens_revoke),
    ]
    for group, name, command in commands:
        group.command(name)(command)
