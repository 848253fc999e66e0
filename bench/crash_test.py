"""Crash test: acknowledged commands survive worker kills, a runner kill and a PostgreSQL
restart in immediate mode, exactly once.

    .venv/bin/python bench/crash_test.py                 # full run (make crash-test), < 10 minutes
    .venv/bin/python bench/crash_test.py --commands 60   # the short variant the slow test runs

Loopback only. On a fresh scratch PostgreSQL database: tables created once, then
`careledger serve --workers 2` (CARELEDGER_FOLLOWERS=external) and `careledger project` (views,
Merkle log, audit index) as their own processes. Four client processes each send --commands
urgings, each with its own Idempotency-Key and a unique message, retrying on connection errors,
409 (a concurrent write won), and 5xx until answered 201. Mid-run, as the log grows: one API
worker is killed with SIGKILL (uvicorn starts another), the runner is killed with SIGKILL and
started again, and PostgreSQL is restarted with `pg_ctlcluster ... restart -m immediate`.
With --pause-server SECONDS the whole PostgreSQL server is stopped with SIGSTOP for that long
(at most 30 s), and the run also fails unless every request during the pause got a 503/504
problem answer within the request deadline (--deadline) and all answered normally soon after.

Afterwards, on the database itself: every command answered 201 is in the log exactly once (its
kept Idempotency-Key answer and its event), no command is in it twice, the views caught up
equal a clean rebuild from the log, and `careledger verify` passes. Prints the counts and exits
1 on any loss, duplicate or failed check (2 if the run itself could not be carried out).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

CARELEDGER = str(Path(sys.executable).with_name("careledger"))
SERVER = os.environ.get("CARELEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEFAULT_SECONDS = 600  # the whole run's bound unless --seconds says otherwise
# Longer than any request deadline the runs set, so a request that hangs shows as a ReadTimeout.
CLIENT_TIMEOUT_SECONDS = 20
MARK = "crash-test "
# After SIGCONT, the API must answer normally again (/readyz 200, every client a 201) within this.
RECOVERY_SECONDS = 20
# A loaded 2-CPU machine may answer this much after the request deadline.
DEADLINE_SLACK_SECONDS = 3
POSTMASTER_PID_FILE = os.environ.get("CARELEDGER_POSTMASTER_PID_FILE", "/var/run/postgresql/15-main.pid")
MAX_SERVER_PAUSE_SECONDS = 30  # the server is shared: nobody else's work may stall for longer


def say(*parts: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)


def poll(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Bounded polling of a condition; raises after ``seconds``."""
    began = time.monotonic()
    deadline, told = began + seconds, began
    delay = 0.02
    while not check():
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"timed out after {seconds}s waiting for {what}")
        if now - told >= 10:  # a run that hangs says where, before whatever bounds it kills it
            say(f"still waiting ({now - began:.0f}s) for {what}")
            told = now
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(sig: signal.Signals, pids: Iterable[int], reached: list[int] | None = None) -> list[int]:
    """Sends ``sig`` to each process still there; answers those it reached, also appended to
    ``reached`` one by one, so that a caller resuming them in ``finally`` misses none."""
    reached = [] if reached is None else reached
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue
        reached.append(pid)
    return reached


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def workers_of(server: int) -> list[int]:
    """uvicorn's worker processes (spawned children), not multiprocessing's resource tracker."""
    found = []
    for pid in children(server):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            found.append(pid)
    return found


# ---- clients ------------------------------------------------------------------------------------


