"""Waking a follower as soon as the log grows: the library's PostgreSQL recorder sends a
NOTIFY on its events table's channel with every insert, delivered when the insert commits.

A follower that only polled would add up to its interval to every view's lag; one that
waited on the library's subscription would get the events one at a time. Here a notice
only wakes the follower, which then folds everything recorded since its position in batches
(infrastructure.view_runner.pull).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from infrastructure.notice_hub import NoticeHub

# How often the listening thread looks at ``stopping`` when no notice arrives.
POLL_SECONDS = 0.2


def listen(
    recorder: Any, wake: threading.Event, stopping: threading.Event, failed: Callable[[BaseException], None],
    hub: NoticeHub | None = None,
) -> threading.Thread | None:
    """Starts a thread setting ``wake`` at each notice on ``recorder``'s channel until
    ``stopping`` is set; ``failed`` gets the error that ends it (a lost connection: the
    process's supervisor starts it again). None when the recorder sends no notices (SQLite:
    its follower polls). With ``hub`` (a deployment of several districts), no thread: the
    process's one listening connection wakes it (infrastructure.notice_hub)."""
    channel = getattr(recorder, "channel_name", None)
    if channel is None:
        return None
    if hub is not None:
        hub.subscribe(channel, recorder.datastore.schema, wake, stopping, failed)
        return None

    def run() -> None:
        try:
            with recorder.datastore.get_connection() as conn:
                conn.execute(SQL("LISTEN {0}").format(Identifier(channel)))
                # Whatever was recorded before the LISTEN took effect is the follower's
                # first catch-up's to fold; from here every commit wakes it.
                wake.set()
                while not stopping.is_set():
                    for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                        wake.set()
        except BaseException as error:  # noqa: BLE001 — handed to the follower, which stops the process
            failed(error)
            wake.set()

    thread = threading.Thread(target=run, name="careledger-log-notices", daemon=True)
    thread.start()
    return thread
