"""A deployment of several districts holds one process's connections, not a set per district
(infrastructure.shared_pools): one pool for every schema's tables, one for the case keys,
one listening connection waking each district's views follower by its own notices
(infrastructure.notice_hub). PostgreSQL only by nature: SQLite serves one district."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.read_policy import EVERYTHING
from infrastructure.notice_hub import NoticeHub
from infrastructure.settings import Settings
from infrastructure.shared_pools import CASE_KEY_POOL, OVERFLOW
from interfaces.deployment import Deployment, add_district, build_deployment
from interfaces.http.app import create_app
from tests.backends import require_postgres, scratch_database, scratch_schema, settings_for
from tests.district import START, Clock, seed

pytestmark = pytest.mark.postgres

CODES = {"420112": "东西湖区", "420113": "汉南区", "420114": "蔡甸区"}
POOL_SIZE = 2
# A bound, not a hope: the follower's interval is longer than any test's wait.
FOLLOWER_INTERVAL = 600.0
WAIT = 10.0


@dataclass
class Served:
    settings: Settings
    url: str
    deployment: Deployment
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    require_postgres()
    with scratch_database() as url, scratch_schema(url) as schema:
        settings = settings_for("postgres", tmp_path_factory.mktemp("shared"), url, schema).model_copy(
            update={"pool_size": POOL_SIZE})
        for code, name in CODES.items():
            add_district(settings, code, name)
        deployment = build_deployment(settings, clock=Clock(START))
        try:
            tokens = {code: seed(deployment.districts[code]).tokens["supervisor"] for code in CODES}
            for services in deployment.every():
                services.views.start(interval=FOLLOWER_INTERVAL)
            yield Served(settings, url, deployment, tokens)
        finally:
            deployment.close()


def _backends(url: str) -> list[str]:
    """The application names of the connections to this test's own database, but this one."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT application_name FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    return [row[0] for row in rows]


def _until(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    """``check()`` asked again until it holds or ``timeout`` passes: a bounded wait on a
    condition another thread makes true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def test_three_districts_served_hold_one_processs_connections(served: Served) -> None:
    deployment = served.deployment
    with TestClient(create_app(deployment=deployment), raise_server_exceptions=False) as client:
        for code, token in served.tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            plan = client.post("/api/v1/plans", headers=headers, json={
                "number": f"{CODES[code]}政办[2019]6号", "title": "实施方案", "issuer_unit": "bgs", "year": 2019})
            assert plan.status_code == 201, plan.text
            assert client.get("/api/v1/issues", headers=headers).status_code == 200
            assert client.get("/api/v1/views/supervision", headers=headers).status_code == 200
    held = _backends(served.url)
    # Four stores (the province and three districts) held about five connections each before.
    most = POOL_SIZE + OVERFLOW + CASE_KEY_POOL[1] + 1
    assert 0 < len(held) <= most, held
    assert len(held) < 4 * 3
    assert held.count("careledger-notices") == 1, held


def test_a_districts_write_wakes_its_own_follower_by_its_notice(served: Served) -> None:
    hub = served.deployment.shared.notices if served.deployment.shared else None
    assert hub is not None
    assert _until(lambda: hub.listening() == len(served.deployment.every()))
    district = served.deployment.districts["420113"]
    headers = {"Authorization": f"Bearer {served.tokens['420113']}"}
    with TestClient(create_app(deployment=served.deployment), raise_server_exceptions=False) as client:
        for round_ in range(2):
            plan = client.post("/api/v1/plans", headers=headers, json={
                "number": f"汉南区政办[2020]{round_ + 1}号", "title": "实施方案", "issuer_unit": "bgs", "year": 2020})
            assert plan.status_code == 201, plan.text
            written = district.ledger.recorder.max_notification_id()
            assert written is not None
            # No pull here, and the follower's interval is ten minutes: only the notice wakes it.
            assert _until(lambda w=written: district.views.position() >= w), (district.views.position(), written)
            assert any(b["id"] == plan.json()["id"] for b in district.views.briefs(kinds=("plan",)))


def test_a_notice_wakes_only_the_follower_of_the_schema_it_names(served: Served) -> None:
    hub = NoticeHub(served.url)
    stopping = threading.Event()
    wakes = {schema: threading.Event() for schema in ("da", "db", "dc")}
    failures: list[BaseException] = []
    try:
        for schema, wake in wakes.items():
            hub.subscribe("hub_test", schema, wake, stopping, failures.append)
        assert _until(lambda: hub.listening() == 3)
        assert all(wake.wait(WAIT) for wake in wakes.values())  # each woken once it listens
        for wake in wakes.values():
            wake.clear()
        with psycopg.connect(served.url, autocommit=True) as conn:
            conn.execute("NOTIFY hub_test, 'da'")
            conn.execute("NOTIFY hub_test, 'dc'")
        # Notices arrive in the order sent: dc's woken means da's was delivered before it.
        assert wakes["dc"].wait(WAIT)
        assert wakes["da"].is_set()
        assert not wakes["db"].is_set()
        assert not failures
    finally:
        stopping.set()
        hub.close()


def test_a_lost_listening_connection_is_reported_to_every_follower(served: Served) -> None:
    hub = NoticeHub(served.url)
    stopping = threading.Event()
    failures: list[BaseException] = []
    try:
        for schema in ("da", "db"):
            hub.subscribe("hub_lost", schema, threading.Event(), stopping, failures.append)
        assert _until(lambda: hub.listening() == 2)
        with psycopg.connect(served.url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND pid <> pg_backend_pid() AND query LIKE 'LISTEN \"hub_lost\"%'")
        assert _until(lambda: len(failures) == 2), failures
        assert all(isinstance(error, psycopg.OperationalError) for error in failures)
        # Subscribed again (a follower that retries), it listens on a new connection.
        hub.subscribe("hub_lost", "da", threading.Event(), stopping, failures.append)
        assert _until(lambda: hub.listening() == 1)
    finally:
        stopping.set()
        hub.close()


def test_with_a_standby_every_district_reads_it_through_one_pool(served: Served) -> None:
    with TestClient(create_app(deployment=served.deployment), raise_server_exceptions=False) as client:
        for code, token in served.tokens.items():
            plan = client.post("/api/v1/plans", headers={"Authorization": f"Bearer {token}"}, json={
                "number": f"{CODES[code]}政办[2021]1号", "title": "实施方案", "issuer_unit": "bgs", "year": 2021})
            assert plan.status_code == 201, plan.text
            primary = served.deployment.districts[code]
            primary.views.wait_for(primary.ledger.recorder.max_notification_id())
    # The primary stands in for the standby: what is shared is the pool, whatever it reaches.
    settings = served.settings.model_copy(update={"read_database_url": served.url})
    deployment = build_deployment(settings, clock=Clock(START))
    try:
        shared = deployment.shared
        assert shared is not None and shared.replica is not None
        routers = [s.read_replica for s in deployment.every()]
        assert all(r is not None and r.datastore.pool._pool is shared.replica for r in routers)  # type: ignore[attr-defined]
        for code, services in deployment.districts.items():
            plans = services.views.readable_briefs(EVERYTHING, ("plan",))
            assert f"{CODES[code]}政办[2021]1号" in {b["number"] for b in plans}
            assert all(CODES[code] in b["number"] for b in plans)
            assert services.read_replica is not None and services.read_replica.reads["replica"] >= 1
    finally:
        deployment.close()
    assert shared.replica.closed
