"""The `careledger` command line."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from application.access import Actor
from application.commands import SYSTEM, Command
from application.errors import ApplicationError, NotFound, Unauthenticated
from domain.base import DomainError
from infrastructure.database_probe import DatabaseUnavailable
from infrastructure.settings import Settings
from interfaces import bootstrap, demo_district
from interfaces.cli import output
from interfaces.cli.districts import DistrictOption, settings_for
from interfaces.logging import configure, log_config


class _Careledger(typer.Typer):
    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Every command opens the store through bootstrap.build: a store it cannot open is
        # the operator's to fix, told in one line rather than a traceback.
        try:
            return super().__call__(*args, **kwargs)
        except DatabaseUnavailable as exc:
            print(exc.line, file=sys.stderr)
            sys.exit(3)


app = _Careledger(help="careledger 留守儿童关爱保护和困境儿童保障工作台账", no_args_is_help=True)
units_app = typer.Typer(help="成员单位", no_args_is_help=True)
users_app = typer.Typer(help="用户", no_args_is_help=True)
import_app = typer.Typer(help="导入", no_args_is_help=True)
app.add_typer(units_app, name="units")
app.add_typer(import_app, name="import")
app.add_typer(users_app, name="users")

console = output.stdout_console()
err = Console(stderr=True)

DEMO_TOKENS = "demo-tokens.env"


def _refused(exc: Exception) -> typer.Exit:
    err.print(f"[red]拒绝：{getattr(exc, 'message', exc)}[/red] ({getattr(exc, 'rule', '')})")
    return typer.Exit(code=output.REFUSED)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="空库时载入演示区县并打印各角色令牌")] = False,
    workers: Annotated[int, typer.Option(help="uvicorn 进程数（仅 PostgreSQL）")] = 1,
) -> None:
    """运行 API 和看板。"""
    import structlog
    import uvicorn

    configure()  # from here on the process writes JSON lines only (the demo's tokens aside)
    settings = Settings()
    services = bootstrap.build(settings)
    try:
        if demo:
            _demo(services)
    finally:
        services.close()
    if workers > 1 and not settings.is_postgres:
        structlog.get_logger("careledger.serve").warning("workers_ignored", reason="SQLite 只能以单进程运行", workers=workers)
        workers = 1
    if workers > 1:
        # Tables exist now; workers must not race to create them.
        os.environ["CARELEDGER_CREATE_TABLES"] = "false"
        _share_metrics_directory()
    uvicorn.run(
        "interfaces.http.main:app", host=host, port=port, workers=workers,
        # Forwarded headers are believed by the app itself, from CARELEDGER_TRUSTED_PROXIES only
        # (interfaces/http/app.py), however it is served.
        loop="uvloop", http="httptools", log_level="info", proxy_headers=False,
        log_config=log_config(),  # uvicorn's lines, access lines too, are JSON like careledger's
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
    )


def _share_metrics_directory() -> None:
    """Several workers count into files of one directory, emptied at start (prometheus-client)."""
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="careledger-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _tokens_file(services: bootstrap.Services) -> Path:
    var = Path(services.settings.database_url.removeprefix("sqlite:///")).parent \
        if not services.settings.is_postgres else Path("var")
    return var / DEMO_TOKENS


def _keep_tokens(tokens_file: Path, tokens: dict[str, str]) -> None:
    """Written only into a file made 0600 before its first byte (O_EXCL: never one left by
    someone else, whose mode a truncation would keep)."""
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.unlink(missing_ok=True)
    fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{k.upper()}={v}\n" for k, v in tokens.items()))


def _demo(services: bootstrap.Services) -> None:
    tokens_file = _tokens_file(services)
    if demo_district.is_empty(services.ledger):
        tokens = demo_district.load(services)
        _keep_tokens(tokens_file, {**{f"{k}_token": v for k, v in tokens.items()},
                                   **demo_district.sign_ins(services.accounts)})
        console.print("[green]已载入演示区县。[/green]")
    elif not tokens_file.exists():
        console.print("库中已有数据，未载入演示区县。")
        return
    _print_tokens(tokens_file)


def _print_tokens(tokens_file: Path) -> None:
    table = Table(title=f"演示令牌和看板登录（也保存在 {tokens_file}，权限 0600）")
    table.add_column("变量")
    table.add_column("令牌")
    for line in tokens_file.read_text().splitlines():
        key, _, value = line.partition("=")
        table.add_row(key, value)
    console.print(table)


@app.command()
def demo(
    generate: Annotated[int, typer.Option("--generate", min=1, help="写入约 N 条事件的模拟区县多年历史（须为空库）")],
    seed: Annotated[int, typer.Option(help="随机种子（同一种子生成同样的历史）")] = 9,
) -> None:
    """生成模拟区县历史（整改问题、儿童个案及其全部记录），用于性能测试和看板演示。"""
    import time

    from interfaces.district_generator import DistrictGenerator

    services = bootstrap.build(Settings())
    try:
        if not demo_district.is_empty(services.ledger):
            err.print("[red]库中已有数据：模拟历史只写入空库。[/red]")
            raise typer.Exit(code=output.REFUSED)
        started = time.perf_counter()
        with console.status("生成中…") as status:
            generator = DistrictGenerator(services, seed=seed)
            generator.extend(generate, report=lambda done, total: status.update(f"已写入 {done:,}/{total:,} 条事件"))
        seconds = time.perf_counter() - started
        console.print(
            f"已写入 {generator.written:,} 条事件（{len(generator.issue_ids):,} 个整改问题，"
            f"{len(generator.case_ids):,} 个儿童个案），用时 {seconds:.1f} 秒。"
        )
        # The history was recorded on its own dates, its tokens issued years ago: fresh ones, issued now.
        services.ledger.clock = lambda: datetime.now(timezone.utc)
        from interfaces.district_generator import INSPECTOR, SUPERVISOR

        tokens = {"supervisor_token": demo_district.current_token(services, SUPERVISOR[0]),
                  "inspector_token": demo_district.current_token(services, INSPECTOR[0])}
        tokens_file = _tokens_file(services)
        _keep_tokens(tokens_file, tokens)
        _print_tokens(tokens_file)
    finally:
        services.close()


@units_app.command("add")
def units_add(
    code: str,
    name: str,
    group: Annotated[str | None, typer.Option(help="加入单位组（首次使用时创建，组代码即组名，如 司法所）")] = None,
    district: DistrictOption = None,
) -> None:
    """登记成员单位（按代码幂等）。"""
    services = bootstrap.build(settings_for(district), district=district)
    try:
        accepted = services.registry.add_unit(Command(SYSTEM), code=code, name=name, group=group)
        console.print(f"单位 {code} 已登记（版本 {accepted.version}，位置 {accepted.position}）")
    except (DomainError, ApplicationError) as exc:
        raise _refused(exc) from None
    finally:
        services.close()


@users_app.command("add")
def users_add(
    name: str,
    unit: Annotated[str, typer.Option(help="所属单位代码")],
    role: Annotated[str, typer.Option(help="agency、supervisor、inspector、admin 或 province_inspector（省级督查，仅省级）")],
    as_json: output.JsonFlag = False,
    district: DistrictOption = None,
) -> None:
    """创建用户；最后一行打印其令牌，仅此一次（--json 时为 token 字段）。"""
    services = bootstrap.build(settings_for(district), district=district)
    try:
        enrolment = services.accounts.add_user(Command(SYSTEM), name=name, unit=unit, role=role)
    except (DomainError, ApplicationError) as exc:
        raise _refused(exc) from None
    finally:
        services.close()
    if as_json:
        output.print_json({"user_id": str(enrolment.user_id), "name": name, "unit": unit, "role": role,
                           "token_id": str(enrolment.token_id) if enrolment.token_id else None,
                           "token": enrolment.token})
        return
    console.print(f"用户 {name} 已创建。令牌只显示这一次，请妥善保存：")
    print(enrolment.token)


@import_app.command("problem-list")
def import_problem_list_command(
    file: Annotated[Path, typer.Argument(help="问题清单 .xlsx 或 .csv", exists=True, dir_okay=False)],
    plan: Annotated[str, typer.Option("--plan", help="实施方案的 id 或文号（如 东政办[2019]6号）")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只报告将创建、警告和拒绝的行，不存储")] = False,
    as_json: output.JsonFlag = False,
) -> None:
    """导入问题清单：每个被接受的行成为一个整改问题；重复导入不会重复创建。有被拒绝的行时退出码 1。"""
    from uuid import UUID

    from application.problem_list_import import import_problem_list
    from domain.plan import plan_id
    from infrastructure.spreadsheets.grid import read_grid
    from interfaces.cli.reports import import_document, import_tables

    try:
        target = UUID(plan)
    except ValueError:
        target = plan_id(plan)
    services = bootstrap.build(Settings())
    try:
        grid = read_grid(file.read_bytes(), file.name)
        actor = _cli_supervisor(services)
        report = import_problem_list(services.issues, Command(actor), target, grid, dry_run=dry_run)
    except (DomainError, ApplicationError) as exc:
        raise _refused(exc) from None
    finally:
        services.close()
    if as_json:
        output.print_json(import_document(report))
    else:
        output.print_tables(*import_tables(report))
    raise typer.Exit(code=output.FOUND if report["counts"]["refused"] else output.OK)


def _cli_supervisor(services: bootstrap.Services) -> Actor:
    """The command line imports on behalf of the supervision office, recorded as `system`."""
    return Actor(user_id=SYSTEM.user_id, name=SYSTEM.name, unit=SYSTEM.unit, role="supervisor")


@app.command()
def rebuild(
    view: Annotated[str | None, typer.Argument(help="supervision、units、evaluation 或 ledger；省略则全部")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 时间或日期：只计算该时点的视图（输出 JSON），不改动存储")] = None,
    as_json: output.JsonFlag = False,
    district: DistrictOption = None,
) -> None:
    """从事件日志重建视图（进度条在标准错误上）；运行中的服务在新视图完成前继续使用旧视图。"""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from infrastructure.view_runner import VIEW_NAMES, rebuild as rebuild_views
    from interfaces.cli.reports import rebuild_document, rebuild_tables
    from interfaces.http.inputs import moment_or_day_end

    if view is not None and view not in VIEW_NAMES:
        err.print(f"没有名为 {view} 的视图；可选：{'、'.join(VIEW_NAMES)}")
        raise typer.Exit(code=output.USAGE)
    moment = moment_or_day_end(as_of) if as_of else None
    services = bootstrap.build(settings_for(district), district=district)
    try:
        if moment is not None:
            # The views themselves are the answer: too wide for a table, so JSON with or without --json.
            output.print_json(rebuild_views(services.ledger, view=view, as_of=moment,
                                            thresholds=services.views.thresholds))
            return
        started = time.perf_counter()
        columns = (BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), TimeRemainingColumn())
        # Only a terminal shows a bar: into a file it would leave a stray line.
        with Progress(*Progress.get_default_columns()[:1], *columns, console=err, transient=True,
                      disable=not err.is_terminal) as bar:
            task = bar.add_task("重建视图（日志位置）", total=None)
            rebuild_views(services.ledger, view=view, thresholds=services.views.thresholds,
                          progress=lambda done, total: bar.update(task, completed=done, total=total))
        # Every view shares one set of summaries (view_runner.rebuild): all were rebuilt.
        document = rebuild_document(VIEW_NAMES, services.ledger.recorder.max_notification_id() or 0,
                                    time.perf_counter() - started)
    finally:
        services.close()
    if as_json:
        output.print_json(document)
    else:
        output.print_tables(*rebuild_tables(document))


def _cli_reader() -> Actor:
    """The operator at the command line reads as an inspector recorded as `system`: a shell
    holding the database URL and the key files can read everything anyway. ``--as`` gives
    the export a user's own reading rights instead (application.read_policy)."""
    return Actor(user_id=SYSTEM.user_id, name=SYSTEM.name, unit=SYSTEM.unit, role="inspector")


