"""Append: one event per transaction, from the raw driver up to the HTTP API, side by side.

Rows, all at the same concurrency (``--clients``, default 4 concurrent writers):

- raw driver: INSERT of a row shaped like the library's event table (uuid, version,
  topic, ~300-byte state), one transaction per event; on PostgreSQL also with the
  library's commit pattern (LOCK TABLE … EXCLUSIVE, INSERT … RETURNING, NOTIFY), plainly and
  in pipeline mode as the library issues it;
- the bare eventsourcing library: an Application saving one new event of a trivial
  aggregate per save, in 1 process and in 2 processes (the 2-worker comparison);
- careledger's application layer: ``Ledger.urge`` (load, authorise, aggregate, save), with
  and without an idempotency key, in 1 and 2 processes;
- the HTTP API: ``careledger serve --workers N`` (uvloop + httptools) driven by an asyncio
  load generator on loopback with keep-alive connections, POST /issues/{id}/urgings.

Each writer works on its own aggregates (no write conflicts). Rate = events stored per
second over a fixed window; latency per request. Medians of ``--reps`` windows; the
Idempotency-Key row's ratio is the median of ``--pairs`` interleaved pairs of windows with and
without the key on one server (``--only-keyed`` runs that comparison alone).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.common import (
    BACKENDS,
    ROOT,
    Scratch,
    figure,
    median,
    ms,
    percentile,
    progress,
    rate,
    ratio,
    scratch,
    table,
)

STATE = json.dumps({
    "user": "督查督办-李敏", "unit": "dxh-bgs", "occurred_at": {"_type_": "datetime_iso", "_data_": "2024-01-01T00:00:00+00:00"},
    "target": "dxh-pfk", "message": "整改期限已过，请尽快报送整改进展。" * 3, "reply_by": {"_type_": "date_iso", "_data_": "2024-01-10"},
    "timestamp": {"_type_": "datetime_iso", "_data_": "2024-01-01T00:00:00+00:00"},
}, ensure_ascii=False).encode()
TOPIC = "domain.issue:RectificationIssue.Urged"

# Issues each writer cycles over: enough that none grows past a few dozen events in a run,
# as real issues (10–60 events), so loading one costs what it costs in use.
PER_WRITER = 100
Op = Callable[[], int]  # does one write, answers events written
Factory = Callable[[int, int], Op]  # (process index, thread index) -> op


# ---- running writers -------------------------------------------------------------------


def _threads(factory: Factory, proc: int, threads: int, seconds: float, warmup: float) -> tuple[int, list[float]]:
    ops = [factory(proc, t) for t in range(threads)]
    barrier = threading.Barrier(threads)
    counts = [0] * threads
    lat: list[list[float]] = [[] for _ in range(threads)]

    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            _run(i)
        except BaseException as error:  # re-raised below: a failed writer fails the benchmark
            failures.append(error)
            raise

    def _run(i: int) -> None:
        op = ops[i]
        barrier.wait()
        end_warm = time.perf_counter() + warmup
        while time.perf_counter() < end_warm:
            op()
        barrier.wait()
        end = time.perf_counter() + seconds
        n, mine = 0, lat[i]
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                break
            n += op()
            mine.append(time.perf_counter() - t0)
        counts[i] = n

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise failures[0]
    return sum(counts), [x for xs in lat for x in xs]


def _child(factory: Factory, proc: int, threads: int, seconds: float, warmup: float, reps: int, out: Any, go: Any) -> None:
    results = []
    for _ in range(reps):
        go.wait()
        results.append(_threads(factory, proc, threads, seconds, warmup))
    out.put(results)


def measure(factory: Factory, *, procs: int, clients: int, seconds: float, reps: int,
            warmup: float = 0.3) -> tuple[float, float, float]:
    """Median events/s over ``reps`` windows, and p50/p99 latency (s) of all the windows."""
    try:
        return _measure(factory, procs=procs, clients=clients, seconds=seconds, reps=reps, warmup=warmup)
    finally:
        getattr(factory, "close", lambda: None)()


def _measure(factory: Factory, *, procs: int, clients: int, seconds: float, reps: int,
             warmup: float) -> tuple[float, float, float]:
    threads = max(1, clients // procs)
    if procs == 1:
        runs = [_threads(factory, 0, threads, seconds, warmup) for _ in range(reps)]
        per_rep = [[r] for r in runs]
    else:
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        go = ctx.Barrier(procs)
        children = [ctx.Process(target=_child, args=(factory, p, threads, seconds, warmup, reps, out, go))
                    for p in range(procs)]
        for c in children:
            c.start()
        gathered = [out.get() for _ in children]
        for c in children:
            c.join()
        per_rep = [[g[r] for g in gathered] for r in range(reps)]
    rates = [sum(n for n, _ in rep) / seconds for rep in per_rep]
    lats = [x for rep in per_rep for _, xs in rep for x in xs]
    return median(rates), percentile(lats, 50), percentile(lats, 99)


# ---- the raw driver ----------------------------------------------------------------------

RAW_PG = """CREATE TABLE IF NOT EXISTS raw_events (
  originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,
  notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"""
RAW_PG_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS raw_events_nid ON raw_events (notification_id)"
INSERT_PG = ("INSERT INTO raw_events (originator_id, originator_version, topic, state) "
             "VALUES (%s, %s, %s, %s) RETURNING notification_id")


def raw_pg(s: Scratch, pattern: str) -> Factory:
    with s.connect() as conn:
        conn.execute(RAW_PG)
        conn.execute(RAW_PG_INDEX)
        conn.commit()

    def factory(proc: int, thread: int) -> Op:
        conn = s.connect()
        oid, version = uuid.uuid4(), [0]

        def op() -> int:
            version[0] += 1
            args = (oid, version[0], TOPIC, STATE)
            if pattern == "plain":
                with conn.transaction():
                    conn.execute(INSERT_PG, args).fetchone()
            elif pattern == "lock+notify":
                with conn.transaction():
                    conn.execute("LOCK TABLE raw_events IN EXCLUSIVE MODE")
                    conn.execute("NOTIFY raw_events")
                    conn.execute(INSERT_PG, args).fetchone()
            else:  # the library's: pipeline mode, lock, notify, executemany returning, sync
                with conn.pipeline() as p, conn.transaction():
                    with conn.cursor() as c:
                        c.execute("LOCK TABLE raw_events IN EXCLUSIVE MODE", prepare=True)
                        c.execute("NOTIFY raw_events")
                    with conn.cursor() as c:
                        c.executemany(INSERT_PG, [args], returning=True)
                        p.sync()
                        c.fetchone()
            return 1

        return op

    return factory


def raw_sqlite(s: Scratch) -> Factory:
    import sqlite3

    path = s.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS raw_events (originator_id TEXT, originator_version INTEGER, "
                     "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")

    def factory(proc: int, thread: int) -> Op:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
        oid, version = uuid.uuid4().hex, [0]

        def op() -> int:
            version[0] += 1
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO raw_events VALUES (?, ?, ?, ?)", (oid, version[0], TOPIC, STATE))
            conn.execute("COMMIT")
            return 1

        return op

    return factory


# ---- the bare library --------------------------------------------------------------------


def library_env(s: Scratch, pool: int) -> dict[str, str]:
    env = dict(s.settings().eventsourcing_env())
    env.pop("APPLICATION_RECORDER_TOPIC", None)
    if s.backend == "postgres":
        env["POSTGRES_POOL_SIZE"] = str(pool)
    return env


class Note(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.n = 0

    @event("Urged")
    def urge(self, target: str, message: str, reply_by: str, user: str, unit: str) -> None:
        self.n += 1


class Bare(Application[Any]):
    name = "bare"


def library(s: Scratch, clients: int) -> Factory:
    Bare(env=library_env(s, clients)).close()  # creates the table
    apps: dict[int, Any] = {}

    def factory(proc: int, thread: int) -> Op:
        if proc not in apps:
            apps[proc] = Bare(env={**library_env(s, clients), "CREATE_TABLE": "n"})
        app = apps[proc]
        note = Note()
        app.save(note)

        def op() -> int:
            note.urge("dxh-pfk", "整改期限已过，请尽快报送整改进展。" * 3, "2024-01-10", "督查督办-李敏", "dxh-bgs")
            app.save(note)
            return 1

        return op

    factory.close = lambda: [a.close() for a in apps.values()]  # type: ignore[attr-defined]
    return factory


# ---- careledger ------------------------------------------------------------------------


def prepare_issues(s: Scratch, count: int) -> tuple[str, list[str]]:
    """The demo district plus ``count`` more open issues; answers the supervisor's token."""
    from domain.plan import plan_id
    from interfaces import demo_district
    from interfaces.bootstrap import build

    services = build(s.settings())
    try:
        tokens = demo_district.load(services)
        actor = services.identity.authenticate(tokens["supervisor"])
        from application.commands import Command

        plan = plan_id(demo_district.PLAN_NUMBER)
        ids = [str(services.issues.register_issue(Command(actor), plan=plan, seq=5 + i, duty="工作职责：加强普法。",
                                         problem="存在问题：针对性不强。", units=["dxh-pfk"]).id)
               for i in range(count)]
    finally:
        services.close()
    return tokens["supervisor"], ids


def application_layer(s: Scratch, token: str, issues: list[str], clients: int, idempotent: bool) -> Factory:
    from uuid import UUID

    from application.commands import Command
    from interfaces.bootstrap import build

    built: dict[int, Any] = {}
    per = PER_WRITER  # prepare_issues made 2 × clients × PER_WRITER

    def factory(proc: int, thread: int) -> Op:
        if proc not in built:
            # The tables exist (prepare_issues): two processes creating them at once collide
            # in PostgreSQL's catalogue ("tuple concurrently updated").
            built[proc] = build(s.settings().model_copy(update={"create_tables": False}))
        services = built[proc]
        actor = services.identity.authenticate(token)
        writer = proc * clients + thread
        mine = [UUID(i) for i in issues[writer * per:(writer + 1) * per]]
        counter = [0]

        def op() -> int:
            counter[0] += 1
            key = f"k-{proc}-{thread}-{counter[0]}-{uuid.uuid4().hex[:8]}" if idempotent else None
            services.issues.urge(Command(actor, idempotency_key=key, fingerprint="f" if key else ""),
                                 mine[counter[0] % len(mine)], unit="dxh-pfk",
                        message="整改期限已过，请尽快报送整改进展。", reply_by=date(2030, 1, 10))
            return 1

        return op

    factory.close = lambda: [b.close() for b in built.values()]  # type: ignore[attr-defined]
    return factory


# ---- the HTTP API ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(s: Scratch, workers: int, *, plain: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    """``careledger serve``, or with ``plain`` bench.plain_app (FastAPI over the bare library)
    under the same uvicorn options."""
    port = free_port()
    env = {**os.environ, **s.env(), "CARELEDGER_CREATE_TABLES": "true", "CARELEDGER_GRACEFUL_SHUTDOWN_SECONDS": "2"}
    if s.backend == "postgres":
        env["CARELEDGER_FOLLOWERS"] = "external"  # the compose file's layout: a separate `careledger project`
    if plain:
        Bare(env=library_env(s, 8)).close()  # the table, once, before the workers start
        env["BENCH_LIBRARY_ENV"] = json.dumps({**library_env(s, 8), "CREATE_TABLE": "n"})
        env["PYTHONPATH"] = str(ROOT)
        command = [str(ROOT / ".venv" / "bin" / "uvicorn"), "bench.plain_app:app", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
                   "--no-access-log"]
    else:
        command = [str(ROOT / ".venv" / "bin" / "careledger"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers)]
    proc = subprocess.Popen(
        command, env=env, cwd=s.directory, stdout=subprocess.DEVNULL, start_new_session=True,
        # BENCH_SERVER_LOG=FILE keeps the servers' output (why a server stopped answering)
        stderr=open(os.environ["BENCH_SERVER_LOG"], "ab") if os.environ.get("BENCH_SERVER_LOG") else subprocess.DEVNULL,  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith((b"HTTP/1.1 200", b"HTTP/1.1 404") if plain else b"HTTP/1.1 200"):
                    time.sleep(1.0 if workers > 1 else 0.2)  # let every worker come up
                    return proc, port
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


async def _client(port: int, token: str, issues: list[str], end_warm: float, end: float,
                  lat: list[float], idempotent: bool, errors: list[int]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"unit": "dxh-pfk", "message": "整改期限已过，请尽快报送整改进展。", "reply_by": "2030-01-10"},
                      ensure_ascii=False).encode()
    n, i = 0, 0
    try:
        while True:
            now = time.perf_counter()
            if now >= end:
                return n
            i += 1
            key = f"Idempotency-Key: h-{uuid.uuid4().hex}\r\n" if idempotent else ""
            head = (f"POST /api/v1/issues/{issues[i % len(issues)]}/urgings HTTP/1.1\r\nHost: bench\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n{key}"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if not status_line.startswith(b"HTTP/1.1 201"):
                errors.append(int(status_line.split()[1]) if status_line else 0)
                if len(errors) == 1:
                    print("first non-201:", status_line, await reader.read(0), file=sys.stderr)
                continue
            if now >= end_warm:
                lat.append(time.perf_counter() - now)
                n += 1
    finally:
        writer.close()


def _uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


async def _window(port: int, token: str, issues: list[str], clients: int, seconds: float, warmup: float,
                  idempotent: bool, lat: list[float], errors: list[int]) -> int:
    """``clients`` clients posting urgings for ``seconds`` after ``warmup``: the requests counted."""
    t0 = time.perf_counter()
    per = max(1, len(issues) // clients)
    counts = await asyncio.gather(*[
        _client(port, token, issues[c * per:(c + 1) * per] or issues, t0 + warmup, t0 + warmup + seconds,
                lat, idempotent, errors)
        for c in range(clients)
    ])
    return sum(counts)


def _load(port: int, token: str, issues: list[str], clients: int, seconds: float, warmup: float,
          idempotent: bool, out: Any) -> None:
    _uvloop()

    async def main() -> tuple[int, list[float], list[int]]:
        lat: list[float] = []
        errors: list[int] = []
        count = await _window(port, token, issues, clients, seconds, warmup, idempotent, lat, errors)
        if errors:
            from collections import Counter
            print("non-201 answers:", dict(Counter(errors)), file=sys.stderr)
        return count, lat, errors

    out.put(asyncio.run(main()))


def _load_pairs(port: int, token: str, issues: list[str], clients: int, seconds: float, warmup: float,
                pairs: int, out: Any) -> None:
    """``pairs`` pairs of windows on one server, each pair one window without an
    Idempotency-Key and one with, back to back (A B, B A, A B, …, so a drift in the machine's
    load falls on both sides alike); answers each pair's (unkeyed, keyed) count and latencies."""
    _uvloop()

    async def window(idempotent: bool, lat: list[float], errors: list[int]) -> int:
        return await _window(port, token, issues, clients, seconds, warmup, idempotent, lat, errors)

    async def main() -> tuple[list[tuple[int, int]], list[float], list[float], int]:
        plain_lat: list[float] = []
        keyed_lat: list[float] = []
        errors: list[int] = []
        counts = []
        # Not counted: the workers' first touch of each issue (loaded, then held) and of the
        # kept answers' table would fall on the first pair alone.
        await window(False, [], [])
        await window(True, [], [])
        for p in range(pairs):
            got = {}
            for keyed in ((False, True) if p % 2 == 0 else (True, False)):
                got[keyed] = await window(keyed, keyed_lat if keyed else plain_lat, errors)
            counts.append((got[False], got[True]))
        return counts, plain_lat, keyed_lat, len(errors)

    out.put(asyncio.run(main()))


def median_interval(values: list[float]) -> tuple[float, float]:
    """A 95 % interval of the median of ``values`` by order statistics (no assumption on their
    distribution): the ranks k and n - k + 1 with P(Binomial(n, ½) < k) ≤ 2.5 %."""
    from math import comb

    ordered, n = sorted(values), len(values)
    k, below = 0, 0.0
    while k < n and below + comb(n, k) / 2**n <= 0.025:
        below += comb(n, k) / 2**n
        k += 1
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]


