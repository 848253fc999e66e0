"""The crash test (bench/crash_test.py), short: API workers and the runner killed with SIGKILL
(normal suite), and PostgreSQL restarted in immediate mode too (slow: `make crash-test`, alone,
because it breaks every other test's connections for a moment); pauses with SIGSTOP of a worker
and the run's backends, and of the whole PostgreSQL server (slow, for the same reason)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends import require_postgres

ROOT = Path(__file__).resolve().parents[2]


def crash_test(tmp_path: Path, *args: str, seconds: int) -> dict:  # type: ignore[type-arg]
    require_postgres()
    report = tmp_path / "report.json"
    # The script bounds itself (--seconds) and then stops its server and runner and drops its
    # database; the outer timeout is for a script that could not, and shows what it printed.
    try:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "crash_test.py"), "--report", str(report),
                               "--seconds", str(seconds), *args],
                              capture_output=True, timeout=seconds + 60, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the crash test outlived its own bound of {seconds}s:\n"
                    + (expired.stdout or b"").decode() + (expired.stderr or b"").decode()[-3000:])
    output = done.stdout.decode() + done.stderr.decode()[-3000:]
    assert done.returncode == 0, output
    result = json.loads(report.read_text())
    counts = result["counts"]
    assert counts["sent"] == counts["acknowledged"] > 0, output
    assert counts["duplicates"] == counts["lost"] == counts["refused"] == 0, output
    assert counts["stored"] == counts["acknowledged"] + counts["stored_unacknowledged"], output
    assert result["failures"] == [], output
    return result  # type: ignore[no-any-return]


@pytest.mark.postgres
def test_killed_api_worker_and_runner_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    result = crash_test(tmp_path, "--commands", "40", "--no-postgres-restart", seconds=120)
    assert any(f.startswith("SIGKILL API worker") for f in result["faults"])
    assert any(f.startswith("SIGKILL runner") for f in result["faults"])


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_worker_and_runner_and_postgres_restarted_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("restarting PostgreSQL needs root and pg_ctlcluster")
    result = crash_test(tmp_path, "--commands", "150", seconds=180)
    assert any(f.startswith("PostgreSQL restarted") for f in result["faults"])


@pytest.mark.slow
@pytest.mark.postgres
def test_32_concurrent_writers_times_500_commands_over_200_issues_are_stored_exactly_once(tmp_path: Path) -> None:
    """~3 minutes on 2 CPUs: 16,000 commands through two API workers."""
    result = crash_test(tmp_path, "--clients", "32", "--commands", "500", "--issues", "200", "--no-faults",
                        seconds=600)
    assert result["counts"]["acknowledged"] == 16_000
    server_errors = {k: n for k, n in result["counts"]["retried_because"].items() if k.startswith("5")}
    assert server_errors == {}


@pytest.mark.slow
@pytest.mark.postgres
def test_a_paused_api_worker_and_database_lose_and_duplicate_nothing_and_nothing_hangs_after(tmp_path: Path) -> None:
    """SIGSTOP for 8 s of one API worker and every PostgreSQL backend of the run's database."""
    result = crash_test(tmp_path, "--commands", "100", "--no-faults", "--pause", "8", seconds=120)
    assert any(f.startswith("SIGSTOP") for f in result["faults"])


# Other engineers' work shares the server: keep each pause short (≤ 30 s) and the runs few.
SERVER_PAUSE_SECONDS = min(float(os.environ.get("CARELEDGER_SERVER_PAUSE_SECONDS", "8")), 30.0)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_paused_postgres_server_gets_problem_answers_within_the_deadline_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """SIGSTOP of the whole PostgreSQL server (postmaster and every process of it) while four
    clients write; the API's request deadline is 3 s. The script fails the run unless every
    request answered during the pause was a 503/504 problem answer within the deadline, /healthz
    kept answering and /readyz answered 503, and after SIGCONT /readyz and every client were
    answered normally within 20 s; then the usual exactly-once checks."""
    if os.geteuid() != 0:
        pytest.fail("stopping the PostgreSQL server's processes needs root")
    result = crash_test(tmp_path, "--commands", "200", "--no-faults", "--deadline", "3",
                        "--pause-server", f"{SERVER_PAUSE_SECONDS:g}", seconds=240)
    pause = result["server_pause"]
    print(json.dumps({"counts": result["counts"], "server_pause": pause}, ensure_ascii=False))  # for the record (-s)
    assert any(f.startswith("SIGSTOP the whole PostgreSQL server") for f in result["faults"])
    answered = pause["answered_during"]
    assert answered and set(answered) <= {"503 problem", "504 problem"}, pause
    assert pause["longest_in_flight"] <= 3 + 3, pause
    assert pause["first_201_after_sigcont"] is not None and pause["first_201_after_sigcont"] <= 20, pause
    assert pause["probes_during"]["/healthz"].get("200", 0) > 0, pause
