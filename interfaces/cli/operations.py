"""Operating commands: `careledger migrate` and `careledger project`."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.logging import configure


def migrate() -> None:
    """创建全部数据表（事件、视图、默克尔日志、审计索引、个案密钥）；可重复运行。"""
    settings = Settings(create_tables=True)
    services = bootstrap.build(settings)
    services.close()
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


def register(app: typer.Typer) -> None:
    app.command()(migrate)
    app.command()(project)
