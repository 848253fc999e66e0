"""Operating careledger: the follower process, /metrics, /readyz when PostgreSQL goes away,
several API workers, and backup → restore → verify. Real processes, real PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from infrastructure.settings import Settings
from infrastructure.view_runner import pull
from interfaces import bootstrap, demo_district
from interfaces.http.app import create_app
from projections.views import LedgerViews
from tests.backends import scratch_database, settings_for
from tests.district import District

CARELEDGER = str(Path(sys.executable).with_name("careledger"))
ROOT = Path(__file__).resolve().parents[2]


def poll(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Bounded polling: returns as soon as ``check()`` holds, fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    delay = 0.02
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(ROOT),
        "CARELEDGER_DATABASE_URL": settings.database_url,
        "CARELEDGER_DATABASE_SCHEMA": settings.database_schema,
        "CARELEDGER_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "CARELEDGER_DATA_KEY_FILE": str(settings.data_key_file),
        "CARELEDGER_IDEMPOTENCY_KEY_FILE": str(settings.idempotency_key_file),
        **extra,
    }


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


# ---- /metrics in one process ---------------------------------------------------------


def test_metrics_count_requests_by_route_commands_refusals_and_failed_sign_ins(services, district: District) -> None:  # type: ignore[no-untyped-def]
    app = create_app(services=services)
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as http:
        def scrape() -> str:
            answer = http.get("/metrics")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            return answer.text

        before = scrape()
        sup = {"Authorization": f"Bearer {district.tokens['supervisor']}"}
        plan = {"number": "东政办[2019]m号", "title": "方案", "issuer_unit": "bgs", "year": 2019}
        assert http.post("/api/v1/plans", json=plan, headers=sup).status_code == 201
        agency = {"Authorization": f"Bearer {district.tokens['pf-clerk']}"}
        assert http.post("/api/v1/plans", json={**plan, "number": "x"}, headers=agency).status_code == 403
        for _ in range(3):
            assert http.get("/api/v1/issues", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert http.get(f"/api/v1/issues/{'0' * 32}", headers=sup).status_code in (404, 422)
        after = scrape()

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("careledger_http_requests_total", route="/api/v1/plans", method="POST", status="201") == 1
    assert delta("careledger_http_requests_total", route="/api/v1/issues", method="GET", status="401") == 3
    # a route template, never a path with an id in it
    assert "0" * 32 not in after
    assert delta("careledger_commands_total", command="plans") == 1
    assert delta("careledger_failed_sign_ins_total") == 3
    refused = [line for line in after.splitlines() if line.startswith("careledger_commands_refused_total{")]
    assert refused and all('rule="' in line for line in refused)
    assert delta("careledger_commands_refused_total") == 1
    assert metric(after, "careledger_database_up") == 1
    assert metric(after, "careledger_view_lag_events") >= 0
    assert "careledger_tree_head_age_seconds" in after


def test_metrics_answer_only_private_networks(services) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(services=services), client=("203.0.113.9", 50000)) as http:
        hidden, absent = http.get("/metrics"), http.get("/no-such-path")
        assert hidden.status_code == 404
        assert hidden.json() == absent.json()  # outside its networks, /metrics is not there
    with TestClient(create_app(services=services), client=("10.1.2.3", 50000)) as http:
        assert http.get("/metrics").status_code == 200


# ---- the follower process ------------------------------------------------------------


def test_the_project_process_resumes_after_sigkill_without_counting_twice_and_stops_on_sigterm(
    backend: str, services, district: District, tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    if backend != "postgres":
        pytest.skip("a separate follower process is for PostgreSQL; SQLite serves and follows in one")
    import random

    from tests.integration.test_views import fresh_store, new_issue, play

    settings, ledger = services.settings, district.ledger
    rng = random.Random(11)
    for _ in range(6):
        play(district, new_issue(district), [(rng.choice(["adopt", "progress", "complete", "urge"]),
                                              rng.randint(0, 30), 0) for _ in range(40)], rng)
    last = ledger.recorder.max_notification_id()
    env = env_for(settings)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([CARELEDGER, "project"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, cwd=tmp_path)

    first = start()
    poll(lambda: services.merkle.store.progress().position > 0 or services.views.position() > 0, 60,
         "the first follower process to fold something in")
    first.send_signal(signal.SIGKILL)
    first.wait()
    reached = (services.views.position(), services.merkle.store.progress().position, services.audit.store.position())
    assert max(reached) > 0

    second = start()
    try:
        # The followers fold in batches now: the first process may have folded everything
        # before its SIGKILL, so the second is caught up at once; its SIGTERM must wait until
        # it has started (its handler is set by then), or it ends it as a bare signal would.
        started = threading.Thread(target=lambda: _read_until(second, b"followers_started"), daemon=True)
        started.start()
        started.join(timeout=60)
        assert not started.is_alive(), "the second follower process did not start"
        poll(lambda: services.merkle.store.progress().position == last
             and services.audit.store.position() == last and services.views.has_processed(last),
             60, "the second follower process to catch up")
        assert second.poll() is None
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            code = second.wait(timeout=30)
        finally:
            second.kill()
    assert code == 0, second.stderr.read().decode() if second.stderr else ""
    logs = second.stderr.read().decode() if second.stderr else ""
    assert "followers_stopping" in logs

    # views: exactly once, as a clean fold of the whole log
    clean = fresh_store(ledger, "clean")
    pull(ledger, LedgerViews(view=clean))
    assert services.views.summaries() == clean.all_summaries()
    # audit index: one row per event, none twice
    rows = services.audit.store.query(__import__("projections.audit_index", fromlist=["AuditFilter"])
                                      .AuditFilter(limit=100000))
    assert [r.position for r in rows] == sorted({n for n in range(1, last + 1)} & {r.position for r in rows})
    assert len(rows) == len({r.position for r in rows}) == last
    # Merkle log: every event a leaf once, and the whole log verifies
    verified = subprocess.run([CARELEDGER, "verify"], env=env, capture_output=True, cwd=tmp_path, timeout=120)
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


def _read_until(process: subprocess.Popen[bytes], mark: bytes) -> None:
    """Reads ``process``'s standard error until a line holding ``mark`` (or its end)."""
    assert process.stderr is not None
    for line in process.stderr:
        if mark in line:
            return


