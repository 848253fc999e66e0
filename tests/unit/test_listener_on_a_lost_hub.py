"""A district's listener on the process's one listening connection (infrastructure.notice_hub)
meets a hub that cannot connect as it would its own connection: every round fails, the wait
between rounds doubles, and it is never reported as following meanwhile."""

from __future__ import annotations

import threading

from infrastructure.log_notices import HubLost, listen
from infrastructure.notice_hub import NoticeHub
from infrastructure.retrying import Retrying
from tests.serving import until


class _Recorder:
    channel_name = "ledger_events"

    class datastore:  # noqa: N801 — the recorder's attribute as the library names it
        schema = "d420112"


def test_a_listener_whose_hub_cannot_connect_backs_off_and_never_reports_following() -> None:
    hub = NoticeHub("host=127.0.0.1 port=1 dbname=nothing user=nobody connect_timeout=1")  # nothing listens there
    wake, stopping = threading.Event(), threading.Event()
    retrying = Retrying("views_listener", first=0.05, most=0.4)
    states: list[str] = []
    thread = listen(_Recorder, wake, stopping, retrying, retry=True, hub=hub)
    assert thread is not None
    try:
        assert until(lambda: states.append(retrying.status()["state"]) or retrying.failures >= 4, seconds=30), \
            retrying.status()
        assert isinstance(retrying.error, HubLost)
        # The wait grew with the failures in a row (0.05, 0.1, 0.2, 0.4): none reset it.
        assert retrying.status()["failures"] >= 4
        assert "following" not in states[1:]
        assert wake.is_set()  # the follower was told to look for itself
    finally:
        stopping.set()
        thread.join(timeout=10)
        hub.close()
    assert not thread.is_alive()
