"""docker-compose.yml and the Dockerfile say what the code and the README say: every command a
service runs is a `careledger` command with options it has, every CARELEDGER_ variable is a
setting, and the services run the README's "Operations" commands, in order, with no pip."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main
import yaml

from infrastructure.settings import Settings
from interfaces.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
CARELEDGER = ("migrate", "api", "runner")
README = (ROOT / "README.md").read_text()


def dockerfile(instruction: str) -> list[str]:
    return re.findall(rf"^{instruction} (.+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]


def test_every_service_runs_a_careledger_command_the_cli_has_with_options_it_takes() -> None:
    assert dockerfile("ENTRYPOINT") == ['["careledger"]']
    cli = typer.main.get_command(app)  # a group (typer's own click)
    for name in CARELEDGER:
        command, *args = SERVICES[name]["command"]
        with cli.make_context("careledger", [command, *args]) as group:
            sub = cli.get_command(group, command)
            assert sub is not None, f"{name}: careledger has no command {command}"
            sub.make_context(command, list(args))  # raises on an option or argument it lacks
    assert [SERVICES[name]["command"][0] for name in CARELEDGER] == ["migrate", "serve", "project"]


def test_every_careledger_variable_is_a_setting_and_the_settings_are_the_readmes() -> None:
    fields = Settings.model_fields
    for name in CARELEDGER:
        environment = SERVICES[name]["environment"]
        ours = {key for key in environment if key.startswith("CARELEDGER_")}
        assert ours and all(key.removeprefix("CARELEDGER_").lower() in fields for key in ours), ours
        # the README's exports for the three processes, with the same values
        for key, value in re.findall(r"(CARELEDGER_(?:FOLLOWERS|CREATE_TABLES))=(\S+)", "\n".join(readme_commands())):
            assert str(environment[key]) == value, (name, key)
        keys = {Path(environment[f"CARELEDGER_{k}_FILE"]).parent for k in ("SIGNING_KEY", "DATA_KEY", "IDEMPOTENCY_KEY")}
        assert keys == {Path("/keys")} and "keys:/keys" in SERVICES[name]["volumes"]
        # the evidence directory's default, ./var/evidence, from the image's working directory
        assert f"evidence:{dockerfile('WORKDIR')[-1]}/var/evidence" in SERVICES[name]["volumes"]
    assert set(COMPOSE["volumes"]) == {"pgdata", "keys", "evidence"}


def test_the_services_run_the_readmes_operations_commands_in_order_and_install_nothing() -> None:
    commands = readme_commands()
    for name in CARELEDGER:
        line = "careledger " + shlex.join(SERVICES[name]["command"])
        assert line in commands, f"{name}: {line} is not in the README"
        assert "pip" not in line
    # the tables first, once; the API and the runner only after it completed
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("api", "runner"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert SERVICES[name]["environment"]["CARELEDGER_CREATE_TABLES"] == "false"
    assert SERVICES["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert "--workers" in SERVICES["api"]["command"] and SERVICES["api"]["command"][-1] == "2"
    assert "/healthz" in " ".join(SERVICES["api"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(SERVICES["runner"]["healthcheck"]["test"])
    # the image installs careledger from its own wheels at build time, without an index
    assert "pip install --no-cache-dir --no-index --find-links /wheels careledger" in (ROOT / "Dockerfile").read_text()
    assert commands[:2] == ["make run", "make test"]