def http_pairs(s: Scratch, token: str, issues: list[str], *, workers: int, clients: int, seconds: float,
               pairs: int) -> tuple[tuple[float, float, float, int], tuple[float, float, float, int], list[float]]:
    """The same server measured with and without an Idempotency-Key in interleaved pairs of
    windows: (unkeyed rate, p50, p99, errors), the same keyed, and the per-pair ratios
    keyed/unkeyed. Separate rows minutes apart moved 0.48×–1.35× between runs of the same
    code; a pair's two windows see the same load."""
    if s.backend == "sqlite":
        caught_up(s)
    server, port = start_server(s, workers)
    try:
        out = mp.get_context("spawn").Queue()
        p = mp.get_context("spawn").Process(target=_load_pairs,
                                            args=(port, token, issues, clients, seconds, 0.1, pairs, out))
        p.start()
        try:  # a load process that failed (the server gone) answers nothing: fail, not hang
            counts, plain_lat, keyed_lat, errors = out.get(timeout=pairs * 2 * (seconds + 0.1) + 120)
        finally:
            p.join(timeout=10)
    finally:
        stop_server(server)
    ratios = [k / u for u, k in counts if u]
    plain = (median([u / seconds for u, _ in counts]), percentile(plain_lat, 50), percentile(plain_lat, 99), errors)
    keyed = (median([k / seconds for _, k in counts]), percentile(keyed_lat, 50), percentile(keyed_lat, 99), errors)
    return plain, keyed, ratios


