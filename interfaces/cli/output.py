"""How the command line answers: rich tables with Chinese labels that keep every cell whole
when piped, one JSON document under `--json`, and the exit codes every command keeps."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

OK = 0
FOUND = 1  # the command ran and found something to act on: tampering, refused rows
USAGE = 2  # click's own code for wrong arguments; also an argument the command cannot use
STORE = 3  # the store cannot be opened (infrastructure.database_probe)
REFUSED = 4  # the ledger refused the command by one of its rules; nothing was stored

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (OK, "成功"),
    (FOUND, "核验发现篡改，或导入中有被拒绝的行（其余行已导入）"),
    (USAGE, "用法错误：参数、选项或文件不对"),
    (STORE, "无法打开存储（标准错误上一行中英文说明）"),
    (REFUSED, "台账规则拒绝了该命令（如名称已被占用、单位不存在），未存储任何内容"),
)
# One paragraph: typer's help folds an epilog's lines together.
EPILOG = "退出码：" + "；".join(f"{code} {meaning}" for code, meaning in EXIT_CODES) + "。"

# Rich pads a table to the console's width only when asked (expand), so a wide console costs
# nothing; it only stops rich from folding cells at its 80-column default for a pipe.
PIPE_WIDTH = 4096

JsonFlag = Annotated[bool, typer.Option("--json", help="输出一个 JSON 文档（UTF-8），供脚本使用")]


def stdout_console() -> Console:
    """On a terminal rich fits the terminal; into a pipe or a file every cell stays on its line whole."""
    return Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    made = Table(title=title, title_justify="left")
    for column in columns:
        made.add_column(column, overflow="fold")
    for row in rows:
        made.add_row(*("—" if cell is None else str(cell) for cell in row))
    return made


def facts(title: str, pairs: Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of what a command did: label, value."""
    return table(title, ("项目", "结果"), pairs)


def print_tables(*tables: Table) -> None:
    console = stdout_console()
    for made in tables:
        console.print(made)


def print_json(document: Any) -> None:
    """The whole of standard output under `--json`: one document, UTF-8 whatever the locale."""
    text = json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def document_exit_codes(app: typer.Typer) -> None:
    """Every command's --help ends with the exit codes (one table, kept here)."""
    for command in app.registered_commands:
        if command.epilog is None:
            command.epilog = EPILOG
    for group in app.registered_groups:
        if group.typer_instance is not None:
            document_exit_codes(group.typer_instance)
