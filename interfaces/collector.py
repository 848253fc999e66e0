"""The serving process's cyclic garbage collector: what has lived through a slow full
collection is frozen out of the next ones (``gc.freeze``).

A serving process holds its views in memory: the briefs (infrastructure.brief_cache) and
each brief's part of each view (projections.kept), several hundred thousand containers at
10⁶ events. CPython's full collections walk every one of them and find nearly nothing to
free (they are trees, freed by reference counting when replaced): 0.3–1.3 s each on a
shared 2-core machine, a pause in whichever request meets it, which was the pages' p99
(docs/BENCHMARKS.md). Once a full collection is slow, what survived it is frozen, so the
next ones walk only what was made since.

The price: a cycle among frozen objects that later becomes garbage is not collected while
frozen (the views' data hold none; a request in flight at the freeze, a replaced connection
might). So once an hour what is frozen is thawed instead (``gc.unfreeze``): the next full
collection walks it all once, frees those cycles, and freezes what survives again. One
slow collection an hour instead of one every few seconds. Installed by the serving process
only (interfaces.http.main, the module uvicorn's workers import, and bench/pages.py as it
serves), not in tests or one-off commands.
"""

from __future__ import annotations

import gc
import time
from typing import Any

# A full collection slower than this freezes what survived it.
SLOW_SECONDS = 0.02
# A full collection after this many collections of the middle generation at most (CPython:
# 10). What it walks is what lived on since the last freeze, and the views' parts replaced
# by each write die by reference count meanwhile, so a rarer collection walks hardly more:
# at 10⁶ events, 20 requests to each of four pages with a write before each, 2 full
# collections (528 ms in all) instead of 43 (1,014 ms).
FULL_EVERY = 100
# How long objects stay frozen before they are thawed for one full collection.
THAW_SECONDS = 3600.0

_started: list[float] = []
_thawed: list[float] = []


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if info["generation"] != 2:
        return
    now = time.monotonic()
    if phase == "start":
        _started[:] = [now]
        return
    if not _thawed:
        _thawed.append(now)
    # Asked at the end of every full collection, not only of slow ones: once all is frozen,
    # the full collections are quick, and the hourly thaw must still come.
    if now - _thawed[0] > THAW_SECONDS:
        _thawed[:] = [now]
        gc.unfreeze()
    elif _started and now - _started[0] > SLOW_SECONDS:
        gc.freeze()


def settle_long_lived() -> None:
    """Installs the freeze after slow full collections, and makes full collections rarer
    (once per process)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_EVERY)