def client(index: int, base: str, token: str, issues: list[str], commands: int, out: str, stop_at: float) -> None:
    """Sends ``commands`` urgings, each retried with its Idempotency-Key until answered 201."""
    headers = {"Authorization": f"Bearer {token}"}
    record: dict[str, Any] = {"sent": [], "acked": {}, "refused": {}, "attempts": 0, "errors": Counter(),
                              "timeline": []}
    # Every attempt as [began, ended, status or error name, answered problem+json], on the
    # machine's monotonic clock (shared by all processes), so a pause's window can be cut out.
    timeline = record["timeline"]
    with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_SECONDS) as http:
        for n in range(commands):
            key = f"c{index}-{n}"
            issue = issues[(index + n) % len(issues)]
            body = {"unit": "sfs-cq", "message": f"{MARK}{key}", "reply_by": "2099-12-31"}
            record["sent"].append(key)
            backoff = 0.05
            while time.monotonic() < stop_at:
                record["attempts"] += 1
                began = time.monotonic()
                try:
                    answer = http.post(f"/api/v1/issues/{issue}/urgings", json=body,
                                       headers={**headers, "Idempotency-Key": key})
                except httpx.HTTPError as error:
                    record["errors"][type(error).__name__] += 1
                    timeline.append([began, time.monotonic(), type(error).__name__, False])
                else:
                    timeline.append([began, time.monotonic(), answer.status_code,
                                     answer.headers.get("content-type", "").startswith("application/problem+json")])
                    if answer.status_code == 201:
                        record["acked"][key] = answer.json()
                        break
                    record["errors"][str(answer.status_code)] += 1
                    if answer.status_code not in (409, 500, 502, 503, 504):
                        record["refused"][key] = answer.text[:300]
                        break
                time.sleep(backoff)  # retry back-off, not synchronisation
                backoff = min(backoff * 2, 1.0)
            if time.monotonic() >= stop_at:
                break
    Path(out).write_text(json.dumps(record))