def _reader_named(services: bootstrap.Services, name: str) -> Actor:
    from domain.registry import user_id

    try:
        return services.identity.user_actor(user_id(name))
    except Unauthenticated:
        raise NotFound(f"没有名为 {name} 的在用用户", rule="user_exists") from None


@app.command()
def export(
    view: Annotated[str, typer.Argument(help="supervision、units、evaluation 或 ledger")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="输出的 .xlsx 文件；省略时写入当前目录，以视图、年度和日期命名（如 督查督办台账_2026-12-04.xlsx）")] = None,
    year: Annotated[int | None, typer.Option(help="年度（evaluation 必填）")] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="按该用户的查看权限导出（成员单位只含本单位可见的行）")] = None,
) -> None:
    """把视图导出为电子表格；省略 --as 时按运维人员（可查看全部，不含个人信息）导出。"""
    from application.read_policy import POLICY
    from infrastructure.spreadsheets.views_export import download_names, file_names, workbook
    from infrastructure.view_runner import VIEW_NAMES

    if view not in VIEW_NAMES:
        err.print(f"没有名为 {view} 的视图；可选：{'、'.join(VIEW_NAMES)}")
        raise typer.Exit(code=2)
    if view == "evaluation" and year is None:
        err.print("导出年终考核须指定 --year")
        raise typer.Exit(code=2)
    services = bootstrap.build(Settings())
    try:
        reader = _reader_named(services, as_user) if as_user is not None else _cli_reader()
        scope = POLICY.scope(reader)
        services.views.catch_up()
        data = services.views.view(view, year=year, scope=scope)
        out = out or Path(download_names(view, data["today"], year)[0])
        out.write_bytes(workbook(data, file_names(view, year)[0]))
    except (DomainError, ApplicationError) as exc:
        raise _refused(exc) from None
    finally:
        services.close()
    console.print(f"已导出 {out}")


