"""Verify: `careledger verify` (infrastructure.verify.verify_log) in events per second, against
reading the log raw plus hashing alone.

Rows, over the same generated log (bench.generate) with its Merkle log caught up:

- raw read + SHA-256 of each row's state: the floor;
- raw read + the leaf hash (projections.merkle_log.leaf_of: the leaf encoding and hash
  verify recomputes): the baseline for the target;
- verify_log: events, leaves, tree nodes and every signed head checked.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from typing import Any

from bench.common import Scratch, build_services, median, progress, rate, ratio, repeat, scratch, table
from bench.generate import DistrictGenerator

PAGE = 1000


def raw_hash(s: Scratch, table_name: str, leaf: bool) -> float:
    from eventsourcing.persistence import Notification
    from uuid import UUID

    from projections.merkle_log import leaf_of

    conn = s.connect()
    key, mark = ("notification_id", "%s") if s.backend == "postgres" else ("rowid", "?")
    try:
        start, last = time.perf_counter(), 0
        while True:
            rows = conn.execute(f"SELECT {key}, originator_id, originator_version, topic, state FROM {table_name} "
                                f"WHERE {key} > {mark} ORDER BY {key} LIMIT {PAGE}", (last,)).fetchall()
            if not rows:
                break
            for r in rows:
                if leaf:
                    oid = r[1] if isinstance(r[1], UUID) else UUID(r[1])
                    leaf_of(Notification(id=r[0], originator_id=oid, originator_version=r[2], topic=r[3],
                                         state=bytes(r[4])))
                else:
                    hashlib.sha256(r[4]).digest()
            last = rows[-1][0]
        return time.perf_counter() - start
    finally:
        conn.close()


def run(backend: str, size: int, reps: int) -> None:
    from infrastructure.keyring import Keyring
    from infrastructure.merkle_store import merkle_store_for
    from infrastructure.verify import verify_log

    with scratch(backend, "verify") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            gen = DistrictGenerator(ledger, batch=100)
            t0 = time.perf_counter()
            gen.extend(size)
            progress(f"verify {backend}: {gen.written:,} events generated ({time.perf_counter() - t0:.0f} s)")
            t0 = time.perf_counter()
            services.merkle.catch_up()
            total = ledger.recorder.max_notification_id() or 0
            fold = time.perf_counter() - t0
            progress(f"verify {backend}: Merkle log of {total:,} in {fold:.0f} s")
            table_name = ledger.recorder.events_table_name
            store = merkle_store_for(ledger.factory.datastore)
            keys = Keyring.load(s.settings().signing_key_file, [])
            sha = median(repeat(lambda: raw_hash(s, table_name, False), reps))
            leaf = median(repeat(lambda: raw_hash(s, table_name, True), reps))
            results: list[Any] = []

            def one() -> float:
                start = time.perf_counter()
                results.append(verify_log(ledger.recorder, store, keys))
                return time.perf_counter() - start

            ver = median(repeat(one, reps))
            assert all(r.intact for r in results), results[-1].summary()
            heads = results[-1].heads_checked
        finally:
            services.close()
    table(
        f"Verify, {backend} ({total:,} events, {heads} signed heads)",
        ["path", "events/s", "ratio to raw read + leaf hash (target for verify ≥ 0.5×)"],
        [["raw read + SHA-256 of the state", rate(total / sha), ratio(leaf, sha)],
         ["raw read + leaf hash (leaf_of)", rate(total / leaf), "1.00×"],
         ["verify_log (careledger verify)", rate(total / ver), ratio(leaf, ver)],
         ["Merkle log fold (once, for reference)", rate(total / fold), ratio(leaf, fold)]],
        [f"medians of {reps}; rows are read 1,000 a page, as verify reads them.",
         "ratio = baseline time / path time, so above 1 is faster than the baseline."],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="verify benchmark")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    run(args.backend, args.events, args.reps)


if __name__ == "__main__":
    main()
