"""One background job at a time: progress while it runs, its result or failure once done."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from infrastructure.jobs import OneAtATime

WAIT = 10  # seconds; every wait below ends as soon as the event it waits on is set


def clock() -> datetime:
    return datetime(2019, 3, 1, tzinfo=UTC)


def held_work(release: threading.Event, reached: threading.Event) -> Callable[[Callable[[int], None]], str]:
    def work(report: Callable[[int], None]) -> str:
        report(40)
        reached.set()
        assert release.wait(WAIT)
        report(100)
        return "done"

    return work


def test_a_second_start_while_one_runs_answers_the_running_job_and_runs_nothing_more() -> None:
    jobs = OneAtATime(clock)
    release, reached = threading.Event(), threading.Event()
    first, started = jobs.start(held_work(release, reached), by="inspector", total=100)
    assert started and reached.wait(WAIT)
    assert first.running and first.done == 40 and first.percent == 40

    again, started_again = jobs.start(lambda report: "never run", by="supervisor", total=5)
    assert again is first and not started_again and jobs.latest is first

    release.set()
    assert first.wait(WAIT)
    assert not first.running and first.result == "done" and first.error is None and first.percent == 100
    assert first.started_by == "inspector" and first.finished_at is not None


def test_a_finished_job_makes_way_for_a_new_one() -> None:
    jobs = OneAtATime(clock)
    first, _ = jobs.start(lambda report: 1, by="inspector", total=0)
    assert first.wait(WAIT)
    second, started = jobs.start(lambda report: 2, by="admin", total=0)
    assert started and second is not first and second.number == first.number + 1
    assert second.wait(WAIT) and second.result == 2 and jobs.latest is second


def test_a_failing_job_finishes_with_the_name_of_its_error_only() -> None:
    def fails(report: Callable[[int], None]) -> None:
        raise ValueError("王小明 110105201205153418")  # an error's text may quote stored data

    jobs = OneAtATime(clock)
    job, _ = jobs.start(fails, by="inspector", total=10)
    assert job.wait(WAIT)
    assert job.error == "ValueError" and job.result is None and not job.running
    follow_up, started = jobs.start(lambda report: "ok", by="inspector", total=0)
    assert started and follow_up.wait(WAIT) and follow_up.result == "ok"