def caught_up(s: Scratch) -> None:
    """The views, Merkle log and audit index brought to the end of the log, before a row whose
    server or follower keeps them (a serving process on SQLite, `careledger project`): started
    behind the events the rows before wrote (tens of thousands), they would fold that backlog
    during the HTTP windows (on SQLite holding its one write lock for whole batches), and the
    row would measure that catch-up, not the writes."""
    from interfaces.bootstrap import build

    services = build(s.settings())
    try:
        services.views.catch_up()
        services.merkle.catch_up()
        services.audit.catch_up()
    finally:
        services.close()


def http(s: Scratch, token: str, issues: list[str], *, workers: int, clients: int, seconds: float,
         reps: int, idempotent: bool = False, plain: bool = False) -> tuple[float, float, float, int]:
    if s.backend == "sqlite":
        caught_up(s)
    server, port = start_server(s, workers, plain=plain)
    try:
        ctx = mp.get_context("spawn")
        rates, lats, errors = [], [], 0
        for _ in range(reps):
            out = ctx.Queue()
            p = ctx.Process(target=_load, args=(port, token, issues, clients, seconds, 0.5, idempotent, out))
            p.start()
            try:  # a load process that failed (the server gone) answers nothing: fail, not hang
                n, lat, errs = out.get(timeout=seconds + 120)
            finally:
                p.join(timeout=10)
            rates.append(n / seconds)
            lats.extend(lat)
            errors += len(errs)
        return median(rates), percentile(lats, 50), percentile(lats, 99), errors
    finally:
        stop_server(server)


