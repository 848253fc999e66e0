"""The command line speaks to people and to scripts: Chinese tables whose cells stay whole in an
80-column pipe, `--json` documents holding the same facts, and the documented exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import typer.core
import typer.main
from typer.testing import CliRunner

from application.commands import SYSTEM, Command
from infrastructure.view_runner import VIEW_NAMES
from interfaces import bootstrap
from interfaces.cli import output
from interfaces.cli.main import app
from tests.district import seed
from tests.e2e.test_cli import cli_env, flip_a_byte_of_the_third_event  # noqa: F401 — the fixture
from tests.unit.test_problem_list import HEADER, TITLE, as_csv

runner = CliRunner()
NARROW = {"COLUMNS": "80", "LINES": "24"}
PLAN = "东政办[2019]6号"
LONG_UNIT = ("xg-wbz", "东西湖区新沟镇人民政府社会事务办公室未成年人保护工作站")
REFUSAL = "含身份证号码或手机号码（问题清单不加密，不能填写个人信息）"
README = Path(__file__).resolve().parents[2] / "README.md"


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    """As a pipe would see it: not a terminal, COLUMNS=80."""
    return runner.invoke(app, list(args), env=NARROW, input=input)


def json_of(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def a_line_holds(text: str, out: str) -> bool:
    return any(text in line for line in out.splitlines())


def district_with_a_plan(settings) -> None:  # type: ignore[no-untyped-def]
    services = bootstrap.build(settings)
    try:
        district = seed(services)
        services.registry.add_unit(Command(SYSTEM), code=LONG_UNIT[0], name=LONG_UNIT[1])
        services.issues.register_plan(district.cmd("supervisor"), number=PLAN, title="实施方案",
                                      issuer_unit="bgs", year=2019)
    finally:
        services.close()


def seeded_district(settings, *, logged: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Seeds the district into the CLI's store (its Merkle log caught up when ``logged``);
    answers the log's size."""
    services = bootstrap.build(settings)
    try:
        seed(services)
        if logged:
            services.merkle.catch_up()
        return int(services.ledger.recorder.max_notification_id() or 0)
    finally:
        services.close()


def problem_list(tmp_path: Path) -> Path:
    """One row for the unit with the long name, one refused for the mobile number in it."""
    grid = [[TITLE], list(HEADER),
            ["1", LONG_UNIT[1], "落实未成年人保护工作站职责", "工作站值班制度有待完善。", "建立值班制度。", ""],
            ["2", "普法和依法治理科", "开展法治宣传", "联系人 13912345678 未及时回访。", "及时回访。", ""]]
    path = tmp_path / "问题清单.csv"
    path.write_bytes(as_csv(grid, "utf-8"))
    return path


def test_the_import_report_is_a_chinese_table_whose_long_cells_stay_whole_at_80_columns(  # type: ignore[no-untyped-def]
    cli_env, tmp_path  # noqa: F811
) -> None:
    district_with_a_plan(cli_env)
    file = problem_list(tmp_path)

    table = run("import", "problem-list", str(file), "--plan", PLAN, "--dry-run")
    assert table.exit_code == output.FOUND, table.output  # a refused row
    for header in ("读取行数", "将创建的整改问题", "拒绝的行", "识别出的责任单位", "逐行结果", "警告或拒绝原因"):
        assert header in table.stdout
    assert a_line_holds(LONG_UNIT[1], table.stdout) and a_line_holds(REFUSAL, table.stdout)
    assert max(map(len, table.stdout.splitlines())) > 80  # wider than the pipe's default, not folded

    dry = run("import", "problem-list", str(file), "--plan", PLAN, "--dry-run", "--json")
    assert dry.exit_code == output.FOUND
    document = json_of(dry)
    assert isinstance(document, dict)
    assert (document["rows_read"], document["counts"]["would_create"], document["counts"]["refused"]) == (2, 1, 1)
    assert document["units_resolved"] == [LONG_UNIT[0]]
    assert [r["refused"] for r in document["rows"]] == [None, REFUSAL]
    for label, value in (("读取行数", 2), ("将创建的整改问题", 1), ("拒绝的行", 1)):
        assert re.search(rf"{label}\s*│\s*{value}\s", table.stdout), label

    real = json_of(run("import", "problem-list", str(file), "--plan", PLAN, "--json"))
    assert isinstance(real, dict) and real["counts"]["created"] == 1 and real["dry_run"] is False
    again = run("import", "problem-list", str(file), "--plan", PLAN)
    assert again.exit_code == output.FOUND and re.search(r"未变更（已导入）\s*│\s*1\s", again.stdout)


