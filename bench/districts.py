"""Many districts on one server (issue 21, item 4): N districts × M issues with their history
in one PostgreSQL database, served by one process.

    .venv/bin/python -m bench.districts                                      # 3 districts × 50 issues
    .venv/bin/python -m bench.districts --districts 20 --issues 1000         # issue 21's size

Makes a scratch database, registers N districts (`careledger districts add`'s
interfaces.deployment.add_district: a schema and key files each), fills each with
bench.generate's district until it holds M issues (cases come with them), and folds each
district's views, Merkle log and audit index. Then serves the whole deployment from one
uvicorn process with its followers (as `make run`), a supervisor signed in in every district,
and measures: district 1's pages, quiet; urgings over HTTP from ``--clients`` clients, all to
district 1, then spread over every district; district 1's pages while the writes are spread;
and the database connections the deployment holds. With the roll-up built
(infrastructure.rollup), its follower's catch-up over every district from nothing too.
Appends to docs/BENCHMARKS.md under "Districts on one server" (``--no-record``: print only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from application.commands import SYSTEM, Command
from bench.common import PG_ADMIN, append_under, progress
from bench.pages import generated_pages, load, machine
from bench.replica import Urgings, listening_on, pages_timed
from infrastructure.settings import Settings
from interfaces.deployment import Deployment, add_district, build_deployment
from interfaces.district_generator import DistrictGenerator
from interfaces.http.app import create_app
from tests.standby import own_server

HEADING = "## Districts on one server"


@contextmanager
def scratch_database(own: bool) -> Iterator[tuple[str, str]]:
    """A database (its URL, and a conninfo to ask its server about connections): on the shared
    server, or, with ``own``, on a server of its own allowed 400 connections."""
    name = f"bench_districts_{int(time.time())}"
    with own_server("-c max_connections=400") if own else nullcontext() as server:
        admin = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres" if server else PG_ADMIN
        url = server.url(name) if server else f"postgresql://postgres@127.0.0.1:5432/{name}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url, admin
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(settings: Settings, codes: list[str], issues: int) -> dict[str, int]:
    """Each district generated until it holds ``issues`` issues, and folded; its events."""
    for code in codes:
        add_district(settings, code, f"测速区{code[-2:]}")
    deployment = build_deployment(settings)
    events: dict[str, int] = {}
    try:
        for code in codes:
            services = deployment.districts[code]
            gen = DistrictGenerator(services, batch=100)
            while len(gen.issue_ids) < issues:
                gen.extend(gen.written + 2_000)
            services.views.catch_up()
            services.merkle.catch_up()
            services.audit.catch_up()
            events[code] = services.ledger.recorder.max_notification_id() or 0
            progress(f"{code}: {events[code]:,} events, {len(gen.issue_ids):,} issues, {len(gen.case_ids):,} cases")
    finally:
        deployment.close()
    return events


def connections(admin: str, url: str) -> int:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                           (url.rsplit("/", 1)[1],)).fetchone()
    return int(row[0]) if row else 0


def open_issues(deployment: Deployment, code: str) -> list[dict[str, Any]]:
    views = deployment.districts[code].views
    return [b for b in views.briefs(kinds=("issue",)) if not b["closed"] and b["units"]][:200]


def rollup_catch_up(deployment: Deployment) -> tuple[float, int] | None:
    """The roll-up follower over every district from nothing: seconds and positions; None
    where the roll-up is not built."""
    try:
        from infrastructure.rollup import DistrictLog, RollupFollower
        from infrastructure.rollup_store import RollupStore
    except ImportError:
        return None
    store = RollupStore(deployment.province.ledger.recorder.datastore)  # type: ignore[attr-defined]
    store.create_tables()
    logs = {code: DistrictLog.of(s.ledger) for code, s in deployment.districts.items()}
    for code in logs:
        store.forget(code)
    start = time.perf_counter()
    RollupFollower(store, logs).catch_up()
    positions = sum(s.ledger.recorder.max_notification_id() or 0 for s in deployment.districts.values())
    return time.perf_counter() - start, positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=3)
    parser.add_argument("--issues", type=int, default=50, help="issues per district")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each write load runs")
    parser.add_argument("--own-server", action="store_true",
                        help="a PostgreSQL server of its own (root), allowed 400 connections: 20 districts hold more than the shared server's 100")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    codes = [f"4201{i:02d}" for i in range(1, args.districts + 1)]
    with tempfile.TemporaryDirectory(prefix="careledger-districts-") as keys, scratch_database(args.own_server) as (url, admin):
        settings = Settings(database_url=url, pool_size=2,
                            signing_key_file=Path(keys) / "signing-key.pem", data_key_file=Path(keys) / "data-key",
                            idempotency_key_file=Path(keys) / "idempotency-key", evidence_dir=Path(keys) / "evidence",
                            request_deadline_seconds=900)
        started = time.perf_counter()
        events = fill(settings, codes, args.issues)
        filled = time.perf_counter() - started
        deployment = build_deployment(settings)
        try:
            targets = []
            for code in codes:
                token = deployment.districts[code].accounts.add_user(
                    Command(SYSTEM), name=f"督查督办-测速-{code}", unit="dxh-bgs", role="supervisor").token
                targets.append((token, open_issues(deployment, code)))
            deployment.start_followers()
            first = deployment.districts[codes[0]]
            paths = [(label, path) for label, path in generated_pages(first)
                     if not path.endswith(".xlsx") and "/replay" not in path]
            with listening_on(create_app(deployment=deployment)) as base:
                held = connections(admin, url)
                quiet, _ = pages_timed(base, targets[0][0], paths, args.requests)
                with Urgings(base, targets[:1], args.clients) as one:
                    time.sleep(args.seconds)  # the write load's duration, measured by Urgings itself
                with Urgings(base, targets, args.clients) as spread:
                    busy, refused = pages_timed(base, targets[0][0], paths, args.requests)
                busiest = connections(admin, url)
            caught = rollup_catch_up(deployment)
        finally:
            deployment.close()
    text = record(args, events, filled, quiet, busy, refused, one.figures(), spread.figures(), held, busiest, caught)
    print(text)
    if not args.no_record:
        append_under(HEADING, "Run by `bench/districts.py` (issue 21): one deployment, many districts, one server.", text)


def record(args: argparse.Namespace, events: dict[str, int], filled: float, quiet: list[Any], busy: list[Any],
           refused: int, one: tuple[float, float, int], spread: tuple[float, float, int], held: int, busiest: int,
           caught: tuple[float, int] | None) -> str:
    total = sum(events.values())
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `.venv/bin/python -m bench.districts --districts {args.districts} --issues {args.issues} "
        f"--requests {args.requests} --clients {args.clients} --seconds {args.seconds:g}"
        f"{' --own-server' if args.own_server else ''}` ({'a PostgreSQL 15 server of its own' if args.own_server else 'the shared PostgreSQL 15'}; "
        f"{args.districts} districts, {total:,} events in all, {min(events.values()):,}–{max(events.values()):,} a "
        f"district; generated and folded in {filled:,.0f} s; one uvicorn process serving every district, its "
        "followers in it, `CARELEDGER_POOL_SIZE=2`: the one pool its districts share, infrastructure/shared_pools.py).",
        f"Machine: {machine()}; load average {load()} at the end.",
        "",
        "| district 1's page | path | median / p99 ms, quiet | median / p99 ms, writes spread over every district |",
        "|---|---|---:|---:|",
        *(f"| {q[0]} | `{q[1]}` | {q[2]:.0f} / {q[4]:.0f} | {b[2]:.0f} / {b[4]:.0f} |" for q, b in zip(quiet, busy, strict=True)),
        "",
        f"| urgings over HTTP, {args.clients} clients | per second | p99 ms | refused |",
        "|---|---:|---:|---:|",
        f"| all to district 1 ({args.seconds:g} s) | {one[0]:.0f} | {one[1]:.0f} | {one[2]} |",
        f"| spread over the {args.districts} districts (while district 1's pages are read) | {spread[0]:.0f} | {spread[1]:.0f} | {spread[2]} |",
        "",
        f"Pages answered other than 200 under the spread writes: {refused} of {len(busy) * args.requests}. "
        f"Database connections held by the serving process: {held} once started, {busiest} after the writes "
        f"(max_connections {400 if args.own_server else 100}).",
    ]
    if caught is not None:
        seconds, positions = caught
        lines += ["", f"Roll-up follower over every district from nothing: {positions:,} positions in "
                  f"{seconds:.1f} s, {positions / seconds:,.0f} positions/s."]
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    main()
