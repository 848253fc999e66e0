"""Operating commands: `careledger migrate` and `careledger project`."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.cli.districts import DistrictOption, settings_for
from interfaces.logging import configure


def migrate() -> None:
    """创建全部数据表（事件、视图、默克尔日志、审计索引、个案密钥）；可重复运行。"""
    from interfaces.deployment import build_deployment

    # Every registered district's tables too (interfaces.deployment), each in its schema.
    build_deployment(Settings(create_tables=True)).close()
    typer.echo("数据表已就绪。")


def project() -> None:
    """独立运行视图、默克尔日志和审计索引的跟随进程；任何停止后从已存位置继续。SIGTERM 平稳退出。

    与 `CARELEDGER_FOLLOWERS=external` 的 `careledger serve` 搭配（PostgreSQL）。"""
    configure()
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bootstrap.run_followers(Settings(), stopping)


def rotate_data_key(district: DistrictOption = None) -> None:
    """轮换数据主密钥：用新主密钥重新包装全部个案密钥（一个事务），再替换主密钥文件。

    新密钥先写在旁边的 .new 文件；若在事务提交后、替换文件前中断，.new 文件即为当前主密钥。"""
    from infrastructure.case_keys import load_master_key

    settings = settings_for(district)
    current = settings.data_key_file
    fresh = current.with_name(current.name + ".new")
    fresh.unlink(missing_ok=True)
    services = bootstrap.build(settings, district=district)  # before the new key: a store it cannot open leaves no .new file
    try:
        new_key = load_master_key(fresh)  # made on first use, mode 0600
        count = services.case_keys.rewrap(new_key)
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    finally:
        services.close()
    fresh.replace(current)
    typer.echo(f"已用新主密钥重新包装 {count} 个个案密钥；主密钥文件已替换。")


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(project)
    app.command("rotate-data-key")(rotate_data_key)
