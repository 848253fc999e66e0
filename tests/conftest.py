from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from interfaces import bootstrap
from interfaces.http.app import create_app
from tests.backends import BACKENDS, REQUIRE_POSTGRES, require_postgres, scratch_database, scratch_schema, settings_for
from tests.district import START, Clock, District, seed


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    require_postgres()
    with scratch_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    if backend == "sqlite":
        yield settings_for("sqlite", tmp_path, None, None)
        return
    db_url = request.getfixturevalue("postgres_database")
    with scratch_schema(db_url) as schema:
        yield settings_for("postgres", tmp_path, db_url, schema)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def services(settings, clock: Clock) -> Iterator[bootstrap.Services]:  # type: ignore[no-untyped-def]
    with closing(bootstrap.build(settings, clock=clock)) as built:
        yield built


@pytest.fixture
def ledger(services: bootstrap.Services):  # type: ignore[no-untyped-def]
    return services.ledger


@pytest.fixture
def district(services: bootstrap.Services) -> District:
    return seed(services)


@pytest.fixture
def client(services: bootstrap.Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services), raise_server_exceptions=False) as test_client:
        yield test_client


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a PostgreSQL test that skips is a failure."""
    if not REQUIRE_POSTGRES:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if any("postgres" in getattr(r, "nodeid", "") for r in skipped):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def other_worker(settings, clock: Clock) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A second worker: its own application, caches and connections, on the same database."""
    built = bootstrap.build(settings, clock=clock)
    try:
        with TestClient(create_app(services=built), raise_server_exceptions=False) as other:
            yield other
    finally:
        built.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests run only when asked for by name (`-m slow`, as `make crash-test` does): some
    stop the shared PostgreSQL server, which a test run of one file must never do by surprise."""
    if "slow" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow (make crash-test)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
