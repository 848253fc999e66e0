"""What `careledger verify` reads, in step with its walk (infrastructure.verify): pages of
events paired with their leaves, and the stored subtrees a level at a time, compared with
the ones the walk recomputes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

from projections.merkle_log import LeafRow, MerkleLogStore, StoredRow

Page = list[tuple[StoredRow | None, LeafRow | None]]


def batches(
    fetch: Callable[[int | None], list], key: Callable[[object], int], start: int | None
) -> Iterator:  # type: ignore[type-arg]
    while True:
        batch = fetch(start)
        yield from batch
        if not batch:
            return
        start = key(batch[-1]) + 1


def pages(store: MerkleLogStore, table: str, leaf_end: int, batch_size: int) -> Iterator[Page]:
    """Events and leaves in step, a page of each per read (see events_with_leaves). Where
    the store reads concurrently, the next page is asked for before this one is checked:
    the database finds it while the hashes are computed."""
    def read(after: int | None, first_leaf: int) -> Page:
        return store.events_with_leaves(table, after, first_leaf, leaf_end, batch_size)

    with ThreadPoolExecutor(1, thread_name_prefix="careledger-verify-read") as reader:
        after: int | None = None
        first_leaf = 0
        page = read(after, first_leaf)
        while page:
            last_event = next((e for e, _ in reversed(page) if e is not None), None)
            last_leaf = next((x for _, x in reversed(page) if x is not None), None)
            if last_event is not None:
                after = last_event[0]
            if last_leaf is not None:
                first_leaf = last_leaf[0] + 1
            if store.reads_concurrently:
                following = reader.submit(read, after, first_leaf)
                yield page
                page = following.result()
            else:
                yield page
                page = read(after, first_leaf)


class StoredSubtrees:
    """The stored subtrees, one stream per level, against those the walk completes; only
    the first wrong one of a level is kept (``bad_levels``: level -> its index): beyond it
    the stream is out of step."""

    def __init__(self, store: MerkleLogStore, batch_size: int) -> None:
        self.store = store
        # Four pages of events' worth a read: the first level has half as many subtrees as
        # leaves, the next a quarter, so a read a page was a round trip per ~1,000.
        self.page = 4 * batch_size
        self.streams: dict[int, Iterator[tuple[int, bytes]]] = {}
        self.bad_levels: dict[int, int] = {}

    def _stream(self, level: int) -> Iterator[tuple[int, bytes]]:
        stream = self.streams.get(level)
        if stream is None:
            stream = self.streams[level] = batches(
                lambda start: list(self.store.nodes(level, start, self.page)), lambda n: n[0], 0)
        return stream

    def check(self, level: int, index: int, expected: bytes) -> None:
        """One subtree the recomputed tree completed, in the order they complete."""
        if level in self.bad_levels:
            return
        got = next(self._stream(level), None)
        if got is None or got[0] != index or bytes(got[1]) != expected:
            self.bad_levels[level] = index

    def check_level(self, level: int, completed: list[tuple[int, bytes]]) -> None:
        """``check`` for subtrees of one level completed in turn, compared as a list."""
        if level in self.bad_levels:
            return
        stored = list(islice(self._stream(level), len(completed)))
        if stored == completed:
            return
        for at, (index, expected) in enumerate(completed):
            got = stored[at] if at < len(stored) else None
            if got is None or got[0] != index or bytes(got[1]) != expected:
                self.bad_levels[level] = index
                return