def test_verify_tells_the_same_facts_as_a_table_and_as_json_and_exits_1_naming_the_first_bad_position(  # type: ignore[no-untyped-def]
    cli_env  # noqa: F811
) -> None:
    size = seeded_district(cli_env, logged=True)

    table = run("verify")
    assert table.exit_code == output.OK, table.output
    assert "日志核验" in table.stdout and re.search(r"结论\s*│\s*完好", table.stdout)
    assert re.search(rf"已核验事件\s*│\s*{size}\s", table.stdout)
    intact = json_of(run("verify", "--json"))
    assert isinstance(intact, dict)
    assert intact["intact"] is True and intact["events_checked"] == size and intact["first_bad_position"] is None

    flip_a_byte_of_the_third_event(cli_env)
    tampered = run("verify")
    assert tampered.exit_code == output.FOUND
    assert re.search(r"结论\s*│\s*被篡改", tampered.stdout) and re.search(r"首个异常位置\s*│\s*位置 3\s", tampered.stdout)
    answer = run("verify", "--json")
    assert answer.exit_code == output.FOUND
    found = json.loads(answer.stdout)
    assert (found["intact"], found["first_bad_position"], found["kind"]) == (False, 3, "event_changed")


def test_rebuild_reports_the_views_positions_and_time_with_its_progress_on_standard_error(  # type: ignore[no-untyped-def]
    cli_env  # noqa: F811
) -> None:
    size = seeded_district(cli_env)
    table = run("rebuild")
    assert table.exit_code == output.OK, table.output
    assert "视图重建" in table.stdout and re.search(rf"日志位置\s*│\s*{size}\s", table.stdout)
    assert a_line_holds("、".join(VIEW_NAMES), table.stdout)
    document = json_of(run("rebuild", "--json"))
    assert isinstance(document, dict)
    assert (document["views"], document["positions"]) == (list(VIEW_NAMES), size)
    assert document["seconds"] >= 0


def test_users_and_tokens_are_listed_as_whole_rows_at_80_columns_and_as_json(cli_env) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert run("units", "add", *LONG_UNIT).exit_code == 0
    long_name = f"{LONG_UNIT[1]}-孙丽"
    added = run("users", "add", long_name, "--unit", LONG_UNIT[0], "--role", "agency")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]  # the contract: the secret is the last line, once
    enrolled = run("users", "add", "李四", "--unit", LONG_UNIT[0], "--role", "inspector", "--json")
    by_json = json_of(enrolled)
    assert isinstance(by_json, dict) and by_json["name"] == "李四" and by_json["token"]

    services = bootstrap.build(cli_env)
    try:
        assert services.accounts.authenticate(token).name == long_name
        assert services.accounts.authenticate(by_json["token"]).name == "李四"
    finally:
        services.close()

    users = run("users", "list")
    assert users.exit_code == 0, users.output
    users_json = json_of(run("users", "list", "--json"))
    assert isinstance(users_json, list) and {u["name"] for u in users_json} == {long_name, "李四"}
    assert all(set(u) == {"user_id", "name", "unit", "role", "active", "has_password", "created_at"}
               for u in users_json)  # never a password or a token
    for header in ("用户名", "单位", "角色", "状态", "已设密码", "创建于", "编号"):
        assert header in users.stdout
    for user in users_json:
        row = next(line for line in users.stdout.splitlines() if user["user_id"] in line)
        assert user["name"] in row and user["role"] in row and "启用" in row

    first_admin = json_of(run("admin", "create", "首任管理员", "--json"))
    assert isinstance(first_admin, dict) and first_admin["role"] == "admin"
    services = bootstrap.build(cli_env)
    try:
        assert services.accounts.authenticate(first_admin["token"]).name == "首任管理员"
        assert services.sessions.sign_in("首任管理员", first_admin["password"], "127.0.0.1").actor.role == "admin"
    finally:
        services.close()

    issued = json_of(run("tokens", "issue", long_name, "--json"))
    assert isinstance(issued, dict) and issued["user"] == long_name
    plain = run("tokens", "issue", long_name)
    assert plain.exit_code == 0 and len(plain.stdout.strip().splitlines()[-1]) >= 22
    tokens = run("tokens", "list", "--user", long_name)
    tokens_json = json_of(run("tokens", "list", "--user", long_name, "--json"))
    assert isinstance(tokens_json, list) and len(tokens_json) == 3
    assert issued["token_id"] in {t["token_id"] for t in tokens_json}
    for header in ("令牌编号", "用户", "签发于", "失效于", "最近使用", "状态"):
        assert header in tokens.stdout
    for listed in tokens_json:
        row = next(line for line in tokens.stdout.splitlines() if listed["token_id"] in line)
        assert long_name in row and "有效" in row
    secrets = (token, by_json["token"], issued["token"])
    assert not any(s in tokens.stdout + json.dumps(tokens_json) for s in secrets)


