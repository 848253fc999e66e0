"""Access from the command line: the first admin, passwords from standard input, users and
tokens listed without secrets, revoked and deactivated; the demo's 0600 token file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from application.errors import Unauthenticated
from domain.registry import Token, token_digest, user_id
from interfaces import bootstrap
from interfaces.cli.main import _keep_tokens, app
from tests.e2e.test_cli import cli_env  # noqa: F401 — the fixture

runner = CliRunner()


def test_admin_create_then_users_and_tokens_are_managed_from_the_command_line(cli_env) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    made = runner.invoke(app, ["admin", "create", "首任管理员"])
    assert made.exit_code == 0, made.output
    lines = made.output.strip().splitlines()
    password, token = lines[-2].removeprefix("密码: "), lines[-1]
    assert runner.invoke(app, ["admin", "create", "首任管理员"]).exit_code == 4  # the name is taken

    services = bootstrap.build(cli_env)
    try:
        admin = services.accounts.authenticate(token)
        assert (admin.role, admin.unit) == ("admin", "admin")
        assert services.sessions.sign_in("首任管理员", password, "127.0.0.1").actor.name == "首任管理员"
    finally:
        services.close()

    assert runner.invoke(app, ["users", "add", "张三", "--unit", "admin", "--role", "agency"]).exit_code == 0
    set_password = runner.invoke(app, ["users", "set-password", "张三"], input="a long enough password\n")
    assert set_password.exit_code == 0, set_password.output
    assert runner.invoke(app, ["users", "set-password", "张三"], input="short\n").exit_code == 4
    assert runner.invoke(app, ["users", "change", "张三", "--role", "inspector"]).exit_code == 0
    assert runner.invoke(app, ["users", "change", "张三", "--unit", "nowhere"]).exit_code == 4
    listed = runner.invoke(app, ["users", "list"], terminal_width=200)
    assert listed.exit_code == 0 and "张三" in listed.output and "首任管理员" in listed.output
    assert "inspector" in listed.output

    tokens = runner.invoke(app, ["tokens", "list", "--user", "首任管理员"], terminal_width=200)
    assert tokens.exit_code == 0, tokens.output
    assert token not in tokens.output
    issued = runner.invoke(app, ["tokens", "issue", "张三"])
    assert issued.exit_code == 0, issued.output
    second = issued.output.strip().splitlines()[-1]

    services = bootstrap.build(cli_env)
    try:
        assert services.sessions.sign_in("张三", "a long enough password", "127.0.0.1").actor.name == "张三"
        assert services.accounts.authenticate(second).name == "张三"
    finally:
        services.close()

    revoked = runner.invoke(app, ["tokens", "revoke", str(Token.create_id(digest=token_digest(second)))])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(app, ["tokens", "revoke", "not-a-uuid"]).exit_code == 2
    assert runner.invoke(app, ["users", "deactivate", "首任管理员"]).exit_code == 0
    services = bootstrap.build(cli_env)
    try:
        for dead in (second, token):
            with pytest.raises(Unauthenticated):
                services.accounts.authenticate(dead)
        assert not next(u for u in services.accounts.users(admin) if u["user_id"] == user_id("首任管理员"))["active"]
    finally:
        services.close()
    assert runner.invoke(app, ["users", "activate", "首任管理员"]).exit_code == 0


def test_the_demo_token_file_is_made_0600_before_anything_is_written(tmp_path: Path) -> None:
    kept = tmp_path / "var" / "demo-tokens.env"
    kept.parent.mkdir()
    kept.write_text("left by someone else\n")
    kept.chmod(0o644)
    _keep_tokens(kept, {"supervisor_token": "secret"})
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_text() == "SUPERVISOR_TOKEN=secret\n"


def test_a_refused_admin_create_stores_nothing_not_even_the_admin_unit(cli_env) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    services = bootstrap.build(cli_env)
    try:
        before = services.ledger.recorder.max_notification_id()
    finally:
        services.close()
    refused = runner.invoke(app, ["admin", "create", " "])
    assert refused.exit_code == 4, refused.output
    services = bootstrap.build(cli_env)
    try:
        assert services.ledger.recorder.max_notification_id() == before
    finally:
        services.close()