# ---- /readyz when PostgreSQL goes away -----------------------------------------------


def _pg_ctl(action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", action], check=True, timeout=60)


def _can_manage_postgres() -> bool:
    return shutil.which("pg_ctlcluster") is not None and os.geteuid() == 0


@pytest.mark.slow
def test_readyz_answers_503_while_the_database_server_is_stopped_and_200_when_it_returns(
    tmp_path: Path, postgres_database: str,
) -> None:
    """Stops the local server for well under a second: run alone, by `make crash-test`."""
    if not _can_manage_postgres():
        pytest.fail("needs root and pg_ctlcluster to stop the local PostgreSQL")
    services = bootstrap.build(settings_for("postgres", tmp_path, postgres_database, "public"))
    try:
        _readyz_follows_the_server(services)
    finally:
        services.close()


def _readyz_follows_the_server(services: bootstrap.Services) -> None:
    with TestClient(create_app(services=services), raise_server_exceptions=False) as http:
        assert http.get("/readyz").status_code == 200
        try:
            _pg_ctl("stop")
            answers: list[int] = []
            poll(lambda: answers.append(http.get("/readyz").status_code) or answers[-1] == 503, 30,
                 "/readyz to answer 503 with PostgreSQL stopped")
            assert http.get("/healthz").status_code == 200
        finally:
            _pg_ctl("start")
        poll(lambda: http.get("/readyz").status_code == 200, 60, "/readyz to answer 200 once PostgreSQL is back")


# ---- several API workers -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], cwd: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The server, logging to a file: with pipes nobody reads, about 300 requests' access log
    filled them (64 KiB), every worker blocked writing its log and requests stopped being
    answered (test_personal_reads makes that many)."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([CARELEDGER, "serve", "--port", str(port), *args], env=env, cwd=cwd,
                                   stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        poll(up, 90, "the server to answer")
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        finally:
            process.kill()


@contextmanager
def following(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([CARELEDGER, "project"], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            process.kill()


@pytest.mark.postgres
def test_metrics_sum_the_counts_of_every_worker(tmp_path: Path, postgres_database: str) -> None:
    with scratch_database() as url:
        settings = settings_for("postgres", tmp_path, url, "public")
        env = env_for(settings, CARELEDGER_FOLLOWERS="external", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
        with serving(env, tmp_path, "--workers", "2", "--demo") as (base, process), following(env, tmp_path):
            tokens = dict(line.split("=", 1) for line in (tmp_path / "var" / "demo-tokens.env").read_text().splitlines())
            sup = {"Authorization": f"Bearer {tokens['SUPERVISOR_TOKEN']}"}
            before = httpx.get(f"{base}/metrics", timeout=60).text
            n = 40
            # A new connection each time, so both workers answer some; a generous timeout, as
            # a loaded CI machine answers slowly, not wrongly.
            for _ in range(n):
                assert httpx.get(f"{base}/api/v1/issues", headers=sup, timeout=60).status_code == 200
                assert httpx.get(f"{base}/api/v1/issues", headers={"Authorization": "Bearer x"}, timeout=60).status_code == 401
            after = httpx.get(f"{base}/metrics", timeout=60).text
            again = httpx.get(f"{base}/metrics", timeout=60).text
        pids = {p.name.rsplit("_", 1)[-1].removesuffix(".db") for p in (tmp_path / "prom").glob("counter_*.db")}
    assert len(pids) >= 2, pids  # both workers counted into the shared directory
    for scrape in (after, again):  # whichever worker answers, it answers the sum
        got = metric(scrape, "careledger_http_requests_total", route="/api/v1/issues", method="GET", status="200") \
            - metric(before, "careledger_http_requests_total", route="/api/v1/issues", method="GET", status="200")
        assert got == n
        assert metric(scrape, "careledger_failed_sign_ins_total") - metric(before, "careledger_failed_sign_ins_total") == n


# ---- backup, restore, verify ---------------------------------------------------------


def answered(view: dict) -> dict:  # type: ignore[type-arg]
    """A view's answer without the moment it was asked."""
    return {k: v for k, v in view.items() if k != "as_of"}


@pytest.mark.postgres
def test_a_pg_dump_restored_into_another_database_verifies_and_answers_the_same_views(
    tmp_path: Path, postgres_database: str,
) -> None:
    with scratch_database() as original_url, scratch_database() as restored_url:
        original = settings_for("postgres", tmp_path, original_url, "public")
        services = bootstrap.build(original)
        try:
            demo_district.load(services)
            services.views.catch_up()
            services.audit.catch_up()
            head = services.merkle.catch_up()
            assert head is not None and head.tree_size > 0
            views_before = {name: answered(services.views.view(name, year=2019)) for name in ("supervision", "units", "evaluation", "ledger")}
        finally:
            services.close()
        dump = tmp_path / "careledger.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", original_url], check=True, timeout=120)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored_url}", str(dump)], check=True, timeout=120)

        restored = settings_for("postgres", tmp_path, restored_url, "public")
        verified = subprocess.run([CARELEDGER, "verify"], env=env_for(restored), capture_output=True,
                                  cwd=tmp_path, timeout=120)
        assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
        again = bootstrap.build(restored)
        try:
            views_after = {name: answered(again.views.view(name, year=2019)) for name in ("supervision", "units", "evaluation", "ledger")}
            assert views_after == views_before
            assert again.merkle.store.latest_head() == head
        finally:
            again.close()
        # and a change to the restored copy is caught
        with psycopg.connect(restored_url, autocommit=True) as conn:
            conn.execute("UPDATE careledger_events SET state = overlay(state placing '\\x20'::bytea from 5 for 1) "
                         "WHERE notification_id = 3")
        tampered = subprocess.run([CARELEDGER, "verify"], env=env_for(restored), capture_output=True,
                                  cwd=tmp_path, timeout=120)
        assert tampered.returncode == 1


# ---- rotating the signing key --------------------------------------------------------


def test_heads_signed_before_a_signing_key_rotation_verify_with_the_retired_public_key(
    settings, tmp_path: Path, clock,  # type: ignore[no-untyped-def]
) -> None:
    from tests.district import seed

    services = bootstrap.build(settings, clock=clock)
    try:
        district = seed(services)
        assert services.merkle.catch_up() is not None
        retired = tmp_path / "retired" / "signing-key-1.pem"
        retired.parent.mkdir()
        retired.write_text(services.signer.public_key_pem())
    finally:
        services.close()
    settings.signing_key_file.unlink()  # rotation: the next start makes a new key
    services = bootstrap.build(settings, clock=clock)
    try:
        services.issues.register_plan(district.cmd("supervisor"), number="P2", title="方案", issuer_unit="bgs", year=2020)
        newer = services.merkle.catch_up()
        assert newer is not None and services.signer.public_key_pem() != retired.read_text()
    finally:
        services.close()
    env = env_for(settings)
    without = subprocess.run([CARELEDGER, "verify"], env=env, capture_output=True, cwd=tmp_path, timeout=120)
    assert without.returncode == 1
    for given in (["--old-public-key", str(retired)], ["--old-public-key", str(retired.parent)]):
        with_old = subprocess.run([CARELEDGER, "verify", *given], env=env, capture_output=True, cwd=tmp_path, timeout=120)
        assert with_old.returncode == 0, with_old.stdout.decode() + with_old.stderr.decode()
    by_setting = subprocess.run([CARELEDGER, "verify"], capture_output=True, cwd=tmp_path, timeout=120,
                                env={**env, "CARELEDGER_RETIRED_PUBLIC_KEYS": json.dumps([str(retired)])})
    assert by_setting.returncode == 0
