"""The statistics the benches' figures rest on: the Idempotency-Key comparison's interval of
the median (bench/append.py) and the busy-sample shares of a py-spy profile
(bench/profiles/shares.py)."""

from __future__ import annotations

from pathlib import Path

from bench.append import median_interval
from bench.profiles.shares import busy, shares, stacks


def test_the_median_interval_of_24_pairs_is_their_7th_and_18th() -> None:
    values = [float(v) for v in range(24, 0, -1)]  # unordered on purpose
    assert median_interval(values) == (7.0, 18.0)


def test_the_median_interval_of_one_value_is_that_value() -> None:
    assert median_interval([0.9]) == (0.9, 0.9)


def test_idle_threads_are_left_out_of_the_busy_samples(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "Thread._bootstrap (threading.py:1);WorkerThread.run (anyio/_backends/_asyncio.py:2);"
        "Queue.get (queue.py:3);Condition.wait (threading.py:4) 70\n"
        "Thread._bootstrap (threading.py:1);WorkerThread.run (anyio/_backends/_asyncio.py:2);"
        "urge (interfaces/http/issues.py:9);GroupCommit.save (application/group_commit.py:5) 20\n"
        "<module> (careledger:6);Runner.run (asyncio/runners.py:7) 5\n"
        "<module> (careledger:6);solve_dependencies (fastapi/dependencies/utils.py:8) 10\n"
    )
    rows = busy(stacks(str(raw)))
    tally, total = shares(rows, [("save", ["GroupCommit.save"]), ("validation", ["solve_dependencies"])])
    assert total == 30
    assert tally == {"save": 20, "validation": 10}