# ---- the run ------------------------------------------------------------------------------------


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="careledger-crash-"))
        self.db = f"careledger_crash_{os.getpid()}_{secrets.token_hex(3)}"
        base, _, _ = SERVER.rpartition("/")
        self.url = f"{base}/{self.db}"
        self.env = {
            **os.environ, "PYTHONPATH": str(ROOT),
            "CARELEDGER_DATABASE_URL": self.url,
            "CARELEDGER_SIGNING_KEY_FILE": str(self.dir / "signing-key.pem"),
            "CARELEDGER_DATA_KEY_FILE": str(self.dir / "data-key"),
            "CARELEDGER_IDEMPOTENCY_KEY_FILE": str(self.dir / "idempotency-key"),
            "CARELEDGER_FOLLOWERS": "external",
            "PROMETHEUS_MULTIPROC_DIR": str(self.dir / "prom"),
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.runner: subprocess.Popen[bytes] | None = None
        self.events: list[str] = []
        self.pause_began = self.pause_ended = 0.0
        self.ready_after: float | None = None
        self.probes: list[list[Any]] = []
        self.base = ""
        if args.deadline:
            self.env["CARELEDGER_REQUEST_DEADLINE_SECONDS"] = str(args.deadline)

    def settings(self, **changes: Any) -> Any:
        from infrastructure.settings import Settings

        return Settings(database_url=self.url, signing_key_file=self.dir / "signing-key.pem",
                        data_key_file=self.dir / "data-key", idempotency_key_file=self.dir / "idempotency-key",
                        followers="external", **changes)

    # -- set-up and processes

    def prepare(self) -> tuple[str, list[str], int]:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        from application.commands import SYSTEM, Command
        from interfaces import bootstrap

        services = bootstrap.build(self.settings(create_tables=True))  # the tables, once
        try:
            ledger = services.ledger
            for code, name, group in [("bgs", "办公室", None), ("sfs-cq", "常青花园司法所", "司法所")]:
                services.registry.add_unit(Command(SYSTEM), code=code, name=name, group=group)
            token = services.accounts.add_user(Command(SYSTEM), name="supervisor", unit="bgs", role="supervisor").token
            sup = Command(services.identity.authenticate(token))
            plan = services.issues.register_plan(sup, number="汉司〔2019〕1号", title="方案", issuer_unit="bgs", year=2019).id
            issues = [str(services.issues.register_issue(sup, plan=plan, seq=i + 1, duty="职责", problem="问题",
                                                units=["sfs-cq"], measures=[], remarks="").id)
                      for i in range(self.args.issues)]
            seeded = ledger.recorder.max_notification_id() or 0
        finally:
            services.close()
        return token, issues, seeded

    def start_server(self) -> str:
        port = free_port()
        env = {**self.env, "CARELEDGER_CREATE_TABLES": "false"}
        self.server = subprocess.Popen([CARELEDGER, "serve", "--port", str(port), "--workers", "2"], env=env,
                                       cwd=self.dir, stdout=subprocess.DEVNULL, stderr=open(self.dir / "serve.log", "wb"))  # noqa: SIM115 — the server holds it
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if self.server is not None and self.server.poll() is not None:
                raise RuntimeError("the server exited: " + (self.dir / "serve.log").read_text()[-2000:])
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200 and len(workers_of(self.server.pid)) >= 2
            except httpx.HTTPError:
                return False

        poll(up, 90, "two API workers to answer")
        return base

    def start_runner(self) -> None:
        log = open(self.dir / "project.log", "ab")  # noqa: SIM115 — the runner holds it
        self.runner = subprocess.Popen([CARELEDGER, "project"], env={**self.env, "CARELEDGER_CREATE_TABLES": "false"},
                                       cwd=self.dir, stdout=subprocess.DEVNULL, stderr=log)

    def keep_runner(self) -> None:
        """A supervisor's job: a runner that stopped (e.g. its database went away) is started again."""
        if self.runner is not None and self.runner.poll() is not None:
            self.events.append(f"runner exited with {self.runner.returncode}; started again")
            self.start_runner()

    def stop(self) -> None:
        for process in (self.server, self.runner):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.server, self.runner):
            if process is not None:
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def cleanup(self) -> None:
        try:
            with psycopg.connect(SERVER, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        except psycopg.Error as error:
            say("could not drop", self.db, error)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- faults

    def position(self) -> int:
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                row = conn.execute("SELECT max(notification_id) FROM careledger_events").fetchone()
                return int(row[0] or 0) if row else 0
        except psycopg.Error:
            return -1

    def kill_a_worker(self) -> None:
        assert self.server is not None
        before = workers_of(self.server.pid)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        self.events.append(f"SIGKILL API worker {victim}")
        say(self.events[-1])
        poll(lambda: len([p for p in workers_of(self.server.pid) if p != victim]) >= 2, 60,  # type: ignore[union-attr]
             "uvicorn to start a worker in place of the killed one")
        self.events.append("uvicorn started a new worker")

    def kill_the_runner(self) -> None:
        assert self.runner is not None
        os.kill(self.runner.pid, signal.SIGKILL)
        self.runner.wait()
        self.events.append(f"SIGKILL runner {self.runner.pid}; started again")
        say(self.events[-1])
        self.start_runner()

    def restart_postgres(self) -> None:
        started = time.monotonic()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart", "-m", "immediate"],
                       check=True, timeout=120)
        poll(lambda: self.position() >= 0, 60, "PostgreSQL to accept connections again")
        self.events.append(f"PostgreSQL restarted in immediate mode ({time.monotonic() - started:.1f}s)")
        say(self.events[-1])

    def pause(self) -> None:
        """SIGSTOP for --pause seconds: one API worker and every PostgreSQL backend serving this
        run's database (not the postmaster: other databases on the server keep working)."""
        assert self.server is not None
        with psycopg.connect(SERVER, autocommit=True) as conn:
            backends = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.db,))]
        worker = workers_of(self.server.pid)[0]
        stopped = send(signal.SIGSTOP, [worker, *backends])
        say(f"SIGSTOP API worker {worker} and {len(stopped) - 1} PostgreSQL backends for {self.args.pause}s")
        try:
            time.sleep(self.args.pause)  # the length of the fault, not a wait for anything
        finally:
            send(signal.SIGCONT, stopped)
        self.events.append(f"SIGSTOP API worker and {len(stopped) - 1} PostgreSQL backends of the run's "
                           f"database for {self.args.pause}s, then SIGCONT")
        say(self.events[-1])

    def pause_server(self) -> None:
        """SIGSTOP the whole PostgreSQL server (postmaster first, so it forks nothing new, then
        every process it started) for --pause-server seconds, then SIGCONT. A detached watchdog
        sends SIGCONT too, a little later, in case this process dies in between: the server is
        shared, and a server left stopped would stall everyone on it."""
        seconds = self.args.pause_server
        postmaster = int(Path(POSTMASTER_PID_FILE).read_text().split()[0])
        watchdog = subprocess.Popen(
            ["sh", "-c", f"sleep {seconds + 15:.0f}; kill -CONT {postmaster} "
                         f"$(cat /proc/{postmaster}/task/{postmaster}/children) 2>/dev/null"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stopped: list[int] = []
        try:
            self.pause_began = time.monotonic()
            os.kill(postmaster, signal.SIGSTOP)
            stopped.append(postmaster)
            send(signal.SIGSTOP, children(postmaster), stopped)
            say(f"SIGSTOP PostgreSQL: postmaster {postmaster} and {len(stopped) - 1} processes for {seconds:g}s")
            self.probe_until(self.pause_began + seconds)
        finally:
            send(signal.SIGCONT, reversed(stopped))  # the postmaster last: its children are running when it is
            self.pause_ended = time.monotonic()
            watchdog.kill()
            watchdog.wait()
        self.events.append(f"SIGSTOP the whole PostgreSQL server (postmaster and {len(stopped) - 1} processes) "
                           f"for {self.pause_ended - self.pause_began:.1f}s, then SIGCONT")
        say(self.events[-1])

        def ready() -> bool:
            try:
                return httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            poll(ready, RECOVERY_SECONDS, "/readyz to answer 200 after SIGCONT")
        except TimeoutError as error:
            say(error)  # judged with the rest, in judge_server_pause
            return
        self.ready_after = time.monotonic() - self.pause_ended
        say(f"/readyz answered 200 {self.ready_after:.1f}s after SIGCONT")

    def probe_until(self, end: float) -> None:
        """While the server is stopped: /healthz (no database) and /readyz (a fresh connection)
        must still answer, the first 200, the second a 503 problem answer — a worker stuck on
        the database would answer neither. The probes also pace the pause."""
        # /readyz may take its 2 s connect timeout: no probe begins that could outlast the pause.
        while time.monotonic() < end - 3:
            for path in ("/healthz", "/readyz"):
                began = time.monotonic()
                try:
                    answer = httpx.get(f"{self.base}{path}", timeout=max(0.1, end - began))
                    outcome: Any = answer.status_code
                    is_problem = answer.headers.get("content-type", "").startswith("application/problem+json")
                except httpx.HTTPError as error:
                    outcome, is_problem = type(error).__name__, False
                self.probes.append([path, began, time.monotonic(), outcome, is_problem])
            time.sleep(max(0.0, min(1.0, end - 3 - time.monotonic())))  # probe pacing, not synchronisation
        time.sleep(max(0.0, end - time.monotonic()))  # the rest of the fault's length

    def judge_server_pause(self, records: list[dict[str, Any]], failures: list[str]) -> dict[str, Any]:
        """While the whole server was stopped, every request must end in a 503/504 problem
        answer within the request deadline (none waits on); after SIGCONT every client must be
        answered 201 again within RECOVERY_SECONDS, and stay answered normally."""
        from infrastructure.settings import Settings

        began, ended = self.pause_began, self.pause_ended
        deadline = self.args.deadline or Settings().request_deadline_seconds
        bound = deadline + DEADLINE_SLACK_SECONDS
        during: Counter[str] = Counter()   # begun and answered while the server was stopped
        overlapping = 0                    # in flight at some moment of the pause
        longest = 0.0
        recovered: list[float] = []        # per client: SIGCONT to its first 201 begun after it
        for r in records:
            first_ack = None
            for start, end, outcome, is_problem in r["timeline"]:
                if start < ended and end > began:
                    overlapping += 1
                    longest = max(longest, end - start)
                    if end - start > bound or isinstance(outcome, str):
                        failures.append(f"a request in flight during the pause took {end - start:.1f}s "
                                        f"(deadline {deadline:g}s) and ended {outcome}")
                if start >= began and end <= ended:
                    during[f"{outcome}{' problem' if is_problem else ''}"] += 1
                    if outcome not in (503, 504) or not is_problem:
                        failures.append(f"answered {outcome} (problem+json: {is_problem}) while the server was stopped")
                if start >= ended and outcome == 201 and first_ack is None:
                    first_ack = end - ended
                if start >= ended + RECOVERY_SECONDS and outcome not in (201, 409):
                    failures.append(f"{start - ended:.0f}s after SIGCONT still answered {outcome}")
            if first_ack is not None:
                recovered.append(first_ack)
            elif r["timeline"] and r["timeline"][-1][0] >= ended:
                failures.append("a client was never answered 201 after SIGCONT")
        if self.ready_after is None:
            failures.append(f"/readyz did not answer 200 within {RECOVERY_SECONDS}s of SIGCONT")
        if not during:
            failures.append("no request was answered while the server was stopped (the deadline is longer "
                            "than the pause?)")
        if recovered and max(recovered) > RECOVERY_SECONDS:
            failures.append(f"a client's first 201 came {max(recovered):.1f}s after SIGCONT")
        probes: dict[str, Counter[str]] = {"/healthz": Counter(), "/readyz": Counter()}
        for path, start, end, outcome, is_problem in self.probes:
            probes[path][f"{outcome}{' problem' if is_problem else ''}"] += 1
            expected = (200, False) if path == "/healthz" else (503, True)
            if end <= ended and ((outcome, is_problem) != expected or end - start > bound):
                failures.append(f"{path} answered {outcome} in {end - start:.1f}s while the server was stopped")
        return {
            "seconds": round(ended - began, 1), "deadline": deadline,
            "answered_during": dict(during), "in_flight_during": overlapping,
            "longest_in_flight": round(longest, 2),
            "first_201_after_sigcont": round(max(recovered), 2) if recovered else None,
            "readyz_200_after_sigcont": round(self.ready_after, 2) if self.ready_after is not None else None,
            "probes_during": {path: dict(c) for path, c in probes.items()},
        }

    # -- the whole run

    def go(self) -> int:
        args = self.args
        begun = time.monotonic()
        # leaves time to catch up and check (the catch-up's own poll is bounded by the alarm)
        stop_at = begun + args.seconds - min(150, args.seconds / 2)
        token, issues, seeded = self.prepare()
        base = self.base = self.start_server()
        self.start_runner()
        say(f"serving {base} (2 workers), runner started; database {self.db}; {args.clients} clients × "
            f"{args.commands} commands over {len(issues)} issues")
        outs = [str(self.dir / f"client-{i}.json") for i in range(args.clients)]
        ctx = multiprocessing.get_context("spawn")
        clients = [ctx.Process(target=client, args=(i, base, token, issues, args.commands, outs[i], stop_at))
                   for i in range(args.clients)]
        for process in clients:
            process.start()
        expected = seeded + 2 * args.clients * args.commands  # an urging and its kept answer each
        faults: list[tuple[float, Callable[[], None]]] = [(0.2, self.kill_a_worker), (0.4, self.kill_the_runner)]
        if not args.no_postgres_restart:
            faults.append((0.6, self.restart_postgres))
        if args.pause:
            faults.append((0.8, self.pause))
        if args.no_faults:
            faults = [(0.5, self.pause)] if args.pause else []
        if args.pause_server:
            faults.append((0.5 if args.no_faults else 0.9, self.pause_server))
        for share, fault in faults:
            threshold = seeded + share * (expected - seeded)
            poll(lambda: self.position() >= threshold or not any(p.is_alive() for p in clients),  # noqa: B023 — polled here
                 args.seconds, f"the log to reach {threshold:.0f} (from {self.position()})")
            fault()
        while any(p.is_alive() for p in clients):
            self.keep_runner()
            for process in clients:
                process.join(timeout=0.5)
        self.keep_runner()
        say(f"clients done in {time.monotonic() - begun:.0f}s; checking")
        records = [json.loads(Path(out).read_text()) for out in outs]
        self.stop()
        return self.check(records, token)

    def check(self, records: list[dict[str, Any]], token: str) -> int:
        from infrastructure.view_runner import pull
        from interfaces import bootstrap
        from projections.views import LedgerViews

        sent = [key for r in records for key in r["sent"]]
        acked = {key: answer for r in records for key, answer in r["acked"].items()}
        refused = {key: text for r in records for key, text in r["refused"].items()}
        errors: Counter[str] = Counter()
        for r in records:
            errors.update(r["errors"])
        attempts = sum(r["attempts"] for r in records)

        # The runner catches up after everything else stopped: start it once more, alone.
        self.start_runner()
        services = bootstrap.build(self.settings(create_tables=False))
        failures: list[str] = []
        try:
            ledger = services.ledger
            last = ledger.recorder.max_notification_id() or 0
            try:
                poll(lambda: services.merkle.store.progress().position == last
                     and services.audit.store.position() == last and services.views.has_processed(last),
                     120, "the runner to catch up with the log")
            except TimeoutError as error:
                failures.append(str(error))
            self.runner.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            self.runner.wait(timeout=40)  # type: ignore[union-attr]

            # every urging in the log, by its message
            stored: Counter[str] = Counter()
            issue_ids = {UUID(a["id"]) for a in acked.values()} | set(services.issues.issue_ids())
            for issue in issue_ids:
                for urging in services.issues.issue(issue).urgings:
                    if urging["message"].startswith(MARK):
                        stored[urging["message"].removeprefix(MARK)] += 1
            duplicates = sorted(key for key, n in stored.items() if n > 1)
            lost = sorted(key for key in acked if stored[key] == 0)
            # every acknowledged command's kept answer, naming the position it was answered with
            unanswered, misanswered = [], []
            for key, answer in acked.items():
                kept = services.runner.kept_answer("supervisor", key)
                if kept is None:
                    unanswered.append(key)
                    continue
                if kept.answer["id"] != answer["id"] or kept.answer["version"] != answer["version"]:
                    misanswered.append(key)
            # stored without an answer the client saw: allowed (the answer was lost on the way),
            # but then its kept answer must exist so a retry would have been told the truth
            unacked_stored = [key for key in stored if key not in acked]
            orphans = []
            for key in unacked_stored:
                if services.runner.kept_answer("supervisor", key) is None:
                    orphans.append(key)

            from tests.integration.test_views import fresh_store

            clean = fresh_store(ledger, "crash")
            pull(ledger, LedgerViews(view=clean))
            views_equal = services.views.summaries() == clean.all_summaries()
        finally:
            services.close()
        verified = subprocess.run([CARELEDGER, "verify"], env={**self.env, "CARELEDGER_CREATE_TABLES": "false"},
                                  cwd=self.dir, capture_output=True, timeout=300)

        counts = {
            "sent": len(sent), "acknowledged": len(acked), "stored": sum(stored.values()),
            "duplicates": len(duplicates), "lost": len(lost), "attempts": attempts,
            "stored_unacknowledged": len(unacked_stored), "refused": len(refused),
            "retried_because": dict(errors), "log_positions": last,
        }
        report: dict[str, Any] = {"counts": counts, "faults": self.events, "failures": failures}
        if self.args.pause_server:
            report["server_pause"] = self.judge_server_pause(records, failures)
        print(json.dumps(report, ensure_ascii=False, indent=2), flush=True)
        if duplicates:
            failures.append(f"in the log twice: {duplicates[:10]}")
        if lost:
            failures.append(f"answered 201 but not in the log: {lost[:10]}")
        if unanswered or misanswered:
            failures.append(f"kept answers missing {unanswered[:10]} or different {misanswered[:10]}")
        if orphans:
            failures.append(f"stored without a kept answer: {orphans[:10]}")
        if refused:
            failures.append(f"refused outright: {list(refused.items())[:3]}")
        if len(acked) != len(sent):
            failures.append(f"{len(sent) - len(acked)} commands never acknowledged within the time bound")
        if not views_equal:
            failures.append("the views differ from a clean rebuild of the log")
        if verified.returncode != 0:
            failures.append("careledger verify failed: " + (verified.stdout + verified.stderr).decode()[-1000:])
        for failure in failures:
            say("FAIL", failure)
        if self.args.report:
            Path(self.args.report).write_text(json.dumps({**report, "failures": failures}, ensure_ascii=False))
        say("PASS" if not failures else "FAILED", "— careledger verify:", verified.stdout.decode().strip()[-200:])
        return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--commands", type=int, default=1000, help="commands per client")
    parser.add_argument("--issues", type=int, default=3, help="issues the clients share (contention)")
    parser.add_argument("--no-postgres-restart", action="store_true")
    parser.add_argument("--no-faults", action="store_true", help="load only: kill nothing, restart nothing")
    parser.add_argument("--pause", type=float, default=0,
                        help="also SIGSTOP an API worker and the database's backends for this many seconds")
    parser.add_argument("--pause-server", type=float, default=0, metavar="SECONDS",
                        help=f"also SIGSTOP the whole PostgreSQL server (at most {MAX_SERVER_PAUSE_SECONDS}s)")
    parser.add_argument("--deadline", type=float, default=0, metavar="SECONDS",
                        help="the API's request deadline (CARELEDGER_REQUEST_DEADLINE_SECONDS); "
                             f"under {CLIENT_TIMEOUT_SECONDS - 5}s so a hang shows as a client timeout")
    parser.add_argument("--seconds", type=int, default=DEFAULT_SECONDS,
                        help="bound of the whole run: past it the run stops, cleans up and fails")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    parser.add_argument("--report", help="also write the counts, faults and failures to this JSON file")
    args = parser.parse_args()
    if os.geteuid() != 0 and not (args.no_postgres_restart or args.no_faults):
        say("restarting PostgreSQL needs root (pg_ctlcluster); use --no-postgres-restart")
        return 2
    if not 0 <= args.pause_server <= MAX_SERVER_PAUSE_SECONDS:
        parser.error(f"--pause-server is at most {MAX_SERVER_PAUSE_SECONDS} seconds")
    if args.pause_server and os.geteuid() != 0:
        say("pausing the PostgreSQL server needs root (it runs as postgres)")
        return 2
    if not 0 <= args.deadline <= CLIENT_TIMEOUT_SECONDS - 5:
        parser.error(f"--deadline is at most {CLIENT_TIMEOUT_SECONDS - 5} seconds")
    signal.signal(signal.SIGALRM,
                  lambda *_: (_ for _ in ()).throw(TimeoutError(f"crash test over {args.seconds} seconds")))
    signal.alarm(args.seconds)
    run = Run(args)
    try:
        return run.go()
    except Exception as error:  # noqa: BLE001 — the run could not be carried out
        say("ERROR", type(error).__name__, error)
        return 2
    finally:
        signal.alarm(0)
        run.stop()
        run.cleanup()


if __name__ == "__main__":
    sys.exit(main())
