"""The demo district served by uvicorn on a loopback port, and Debian's chromium driving it."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from infrastructure.settings import Settings
from interfaces import bootstrap, demo_district
from interfaces.http.app import create_app
from tests.backends import BACKENDS, scratch_schema, settings_for
from tests.serving import wait_until_healthy

CHROMIUM = Path(os.environ.get("CARELEDGER_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = os.environ.get("CARELEDGER_REQUIRE_BROWSER", "") not in ("", "0", "no")
# `make screenshots` points this at docs/screenshots; a test run writes to its own temporary folder.
SCREENSHOTS = os.environ.get("CARELEDGER_SCREENSHOTS", "")


def unavailable(reason: str) -> None:
    """In CI a browser that cannot start fails the run; elsewhere the tests skip."""
    if REQUIRE_BROWSER:
        pytest.fail(f"browser test cannot start: {reason}", pytrace=False)
    pytest.skip(f"browser test cannot start: {reason}")


@dataclass
class Demo:
    base_url: str
    tokens: dict[str, str]
    services: bootstrap.Services
    sign_ins: dict[str, str]  # {role}_user and {role}_password, as `serve --demo` prints them
    backend: str = "sqlite"


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo district served on each backend, once per test module: the PostgreSQL one in
    a schema of the run's own database (tests/conftest.py's ``postgres_database``, made and
    dropped by the run), dropped when the module's tests are done."""
    with ExitStack() as cleanup:
        folder = tmp_path_factory.mktemp("demo")
        if request.param == "sqlite":
            settings = settings_for("sqlite", folder, None, None)
        else:
            db_url = request.getfixturevalue("postgres_database")
            settings = settings_for("postgres", folder, db_url, cleanup.enter_context(scratch_schema(db_url)))
        yield from _served(settings, str(request.param))


def _served(settings: Settings, backend: str) -> Iterator[Demo]:
    services = bootstrap.build(settings)
    tokens = demo_district.load(services)
    sign_ins = demo_district.sign_ins(services.accounts)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))  # a free port, held from here on: no race with another process
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, thread.is_alive)
        yield Demo(base_url, tokens, services, sign_ins, backend)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()
        services.close()


# One chromium for the whole run: each module's demo is served twice (once per backend), the
# browser need not start again for each.
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (make browser installs it as root)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        except Error as error:
            unavailable(str(error).splitlines()[0])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN",
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., None]:
    """Saves a page as ``{name}.png``: into docs/screenshots only for `make screenshots`, so
    that a test run leaves the tracked files alone."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str, *, full_page: bool = True) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
        assert (folder / f"{name}.png").stat().st_size > 0

    return save