def start_follower(s: Scratch) -> subprocess.Popen[bytes]:
    """`careledger project` on the scratch database, as deployed beside the API workers."""
    env = {**os.environ, **s.env(), "CARELEDGER_FOLLOWERS": "external", "CARELEDGER_CREATE_TABLES": "false"}
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "careledger"), "project"], env=env, cwd=s.directory,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _view_position(conn: Any, events_table: str) -> tuple[int, int]:
    top = conn.execute(f"SELECT max(notification_id) FROM {events_table}").fetchone()[0] or 0
    row = conn.execute("SELECT max(notification_id) FROM view_tracking WHERE generation = 'live'").fetchone()
    return int(top), int(row[0] or 0) if row else 0


def http_followed(s: Scratch, token: str, issues: list[str], **h: Any) -> tuple[tuple[float, float, float, int], list[float]]:
    """``http`` with `careledger project` running, and the views' lag sampled meanwhile: every
    20 ms the log's last position and the views' position; an event's lag is the time from the
    first sample that shows it recorded to the first that shows the views past it."""
    from interfaces.bootstrap import build

    services = build(s.settings())
    events_table = services.ledger.recorder.events_table_name
    services.close()
    caught_up(s)  # the follower's own backlog (the Merkle log of every row before) is not this row's load
    follower = start_follower(s)
    conn = s.connect()
    conn.autocommit = True
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # caught up before the load starts
            top, reached = _view_position(conn, events_table)
            if reached >= top:
                break
            time.sleep(0.1)

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.perf_counter(), *_view_position(conn, events_table)))
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result = http(s, token, issues, **h)
        stop.set()
        sampler.join()
    finally:
        stop.set()
        conn.close()
        stop_server(follower)
    lags, j = [], 0
    for i, (t, top, _) in enumerate(samples):
        if i and top == samples[i - 1][1]:
            continue  # not newly recorded
        j = max(j, i)
        while j < len(samples) and samples[j][2] < top:
            j += 1
        if j < len(samples):
            lags.append(samples[j][0] - t)
    return result, lags


