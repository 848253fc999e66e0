"""`careledger districts add|list`, and the `--district CODE` option of the commands that act
on one district's store (PostgreSQL deployments of several districts: interfaces.deployment)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from infrastructure.database_probe import check_database
from infrastructure.districts import DistrictRefused, DistrictTable, check_code
from infrastructure.settings import Settings
from interfaces.cli import output
from interfaces.deployment import add_district, district_settings, missing_keys

console = output.stdout_console()
err = Console(stderr=True)

districts_app = typer.Typer(help="区县（一个 PostgreSQL 部署服务多个区县，每个区县一个模式）", no_args_is_help=True)

DistrictOption = Annotated[str | None, typer.Option(
    "--district", help="区县代码：作用于该区县的存储（省略则为本部署自己的，即省级或唯一的区县）")]


def _refused(message: str) -> typer.Exit:
    err.print(f"[red]拒绝：{message}[/red]")
    return typer.Exit(code=output.REFUSED)


def settings_for(district: str | None) -> Settings:
    """The settings of the store a command acts on: the deployment's own, or a registered
    district's (its schema and key files)."""
    settings = Settings()
    if district is None:
        return settings
    check_database(settings)  # an unreachable store is told in one line (exit 3), as build() tells it
    try:
        check_code(district)
        found = {d.code: d for d in DistrictTable(settings).all()}.get(district)
    except DistrictRefused as refused:
        raise _refused(refused.message) from None
    if found is None:
        raise _refused(f"没有登记代码为 {district} 的区县（见 careledger districts list）")
    own = district_settings(settings, found)
    missing = missing_keys(own)
    if missing:  # made here, they would sign and seal what the district's other hosts cannot read
        raise _refused(f"本机没有区县 {district} 的密钥文件（{'、'.join(missing)}）：请从登记该区县的主机复制其密钥目录 "
                       f"{own.signing_key_file.parent}")
    return own


@districts_app.command("add")
def districts_add(code: str, name: str) -> None:
    """登记区县（6 位行政区划代码和名称），创建其模式、数据表和密钥文件；同名重复登记不改变任何内容。仅 PostgreSQL。
    运行中的服务和跟随进程无需重启，数秒内（每个进程至多每 5 秒读一次区县表）开始服务新区县。"""
    try:
        district = add_district(Settings(), code, name)
    except DistrictRefused as refused:
        raise _refused(refused.message) from None
    console.print(f"区县 {district.code} {district.name} 已登记（模式 {district.schema}）。"
                  f"请用 careledger admin create 名称 --district {district.code} 创建其第一个管理员。")


@districts_app.command("list")
def districts_list(as_json: output.JsonFlag = False) -> None:
    """列出本部署服务的区县。"""
    settings = Settings()
    check_database(settings)
    try:
        found = DistrictTable(settings).all()
    except DistrictRefused as refused:
        raise _refused(refused.message) from None
    rows = [{"code": d.code, "name": d.name, "schema": d.schema, "added_at": d.added_at.isoformat()} for d in found]
    if as_json:
        output.print_json(rows)
        return
    output.print_tables(output.table("区县", ["代码", "名称", "模式", "登记时间"],
                                     [list(row.values()) for row in rows]))


def register(app: typer.Typer) -> None:
    app.add_typer(districts_app, name="districts")
