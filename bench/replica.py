"""Pages and HTTP writes with and without a read replica (issue 21, item 4).

    .venv/bin/python bench/replica.py [--events 50000] [--requests 20] [--clients 4] [--no-record]

Starts its own PostgreSQL 15 primary and streaming standby (tests/standby.py: root and the
PostgreSQL binaries; the shared server's pg_hba has no replication line), fills the primary
with bench.generate's district (50,000 events: about a thousand issues and cases with their
history), folds its views, Merkle log and audit index, and waits for the standby to replay
it. Then it serves that database twice, one uvicorn process each time (the followers in it,
as `make run` has them): reading from the primary alone, and with
CARELEDGER_READ_DATABASE_URL naming the standby. Each time: every page's median and p99
with nothing else running; the same pages while ``--clients`` supervisors post urgings
through the API; and those urgings' rate and p99. Where the replica's reads went (standby,
behind → primary, down → primary) comes from the read router's own counts.

On one machine the standby shares the CPUs and the disk with the primary, so this measures
what routing costs and what read-your-writes falls back to, not capacity gained: a standby
on its own machine takes its reads off the primary's CPUs.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from application.commands import SYSTEM, Command
from bench.common import percentile
from bench.pages import Result, generated_pages, load, machine
from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.district_generator import DistrictGenerator
from interfaces.http.app import create_app
from tests.standby import Pair, primary_and_standby, unavailable

HEADING = "## Read replica"
RECORD = ROOT / "docs" / "BENCHMARKS.md"


def settings_for(keys: Path, url: str, read_url: str | None = None) -> Settings:
    return Settings(database_url=url, read_database_url=read_url, signing_key_file=keys / "signing-key.pem",
                    data_key_file=keys / "data-key", idempotency_key_file=keys / "idempotency-key",
                    evidence_dir=keys / "evidence", request_deadline_seconds=900)


def fill(pair: Pair, keys: Path, events: int) -> None:
    """The generated district on the primary, every follower caught up, the standby replayed."""
    services = bootstrap.build(settings_for(keys, pair.primary.url(pair.database)))
    try:
        DistrictGenerator(services, batch=40).extend(events)
        services.views.catch_up()
        services.merkle.catch_up()
        services.audit.catch_up()
    finally:
        services.close()
    pair.replayed(timeout=120)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, dict[str, str], bootstrap.Services]]:
    services = bootstrap.build(settings)
    enrolled = services.accounts.add_user(Command(SYSTEM), name=f"督查督办-测速-{os.getpid()}-{time.monotonic_ns()}",
                                          unit="dxh-bgs", role="supervisor")
    services.start_followers()
    services.views.catch_up()
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 15
        while not _answers(f"{base}/healthz"):
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /healthz within 15 s")
            time.sleep(0.05)  # bounded poll for the server to start listening
        yield base, {"supervisor": enrolled.token}, services
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


class Urgings:
    """``clients`` threads posting urgings, round robin over open issues, until stopped."""

    def __init__(self, base: str, token: str, issues: list[dict[str, Any]], clients: int) -> None:
        self.base, self.token, self.issues, self.clients = base, token, issues, clients
        self.stopping = threading.Event()
        self.times: list[float] = []
        self.failed = 0
        self.threads = [threading.Thread(target=self._post, args=(n,), daemon=True) for n in range(clients)]
        self.started = self.ended = 0.0

    def _post(self, n: int) -> None:
        reply_by = (date.today() + timedelta(days=7)).isoformat()
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, timeout=60, headers=headers) as client:
            i = n
            while not self.stopping.is_set():
                issue = self.issues[i % len(self.issues)]
                i += self.clients
                begun = time.perf_counter()
                answer = client.post(f"/api/v1/issues/{issue['id']}/urgings",
                                     json={"unit": issue["units"][0], "message": "请加快整改进度", "reply_by": reply_by})
                if answer.status_code == 201:
                    self.times.append(time.perf_counter() - begun)
                else:
                    self.failed += 1

    def __enter__(self) -> Urgings:
        self.started = time.perf_counter()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        self.ended = time.perf_counter()

    def figures(self) -> tuple[float, float, int]:
        """Urgings a second, their p99 in ms, and how many were refused."""
        rate = len(self.times) / (self.ended - self.started)
        return rate, percentile([t * 1000 for t in self.times], 99), self.failed


def pages_timed(base: str, token: str, paths: list[tuple[str, str]], count: int) -> tuple[list[Result], int]:
    """Each page's median, p90 and p99 of ``count`` requests, and how many answered other than
    200 (a 503: the views did not reach the reader's position within the wait)."""
    results, refused = [], 0
    with httpx.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {token}"}) as client:
        for label, path in paths:
            for _ in range(2):  # first-use caches (unit names, templates)
                client.get(path)
            times = []
            for _ in range(count):
                begun = time.perf_counter()
                refused += client.get(path).status_code != 200
                times.append((time.perf_counter() - begun) * 1000)
            results.append((label, path, statistics.median(times), percentile(times, 90), percentile(times, 99)))
    return results, refused


def run_one(settings: Settings, requests: int, clients: int) -> dict[str, Any]:
    with serving(settings) as (base, tokens, services):
        paths = [(label, path) for label, path in generated_pages(services)
                 if not path.endswith(".xlsx") and "/replay" not in path]
        quiet, quiet_refused = pages_timed(base, tokens["supervisor"], paths, requests)
        issues = [b for b in services.views.briefs(kinds=("issue",)) if not b["closed"] and b["units"]][:200]
        with Urgings(base, tokens["supervisor"], issues, clients) as writes:
            busy, busy_refused = pages_timed(base, tokens["supervisor"], paths, requests)
        routed = dict(services.read_replica.reads) if services.read_replica is not None else {}
        return {"quiet": quiet, "busy": busy, "writes": writes.figures(), "routed": routed,
                "refused": (quiet_refused, busy_refused), "lag": services.views.lag()}


def block(events: int, requests: int, clients: int, alone: dict[str, Any], replica: dict[str, Any]) -> str:
    def row(label: str, path: str, a: Result, b: Result, c: Result, d: Result) -> str:
        return f"| {label} | `{path}` | {a[2]:.0f} / {a[4]:.0f} | {b[2]:.0f} / {b[4]:.0f} | {c[2]:.0f} / {c[4]:.0f} | {d[2]:.0f} / {d[4]:.0f} |"

    command = f".venv/bin/python bench/replica.py --events {events} --requests {requests} --clients {clients}"
    rows = [row(q[0], q[1], q, b, rq, rb) for q, b, rq, rb in
            zip(alone["quiet"], alone["busy"], replica["quiet"], replica["busy"], strict=True)]
    (rate_a, p99_a, refused_a), (rate_r, p99_r, refused_r) = alone["writes"], replica["writes"]
    return "\n".join([
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{command}` (its own PostgreSQL 15 primary and streaming standby on this machine, "
        f"{events:,} generated events; one uvicorn process with its followers; signed in as 督查督办).",
        f"Machine: {machine()}; load average {load()} at the end.",
        "",
        f"Pages, median / p99 ms of {requests} requests: quiet, and while {clients} clients post urgings.",
        "",
        "| page | path | primary alone, quiet | primary alone, under writes | with the standby, quiet | with the standby, under writes |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"| urgings over HTTP ({clients} clients, while the pages are read) | per second | p99 ms | refused |",
        "|---|---:|---:|---:|",
        f"| primary alone | {rate_a:.0f} | {p99_a:.0f} | {refused_a} |",
        f"| with the standby | {rate_r:.0f} | {p99_r:.0f} | {refused_r} |",
        "",
        f"Pages answered other than 200 (503: the views had not reached the reader's position within "
        f"CARELEDGER_MIN_POSITION_WAIT_SECONDS), quiet / under writes: primary alone {alone['refused'][0]} / "
        f"{alone['refused'][1]}, with the standby {replica['refused'][0]} / {replica['refused'][1]} "
        f"of {requests * len(rows)} each; the views' lag after the writes stopped: {alone['lag']:,} / {replica['lag']:,} positions.",
        "",
        f"Where the reads with the standby went (the read router's counts): {', '.join(f'{k} {v:,}' for k, v in sorted(replica['routed'].items()))}.",
        "",
    ])


def append(text: str) -> None:
    doc = RECORD.read_text()
    if HEADING not in doc:
        doc = doc.rstrip("\n") + f"\n\n{HEADING}\n\nRun by `bench/replica.py` (issue 21): the same pages and " \
            "writes served from the primary alone and with `CARELEDGER_READ_DATABASE_URL`.\n"
    start = doc.index(HEADING) + len(HEADING)
    following = doc.find("\n## ", start)
    end = len(doc) if following < 0 else following + 1
    RECORD.write_text(doc[:end].rstrip("\n") + "\n\n" + text + ("\n" + doc[end:] if end < len(doc) else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to docs/BENCHMARKS.md")
    args = parser.parse_args()
    if (why := unavailable()) is not None:
        raise SystemExit(f"no standby can be started here: {why}")
    with tempfile.TemporaryDirectory(prefix="careledger-replica-") as keys, primary_and_standby() as pair:
        fill(pair, Path(keys), args.events)
        url, read_url = pair.primary.url(pair.database), pair.standby.url(pair.database)
        alone = run_one(settings_for(Path(keys), url), args.requests, args.clients)
        pair.replayed(timeout=120)
        replica = run_one(settings_for(Path(keys), url, read_url), args.requests, args.clients)
    text = block(args.events, args.requests, args.clients, alone, replica)
    print(text)
    if not args.no_record:
        append(text)


if __name__ == "__main__":
    main()