@app.command()
def verify(
    tree_head: Annotated[Path | None, typer.Option("--tree-head", help="外部保存的树头（/audit/tree-head 的 JSON）")] = None,
    old_public_key: Annotated[list[Path] | None, typer.Option(
        "--old-public-key", help="轮换前的公钥 PEM 文件或其目录（可重复）：旧树头用它核验")] = None,
    as_json: output.JsonFlag = False,
    district: DistrictOption = None,
) -> None:
    """核验整个日志：重算每个叶子和根，核对每个签名树头，并按摘要核对每个佐证材料文件；完好退出码 0，被篡改退出码 1（指明首个异常位置或缺失、被改动的文件）。"""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from interfaces.cli.reports import verify_document, verify_tables
    from projections.merkle_log import TreeHead

    outside = None
    if tree_head is not None:
        try:
            outside = TreeHead.from_json(json.loads(tree_head.read_text()))
        except (OSError, ValueError) as exc:
            err.print(f"无法读取外部树头：{exc}")
            raise typer.Exit(code=output.USAGE) from None
    services = bootstrap.build(settings_for(district), district=district)
    try:
        total = services.ledger.recorder.max_notification_id() or 0
        with Progress(*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err, transient=True,
                      disable=not err.is_terminal) as bar:
            task = bar.add_task("核验日志（位置）", total=total)
            result = services.verify(retired_public_keys=old_public_key, outside_head=outside,
                                     on_progress=lambda done: bar.update(task, completed=done), processes=2)
        files = services.evidence.check()
    finally:
        services.close()
    document = verify_document(result, files)
    if as_json:
        output.print_json(document)
    else:
        output.print_tables(*verify_tables(document))
    raise typer.Exit(code=output.OK if result.intact and files.intact else output.FOUND)


from interfaces.cli import access, districts, operations  # noqa: E402 — registers migrate, project, admin, tokens

operations.register(app)
districts.register(app)
access.register(app, users_app)
output.document_exit_codes(app)

if __name__ == "__main__":
    app()
