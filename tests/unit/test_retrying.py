"""The one backoff every follower thread retries with (infrastructure.retrying)."""

from __future__ import annotations

import threading

from infrastructure.retrying import Retrying


def test_the_wait_after_each_failure_doubles_to_the_most_and_starts_again_after_a_good_round() -> None:
    retrying = Retrying("a_follower", first=1.0, most=30.0)
    waits = [retrying.failed(OSError("down"))[1] for _ in range(7)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    failing = retrying.status()
    assert failing["state"] == "failing" and failing["failures"] == 7 and failing["error"] == "OSError"
    retrying.recovered()
    following = retrying.status()
    assert following["state"] == "following" and "error" not in following and following["caught_up_at"]
    assert retrying.failed(OSError("down again")) == (1, 1.0)


def test_without_retry_the_first_error_ends_the_run_and_is_kept() -> None:
    retrying, rounds = Retrying("a_follower"), []

    def round_() -> None:
        rounds.append(1)
        raise OSError("down")

    retrying.run(round_, threading.Event(), retry=False)  # returns by itself: nothing waits
    assert rounds == [1] and retrying.stopped and isinstance(retrying.error, OSError)
    assert retrying.status()["state"] == "stopped"