# ---- the table ---------------------------------------------------------------------------


def run(backend: str, *, clients: int, seconds: float, reps: int, crowd: int = 0, pairs: int = 24,
        pair_seconds: float = 0.5) -> None:
    rows: list[list[Any]] = []
    results: dict[str, tuple[float, float, float]] = {}

    def add(name: str, value: tuple[float, ...], baseline: str, note: str = "") -> None:
        r, p50, p99 = value[:3]
        results[name] = (r, p50, p99)
        base = results[baseline][0] if baseline in results else r
        rows.append([name, rate(r), ms(p50), ms(p99), ratio(r, base) + (f" of {baseline}" if baseline != name else ""), note])
        progress(f"append {backend}: {name}: {r:,.0f}/s p50 {p50 * 1000:.1f} ms p99 {p99 * 1000:.1f} ms")

    with scratch(backend, "append") as s:
        m = dict(clients=clients, seconds=seconds, reps=reps)
        if backend == "postgres":
            add("raw psycopg INSERT, 1 tx/event", measure(raw_pg(s, "plain"), procs=1, **m), "raw psycopg INSERT, 1 tx/event")
            add("raw psycopg + LOCK + NOTIFY", measure(raw_pg(s, "lock+notify"), procs=1, **m), "raw psycopg INSERT, 1 tx/event")
            add("raw psycopg, library's pipeline", measure(raw_pg(s, "pipeline"), procs=1, **m), "raw psycopg INSERT, 1 tx/event")
        else:
            add("raw sqlite3 INSERT, 1 tx/event", measure(raw_sqlite(s), procs=1, **m), "raw sqlite3 INSERT, 1 tx/event")
        raw = rows[0][0]
        add("library, 1 process", measure(library(s, clients), procs=1, **m), raw)
        token, issues = prepare_issues(s, clients * 2 * PER_WRITER)
        add("careledger Ledger.urge, 1 process", measure(application_layer(s, token, issues, clients, False), procs=1, **m),
            "library, 1 process")
        add("careledger Ledger.urge + Idempotency-Key, 1 process",
            measure(application_layer(s, token, issues, clients, True), procs=1, **m), "library, 1 process")
        if backend == "postgres":
            add("library, 2 processes", measure(library(s, clients), procs=2, **m), raw)
            add("careledger Ledger.urge, 2 processes",
                measure(application_layer(s, token, issues, clients, False), procs=2, **m), "library, 2 processes")
        h = dict(clients=clients, seconds=seconds, reps=reps)
        r1 = http(s, token, issues, workers=1, **h)
        add("HTTP POST urging, 1 worker", r1, "library, 1 process", f"{r1[3]} non-201" if r1[3] else "")
        if backend == "postgres":
            p2 = http(s, token, issues, workers=2, plain=True, **h)
            add("plain FastAPI endpoint over the library, 2 workers", p2, "library, 2 processes",
                f"{p2[3]} non-201" if p2[3] else "")
            r2 = http(s, token, issues, workers=2, **h)
            add("HTTP POST urging, 2 workers", r2, "library, 2 processes", f"{r2[3]} non-201" if r2[3] else "")
            rf, lags = http_followed(s, token, issues, workers=2, **h)
            lag99 = percentile(lags, 99) if lags else float("nan")
            add("HTTP POST urging, 2 workers, `careledger project` running", rf, "library, 2 processes",
                f"views' lag p50 {percentile(lags, 50) * 1000:.0f} ms, p99 {lag99 * 1000:.0f} ms ({len(lags)} samples)"
                + (f"; {rf[3]} non-201" if rf[3] else ""))
            figure("views' lag under HTTP append, 2 workers, p99, postgres", seconds=lag99, goal="< 1", met=lag99 < 1)
            u2, r2k, paired = http_pairs(s, token, issues, workers=2, clients=clients, seconds=pair_seconds,
                                         pairs=pairs)
            keyed_ratio = median(paired)
            low, high = median_interval(paired)
            add("HTTP POST urging + Idempotency-Key, 2 workers", r2k, "library, 2 processes",
                f"in {pairs} pairs of {pair_seconds:g}-s windows with the same server unkeyed ({u2[0]:,.0f}/s): "
                f"keyed/unkeyed median {keyed_ratio:.2f}× (95 % interval {low:.2f}–{high:.2f}×), "
                f"pairs {min(paired):.2f}–{max(paired):.2f}×, middle half "
                f"{percentile(paired, 25):.2f}–{percentile(paired, 75):.2f}×"
                + (f"; {r2k[3]} non-201" if r2k[3] else ""))
            figure(f"HTTP append with Idempotency-Key, 2 workers, {clients} clients, to the same without, {backend}",
                   ratio=keyed_ratio, goal=">= 0.9", met=keyed_ratio >= 0.9, pairs=len(paired),
                   median_interval_95=[round(low, 2), round(high, 2)],
                   pair_range=[round(min(paired), 2), round(max(paired), 2)])
            if crowd:
                # More writers than cores: the library's writers queue on its table lock,
                # careledger's commit together (application.group_commit).
                lib = f"library, 2 processes, {crowd} writers"
                add(lib, measure(library(s, crowd), procs=2, clients=crowd, seconds=seconds, reps=reps), raw)
                rc = http(s, token, issues, workers=2, clients=crowd, seconds=seconds, reps=reps)
                add(f"HTTP POST urging, 2 workers, {crowd} clients", rc, lib, f"{rc[3]} non-201" if rc[3] else "")
    _figures(backend, clients, crowd, results)
    table(
        f"Append, {backend} ({clients} concurrent writers)",
        ["path", "events/s (median)", "p50 ms", "p99 ms", "ratio", "note"],
        rows,
        [f"{reps} windows of {seconds:g} s each after a warm-up; every writer on its own aggregates.",
         "raw rows are the baseline for the library; the library (same number of processes) for careledger and HTTP.",
         "HTTP: keep-alive connections from one asyncio process on the same two cores; "
         + ("the server runs with CARELEDGER_FOLLOWERS=external (views, Merkle log and audit index in a "
            "separate process, not running here)." if backend == "postgres" else
            "SQLite serves from one process with its followers in-process."),
         f"Ledger.urge loads the issue (all its events: each writer cycles over {PER_WRITER} issues, so none "
         "grows past a few dozen events in the run), authorises, saves; the bare library only saves.",
         "Idempotency-Key: its own server, windows with and without the key interleaved in pairs (A B, B A, …); "
         "its ratio to the same without is the median of the per-pair ratios, their spread in the row's note.",
         ],
    )


