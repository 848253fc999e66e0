"""One connection tried before the store is opened, so a wrong database URL fails at once.

Without it a wrong password, a missing database or a stopped server surfaced as the
connection pool's timeout half a minute later, under a traceback. The probe answers within
``DEADLINE`` seconds with one line an operator can act on, in Chinese and in English.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import make_conninfo

from infrastructure.settings import Settings

# A server that accepts the connection and then says nothing is given this long.
DEADLINE = 1.5
# How long a process restarted by its supervisor (an API worker, the runner) waits at start
# for a database it cannot reach before it gives up.
START_WAIT_SECONDS = 60.0


class DatabaseUnavailable(Exception):
    """The store cannot be opened; ``line`` is what the operator reads (never the password)."""

    def __init__(self, zh: str, en: str) -> None:
        self.line = f"无法打开数据库：{zh} | Cannot open the database: {en}"
        super().__init__(self.line)


def check_database(settings: Settings, *, accept_transient: bool = True) -> None:
    """Raises DatabaseUnavailable unless CARELEDGER_DATABASE_URL is well formed and, for
    PostgreSQL, a connection with its user, password and database succeeds (or, with
    ``accept_transient``, the server is merely full or starting up)."""
    url = settings.database_url
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise DatabaseUnavailable(
            "CARELEDGER_DATABASE_URL 应为 sqlite:///路径 或 postgresql://用户[:密码]@主机:端口/数据库",
            "CARELEDGER_DATABASE_URL must be sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST:PORT/DB",
        )
    if not settings.is_postgres:
        _check_sqlite_directory(url.removeprefix("sqlite:///"))
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises on a port that is not a number
    except ValueError:
        raise DatabaseUnavailable(
            "CARELEDGER_DATABASE_URL 的端口不是数字",
            "the port in CARELEDGER_DATABASE_URL is not a number",
        ) from None
    env = settings.eventsourcing_env()
    where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
    database, user = env["POSTGRES_DBNAME"], env["POSTGRES_USER"]
    conninfo = make_conninfo(
        host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=database, user=user,
        password=env["POSTGRES_PASSWORD"], connect_timeout=2,
    )
    failure = _try_connect(conninfo)
    if failure is None or (accept_transient and _TRANSIENT.search(failure)):
        # A full or starting server is no fault of the settings: the pool waits for it.
        return
    raise _explain(failure, where=where, database=database, user=user)


def wait_for_database(
    settings: Settings, seconds: float, *, retrying: Callable[[DatabaseUnavailable], None] = lambda _: None
) -> None:
    """check_database until a connection succeeds, for at most ``seconds``; then the last
    DatabaseUnavailable. For a process started while the database restarts: the store's
    library needs a connection to open at all."""
    deadline = time.monotonic() + seconds
    delay = 0.25
    while True:
        try:
            check_database(settings, accept_transient=False)
            return
        except DatabaseUnavailable as unavailable:
            if time.monotonic() + delay > deadline:
                raise
            retrying(unavailable)
        time.sleep(delay)  # a retry's back-off, not synchronisation
        delay = min(delay * 2, 4.0)


_TRANSIENT = re.compile(
    r"too many clients|remaining connection slots|database system is (?:starting up|shutting down|"
    r"in recovery mode|not yet accepting)"
)


def _check_sqlite_directory(path: str) -> None:
    if path == ":memory:":
        return
    directory = Path(path).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        writable = False
    else:
        writable = os.access(directory, os.W_OK | os.X_OK)
    if not writable:
        raise DatabaseUnavailable(
            f"无法在目录 {directory} 中创建或写入 SQLite 数据库文件",
            f"cannot create or write the SQLite database file in {directory}",
        )


def _try_connect(conninfo: str) -> str | None:
    """The connection error's text, or None when the connection succeeded. A daemon thread,
    so a server that never answers leaves nothing for the process to wait on at exit."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            psycopg.connect(conninfo).close()
            outcome.append(None)
        except psycopg.Error as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=attempt, name="database-probe", daemon=True)
    worker.start()
    worker.join(DEADLINE)
    if not outcome:
        return "timeout expired"
    return outcome[0]


def _explain(message: str, *, where: str, database: str, user: str) -> DatabaseUnavailable:
    # libpq's messages are the only account of why a connection failed (psycopg gives no
    # SQLSTATE before a session exists); matched in English, the language libpq is built with.
    if re.search(r'database ".*" does not exist', message):
        return DatabaseUnavailable(
            f"{where} 上没有数据库 “{database}”，请先创建（见 README 的 PostgreSQL 一节）",
            f'database "{database}" does not exist on {where}; create it first (README, PostgreSQL)',
        )
    if re.search(r'role ".*" does not exist', message):
        return DatabaseUnavailable(
            f"{where} 上没有角色（用户）“{user}”，请先创建（见 README 的 PostgreSQL 一节）",
            f'role "{user}" does not exist on {where}; create it first (README, PostgreSQL)',
        )
    if "password authentication failed" in message or "no password supplied" in message:
        return DatabaseUnavailable(
            f"用户 “{user}” 的密码错误或未提供（{where}）",
            f'wrong or missing password for user "{user}" at {where}',
        )
    if re.search(r"Connection refused|could not translate host name|timeout expired|"
                 r"No route to host|Network is unreachable|Name or service not known", message):
        return DatabaseUnavailable(
            f"连不上 {where} 的 PostgreSQL 服务器（未运行、地址或端口错误，或无响应）",
            f"no PostgreSQL server answers at {where} (not running, wrong host or port, or silent)",
        )
    if "pg_hba.conf" in message:
        return DatabaseUnavailable(
            f"服务器 {where} 的 pg_hba.conf 不允许用户 “{user}” 连接数据库 “{database}”",
            f'pg_hba.conf on {where} lets no connection of user "{user}" to database "{database}"',
        )
    detail = message.strip().splitlines()[-1] if message.strip() else "unknown error"
    return DatabaseUnavailable(f"{where}：{detail}", f"{where}: {detail}")
