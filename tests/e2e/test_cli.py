"""The command line against a real store: units, users, verify catching a changed byte, export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import openpyxl
import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from infrastructure.database_probe import postgres_conninfo
from interfaces.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_env(settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CARELEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CARELEDGER_DATABASE_SCHEMA", settings.database_schema)
    monkeypatch.setenv("CARELEDGER_SIGNING_KEY_FILE", str(settings.signing_key_file))
    monkeypatch.setenv("CARELEDGER_DATA_KEY_FILE", str(settings.data_key_file))
    monkeypatch.setenv("CARELEDGER_IDEMPOTENCY_KEY_FILE", str(settings.idempotency_key_file))
    monkeypatch.setenv("CARELEDGER_EVIDENCE_DIR", str(settings.evidence_dir))
    return settings


def flip_a_byte_of_the_third_event(settings) -> None:  # type: ignore[no-untyped-def]
    if settings.is_postgres:
        table = sql.Identifier(settings.database_schema, "careledger_events")
        with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
            conn.execute(sql.SQL("UPDATE {} SET state = overlay(state placing '\\x20'::bytea from 5 for 1) "
                                 "WHERE notification_id = 3").format(table))
        return
    path = settings.eventsourcing_env()["SQLITE_DBNAME"]
    with sqlite3.connect(path) as conn:
        state = conn.execute("SELECT state FROM stored_events WHERE rowid = 3").fetchone()[0]
        changed = state[:4] + bytes([state[4] ^ 0x01]) + state[5:]
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 3", (changed,))


def test_units_users_then_verify_catches_a_changed_byte(cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(app, ["units", "add", "pf", "普法和依法治理科"]).exit_code == 0
    assert runner.invoke(app, ["units", "add", "sfs-a", "甲司法所", "--group", "司法所"]).exit_code == 0
    again = runner.invoke(app, ["units", "add", "pf", "普法和依法治理科"])
    assert again.exit_code == 0, again.output
    added = runner.invoke(app, ["users", "add", "张三", "--unit", "pf", "--role", "agency"])
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert len(token) >= 22 and " " not in token
    assert runner.invoke(app, ["users", "add", "李四", "--unit", "nope", "--role", "agency"]).exit_code == 4

    from interfaces import bootstrap

    services = bootstrap.build(cli_env)
    try:
        services.merkle.catch_up()
    finally:
        services.close()
    intact = runner.invoke(app, ["verify"])
    assert intact.exit_code == 0, intact.output
    assert "完好" in intact.output

    out = tmp_path / "units.xlsx"
    assert runner.invoke(app, ["export", "units", "--out", str(out)]).exit_code == 0
    assert openpyxl.load_workbook(out).active.max_row >= 1

    flip_a_byte_of_the_third_event(cli_env)
    tampered = runner.invoke(app, ["verify"])
    assert tampered.exit_code == 1, tampered.output
    assert "位置 3" in tampered.output


def test_demo_generate_writes_a_district_history_into_an_empty_store_only(cli_env, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from interfaces.bootstrap import build

    monkeypatch.chdir(tmp_path)  # PostgreSQL's tokens file goes to ./var
    made = runner.invoke(app, ["demo", "--generate", "400"])
    assert made.exit_code == 0, made.output
    services = build(cli_env)
    try:
        ledger = services.ledger
        written = ledger.recorder.max_notification_id()
        assert written is not None and written >= 400
        assert len(services.issues.issue_ids()) > 0
        tokens_file = (tmp_path / "var" if cli_env.is_postgres
                       else tmp_path.joinpath(cli_env.database_url.removeprefix("sqlite:///")).parent) / "demo-tokens.env"
        tokens = dict(line.split("=", 1) for line in tokens_file.read_text().splitlines())
        assert services.identity.authenticate(tokens["SUPERVISOR_TOKEN"]).role == "supervisor"
        assert services.identity.authenticate(tokens["INSPECTOR_TOKEN"]).role == "inspector"

        again = runner.invoke(app, ["demo", "--generate", "400"])
        assert again.exit_code == 4  # refused: the store is not empty
        assert ledger.recorder.max_notification_id() == written
    finally:
        services.close()


def test_export_as_a_user_holds_that_users_rows_and_the_operator_exports_every_row(  # type: ignore[no-untyped-def]
    cli_env, tmp_path
) -> None:
    from domain.plan import plan_id
    from interfaces import bootstrap
    from tests.district import seed

    services = bootstrap.build(cli_env)
    try:
        district = seed(services)
        cmd = district.cmd
        district.issues.register_plan(cmd("supervisor"), number="东政办[2019]6号", title="方案", issuer_unit="bgs", year=2019)
        mine = district.issues.register_issue(cmd("supervisor"), plan=plan_id("东政办[2019]6号"), seq=1, duty="职责",
                                     problem="普法有待加强", units=["pf"]).id
        other = district.issues.register_issue(cmd("supervisor"), plan=plan_id("东政办[2019]6号"), seq=2, duty="职责",
                                      problem="援助机制待完善", units=["gf"]).id
    finally:
        services.close()

    def exported(*extra: str) -> str:
        out = tmp_path / "supervision.xlsx"
        answer = runner.invoke(app, ["export", "supervision", "--out", str(out), *extra])
        assert answer.exit_code == 0, answer.output
        book = openpyxl.load_workbook(out, read_only=True)
        return "\n".join(str(c) for s in book.worksheets for r in s.iter_rows(values_only=True) for c in r if c)

    everything = exported()
    assert str(mine) in everything and str(other) in everything
    as_pf = exported("--as", "pf-clerk")
    assert str(mine) in as_pf and str(other) not in as_pf
    for refused in ("admin", "nobody"):
        answer = runner.invoke(app, ["export", "supervision", "--out", str(tmp_path / "x.xlsx"), "--as", refused])
        assert answer.exit_code == 4 and not (tmp_path / "x.xlsx").exists(), answer.output


def test_export_without_out_writes_a_file_named_for_the_view_year_and_beijing_day(  # type: ignore[no-untyped-def]
    cli_env, tmp_path, monkeypatch
) -> None:
    from datetime import datetime, timezone

    from projections.indicators import day_of

    monkeypatch.chdir(tmp_path)
    before = day_of(datetime.now(timezone.utc))
    answer = runner.invoke(app, ["export", "evaluation", "--year", "2019"])
    after = day_of(datetime.now(timezone.utc))
    assert answer.exit_code == 0, answer.output
    written = sorted(p.name for p in tmp_path.glob("*.xlsx"))
    assert written in ([f"年终考核_2019_{before}.xlsx"], [f"年终考核_2019_{after}.xlsx"])
    assert openpyxl.load_workbook(tmp_path / written[0]).active.max_row >= 1


def test_districts_add_on_sqlite_refuses_and_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'db' / 'careledger.sqlite'}")
    monkeypatch.setenv("CARELEDGER_SIGNING_KEY_FILE", str(tmp_path / "keys" / "signing-key.pem"))
    answer = runner.invoke(app, ["districts", "add", "420112", "东西湖区"])
    assert answer.exit_code == 4
    assert "SQLite" in answer.output and "PostgreSQL" in answer.output
    assert list(tmp_path.iterdir()) == []