def _figures(backend: str, clients: int, crowd: int, results: dict[str, tuple[float, float, float]]) -> None:
    """The issue's targets among the rows measured (docs/benchmarks.json)."""

    def against(name: str, baseline: str, goal: float, label: str) -> None:
        if name in results and baseline in results:
            value = results[name][0] / results[baseline][0]
            figure(f"{label}, {backend}", ratio=value, goal=f">= {goal}", met=value >= goal)

    def p99(name: str, label: str) -> None:
        if name in results:
            figure(f"{label} p99, {backend}", seconds=results[name][2], goal="< 0.05", met=results[name][2] < 0.05)

    if backend == "postgres":
        against("HTTP POST urging, 2 workers", "library, 2 processes", 1.0,
                f"HTTP append, 2 workers, {clients} clients, to the bare library")
        p99("HTTP POST urging, 2 workers", f"HTTP append, 2 workers, {clients} clients")
        against("HTTP POST urging, 2 workers, `careledger project` running", "library, 2 processes", 1.0,
                f"HTTP append, 2 workers, {clients} clients, follower running, to the bare library")
        against("HTTP POST urging, 2 workers", "plain FastAPI endpoint over the library, 2 workers", 0.9,
                f"HTTP append, 2 workers, {clients} clients, to a plain FastAPI endpoint")
        if crowd:
            against(f"HTTP POST urging, 2 workers, {crowd} clients", f"library, 2 processes, {crowd} writers", 1.0,
                    f"HTTP append, 2 workers, {crowd} clients, to the bare library")
            p99(f"HTTP POST urging, 2 workers, {crowd} clients", f"HTTP append, 2 workers, {crowd} clients")
    else:
        against("HTTP POST urging, 1 worker", "library, 1 process", 0.5,
                f"HTTP append, 1 worker, {clients} clients, to the bare library")
        p99("HTTP POST urging, 1 worker", f"HTTP append, 1 worker, {clients} clients")