def _cli_environment(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**os.environ, **NARROW, "CARELEDGER_DATABASE_URL": settings.database_url,
            "CARELEDGER_DATABASE_SCHEMA": settings.database_schema,
            "CARELEDGER_SIGNING_KEY_FILE": str(settings.signing_key_file),
            "CARELEDGER_DATA_KEY_FILE": str(settings.data_key_file),
            "CARELEDGER_IDEMPOTENCY_KEY_FILE": str(settings.idempotency_key_file)}


def test_verify_json_through_a_real_pipe_is_one_document_json_tool_reads(cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    long_name = f"{LONG_UNIT[1]}-孙丽"
    services = bootstrap.build(cli_env)
    try:
        seed(services)
        services.registry.add_unit(Command(SYSTEM), code=LONG_UNIT[0], name=LONG_UNIT[1])
        enrolled = services.accounts.add_user(Command(SYSTEM), name=long_name, unit=LONG_UNIT[0], role="agency")
        services.merkle.catch_up()
    finally:
        services.close()
    env = _cli_environment(cli_env)
    verify = subprocess.Popen([sys.executable, "-m", "interfaces.cli.main", "verify", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    tool = subprocess.run([sys.executable, "-m", "json.tool"], stdin=verify.stdout, capture_output=True,
                          timeout=60, env=env)
    assert verify.stdout is not None
    verify.stdout.close()
    assert verify.wait(timeout=60) == output.OK
    assert tool.returncode == 0, tool.stderr
    assert json.loads(tool.stdout)["intact"] is True

    users = subprocess.run([sys.executable, "-m", "interfaces.cli.main", "users", "list"], capture_output=True,
                           text=True, timeout=60, env=env, cwd=tmp_path)
    assert users.returncode == 0, users.stderr
    assert "…" not in users.stdout  # no ellipsis stands in for a cut cell
    row = next(line for line in users.stdout.splitlines() if str(enrolled.user_id) in line)
    assert long_name in row and LONG_UNIT[0] in row and "启用" in row


def test_each_exit_code_is_the_documented_one(cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert run("units", "add", "pf", "普法和依法治理科").exit_code == output.OK
    assert run("verify", "--no-such-option").exit_code == output.USAGE
    assert run("rebuild", "no-such-view").exit_code == output.USAGE
    assert run("tokens", "revoke", "not-a-uuid").exit_code == output.USAGE
    size = _log_size(cli_env)
    refused = run("users", "add", "李四", "--unit", "no-such-unit", "--role", "agency")
    assert refused.exit_code == output.REFUSED and "拒绝" in refused.output
    assert _log_size(cli_env) == size  # refused: nothing stored
    assert run("users", "deactivate", "nobody").exit_code == output.REFUSED

    (tmp_path / "a-file").write_text("")
    env = {**_cli_environment(cli_env), "CARELEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'a-file' / 'x.sqlite'}"}
    for args in (["verify", "--json"], ["users", "list"]):
        unopened = subprocess.run([sys.executable, "-m", "interfaces.cli.main", *args], capture_output=True,
                                  text=True, timeout=60, env=env, cwd=tmp_path)
        assert unopened.returncode == output.STORE and unopened.stdout == ""


def _log_size(settings) -> int:  # type: ignore[no-untyped-def]
    services = bootstrap.build(settings)
    try:
        return services.ledger.recorder.max_notification_id() or 0
    finally:
        services.close()


def _commands(group: typer.core.TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_every_commands_help_ends_with_the_exit_codes_of_the_readme_table() -> None:
    commands = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
    assert ("verify",) in commands and ("users", "list") in commands and ("export",) in commands
    for command in commands:
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, command
        assert "退出码" in shown.stdout, command
        for code, meaning in output.EXIT_CODES:
            assert f"{code} {meaning}" in shown.stdout, (command, code)
    readme = README.read_text()
    for code, meaning in output.EXIT_CODES:
        assert f"| {code} | {meaning} |" in readme, code
