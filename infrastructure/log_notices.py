"""Waking a follower as soon as the log grows: the library's PostgreSQL recorder sends a
NOTIFY on its events table's channel with every insert, delivered when the insert commits.

A follower that only polled would add up to its interval to every view's lag; one that
waited on the library's subscription would get the events one at a time. Here a notice
only wakes the follower, which then folds everything recorded since its position in batches
(infrastructure.view_runner.pull).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

from infrastructure.retrying import Retrying

if TYPE_CHECKING:
    from infrastructure.notice_hub import NoticeHub

# How often the listening thread looks at ``stopping`` when no notice arrives.
POLL_SECONDS = 0.2


class HubLost(Exception):
    """The process's one listening connection (infrastructure.notice_hub) was lost."""


def listen(
    recorder: Any, wake: threading.Event, stopping: threading.Event, retrying: Retrying, *, retry: bool,
    hub: NoticeHub | None = None,
) -> threading.Thread | None:
    """Starts a thread setting ``wake`` at each notice on ``recorder``'s channel until
    ``stopping`` is set. A lost connection is met as ``retrying`` says: listened again on
    a new one after a pause (a serving process; meanwhile the follower looks every interval),
    or, with ``retry=False``, the thread ends with the error in ``retrying`` (`careledger
    project`: its supervisor starts it again). None when the recorder sends no notices
    (SQLite: its follower polls). With ``hub`` (a deployment of several districts) the
    thread holds no connection: it subscribes to the process's one listening connection
    (infrastructure.notice_hub) and meets the loss of that one the same way."""
    channel = getattr(recorder, "channel_name", None)
    if channel is None:
        return None

    def listening() -> None:
        try:
            with recorder.datastore.get_connection() as conn:
                conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                retrying.recovered()
                # Whatever was recorded before the LISTEN took effect (before a lost
                # connection's, too) is the follower's next catch-up's to fold; from here
                # every commit wakes it.
                wake.set()
                while not stopping.is_set():
                    for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                        wake.set()
        except BaseException:
            wake.set()  # the follower looks now, not a whole interval after the last notice
            raise

    def subscribed() -> None:
        assert hub is not None
        lost: list[BaseException] = []
        ended, listened = threading.Event(), threading.Event()

        def failed(error: BaseException) -> None:
            lost.append(error)
            ended.set()

        hub.subscribe(channel, recorder.datastore.schema, wake, stopping, failed, listened)
        recovered = False
        while not stopping.is_set() and not ended.wait(POLL_SECONDS):
            # Following again once the hub listens for it, not when asked: a hub that cannot
            # connect fails every round, and the rounds' wait grows as a connection's own would.
            if not recovered and listened.is_set():
                retrying.recovered()
                recovered = True
        if lost:
            # Its own error: the hub's one is raised in every district's thread at once.
            raise HubLost(f"the process's listening connection was lost: {type(lost[0]).__name__}") from lost[0]

    thread = threading.Thread(target=retrying.run, args=(listening if hub is None else subscribed, stopping),
                              kwargs={"retry": retry}, name="careledger-log-notices", daemon=True)
    thread.start()
    return thread