def keyed_only(*, clients: int, pairs: int, pair_seconds: float) -> None:
    with scratch("postgres", "append") as s:
        token, issues = prepare_issues(s, clients * 2 * PER_WRITER)
        t0 = time.perf_counter()
        u, k, paired = http_pairs(s, token, issues, workers=2, clients=clients, seconds=pair_seconds, pairs=pairs)
        print(f"{pairs} pairs of {pair_seconds:g} s ({time.perf_counter() - t0:.0f} s with the server's start): "
              f"unkeyed {u[0]:,.0f}/s, keyed {k[0]:,.0f}/s; keyed/unkeyed median {median(paired):.2f}× "
              f"(95 % interval {median_interval(paired)[0]:.2f}–{median_interval(paired)[1]:.2f}×), "
              f"pairs {min(paired):.2f}–{max(paired):.2f}×, middle half "
              f"{percentile(paired, 25):.2f}–{percentile(paired, 75):.2f}×; load {os.getloadavg()[0]:.2f}; "
              f"pairs in order {[round(r, 2) for r in paired]}")


def main() -> None:
    parser = argparse.ArgumentParser(description="append benchmark")
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--crowd", type=int, default=16,
                        help="also compare the 2-process library and 2 HTTP workers at this many writers (0: skip)")
    parser.add_argument("--pairs", type=int, default=24,
                        help="pairs of windows (unkeyed, keyed) for the Idempotency-Key comparison")
    parser.add_argument("--pair-seconds", type=float, default=0.5, help="each window of a pair")
    parser.add_argument("--only-keyed", action="store_true",
                        help="only the Idempotency-Key pairs (postgres): to see their spread by hand")
    args = parser.parse_args()
    if args.only_keyed:
        keyed_only(clients=args.clients, pairs=args.pairs, pair_seconds=args.pair_seconds)
        return
    for backend in BACKENDS if args.backend == "both" else [args.backend]:
        run(backend, clients=args.clients, seconds=args.seconds, reps=args.reps, crowd=args.crowd, pairs=args.pairs,
            pair_seconds=args.pair_seconds)


if __name__ == "__main__":
    sys.exit(main())
