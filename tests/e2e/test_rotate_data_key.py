"""Rotating the data master key: every case still opens with the new key, none with the old."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from infrastructure.case_keys import MasterKeyError
from interfaces import bootstrap
from interfaces.cli.main import app
from tests.application.test_child_cases import NAME, valid_id
from tests.district import seed
from tests.e2e.test_cli import cli_env  # noqa: F401 — the fixture


def test_rotate_data_key_rewraps_every_case_key(cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = bootstrap.build(cli_env)
    try:
        district = seed(services)
        cases = [services.cases.register_case(
            district.cmd("cq-clerk"), street="s", community="c", household_local=True,
            birth_date=date(2012, 5, 15), person={"name": NAME, "id_number": valid_id()}).id for _ in range(3)]
    finally:
        services.close()
    old = cli_env.data_key_file.read_bytes()

    result = CliRunner().invoke(app, ["rotate-data-key"])
    assert result.exit_code == 0, result.output
    assert "3" in result.output
    assert cli_env.data_key_file.read_bytes() != old
    assert oct(cli_env.data_key_file.stat().st_mode & 0o777) == "0o600"

    services = bootstrap.build(cli_env)
    try:
        supervisor = services.identity.authenticate(district.tokens["supervisor"])
        for case in cases:
            _, personal = services.cases.read_case(supervisor, case, endpoint="test")
            assert personal is not None and personal["person"]["name"] == NAME
    finally:
        services.close()

    cli_env.data_key_file.write_bytes(old)
    services = bootstrap.build(cli_env)
    try:
        with pytest.raises(MasterKeyError):
            services.case_keys.get(cases[0])
    finally:
        services.close()
