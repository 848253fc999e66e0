"""Verify: `careledger verify` (infrastructure.verify.verify_log) in events per second, against
reading the log raw plus hashing alone.

Rows, over the same generated log (bench.generate) with its Merkle log caught up:

- raw read + SHA-256 of each row's state: the floor;
- raw read + the leaf hash (projections.merkle.stored_leaf_hash: the leaf encoding and hash
  verify recomputes for every event): the baseline for the target;
- raw read + the leaf hash through the general encoding (a dict, json.dumps), as verify
  computed it before, for reference;
- verify_log: events and leaves in one read, tree nodes and every signed head checked.

    .venv/bin/python -m bench.verify --events 100000
    .venv/bin/python -m bench.verify --url postgresql://postgres@127.0.0.1/db --keys DIR

With ``--url`` it measures an existing store (written by bench.generate, its key files in
``--keys``) instead of generating one; its Merkle log is caught up first.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any
from uuid import UUID

from bench.common import (
    Scratch,
    build_services,
    chosen_store,
    figure,
    median,
    progress,
    rate,
    ratio,
    store_parser,
    table,
)

PAGE = 1000


def raw_hash(s: Scratch, table_name: str, how: str) -> float:
    from projections import merkle

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
                if how == "sha":
                    hashlib.sha256(r[4]).digest()
                    continue
                oid = r[1] if isinstance(r[1], UUID) else UUID(r[1])
                if how == "leaf":
                    merkle.stored_leaf_hash(oid, r[2], r[3], bytes(r[4]), r[0])
                else:
                    merkle.leaf_hash(merkle.canonical_leaf(oid, r[2], r[3], bytes(r[4]), r[0]))
            last = rows[-1][0]
        return time.perf_counter() - start
    finally:
        conn.close()


def measure(s: Scratch, reps: int, size: int | None) -> None:
    from infrastructure.keyring import Keyring
    from infrastructure.merkle_store import merkle_store_for
    from infrastructure.verify import verify_log

    services = build_services(s, size, f"verify {s.backend}")
    try:
        ledger = services.ledger
        t0 = time.perf_counter()
        before = services.merkle.store.progress().tree_size
        services.merkle.catch_up()
        total = ledger.recorder.max_notification_id() or 0
        fold = time.perf_counter() - t0
        folded = services.merkle.store.progress().tree_size - before
        progress(f"verify {s.backend}: Merkle log of {total:,} ({folded:,} folded in now) in {fold:.0f} s")
        table_name = ledger.recorder.events_table_name
        store = merkle_store_for(ledger.factory.datastore)
        keys = Keyring.load(s.settings().signing_key_file, [])
        from infrastructure.snapshot_check import snapshot_check

        results: list[Any] = []

        def checked(**kwargs: Any) -> float:
            start = time.perf_counter()
            results.append(verify_log(ledger.recorder, store, keys, **kwargs))
            return time.perf_counter() - start

        # Interleaved, a repetition of each in turn: load that comes and goes on the shared
        # machine hits the baseline and the paths alike; each ratio is the median of the
        # repetitions' own ratios.
        runs: dict[str, list[float]] = {"sha": [], "leaf": [], "general": [], "log": [], "full": [], "serial": []}
        for _ in range(reps):
            for how in ("sha", "leaf", "general"):
                runs[how].append(raw_hash(s, table_name, how))
            runs["log"].append(checked())
            runs["full"].append(checked(snapshots=snapshot_check(ledger, 2)))
            runs["serial"].append(checked(snapshots=snapshot_check(ledger)))
        assert all(r.intact for r in results), results[-1].summary()
        sha, leaf, general, ver, full = (median(runs[k]) for k in ("sha", "leaf", "general", "log", "full"))
        per_rep = {k: median([b / v for b, v in zip(runs["leaf"], runs[k], strict=True)]) for k in runs}
        heads = results[-1].heads_checked
        progress(f"verify {s.backend}: verify {total / ver:,.0f}/s, raw read + leaf hash {total / leaf:,.0f}/s")
    finally:
        services.close()
    figure(f"verify_log, {s.backend}, {total:,} events, to the raw read + leaf hash", ratio=per_rep["log"],
           goal=">= 0.5", met=per_rep["log"] >= 0.5)
    figure(f"careledger verify (snapshot check included), {s.backend}, {total:,} events, to the raw read + leaf hash",
           ratio=per_rep["full"], goal=">= 0.5", met=per_rep["full"] >= 0.5)
    rows = [["raw read + SHA-256 of the state", rate(total / sha), f"{per_rep['sha']:.2f}×"],
            ["raw read + leaf hash (stored_leaf_hash)", rate(total / leaf), "1.00×"],
            ["raw read + leaf hash, general encoding (dict + json.dumps)", rate(total / general),
             f"{per_rep['general']:.2f}×"],
            ["verify_log (the log: events, leaves, nodes, heads)", rate(total / ver), f"{per_rep['log']:.2f}×"],
            ["careledger verify (the log, and every snapshot against its events in a second process)",
             rate(total / full), f"{per_rep['full']:.2f}×"],
            ["the same in one process (the log, then the snapshots; the dashboard's check)",
             rate(total / median(runs["serial"])), f"{per_rep['serial']:.2f}×"]]
    if folded:
        rows.append([f"Merkle log fold of {folded:,} (once, for reference)", rate(folded / fold),
                     ratio(leaf * folded / total, fold)])
    table(
        f"Verify, {s.backend} ({total:,} events, {heads} signed heads)",
        ["path", "events/s", "ratio to raw read + leaf hash (target for verify ≥ 0.5×)"],
        rows,
        [f"medians of {reps}, interleaved (each repetition runs every row in turn); each ratio is the median of "
         f"the repetitions' own ratios; load average {os.getloadavg()[0]:.1f} at the end; the raw rows read "
         "1,000 a page with psycopg/sqlite3 tuples, as verify's "
         "one joined read of events and leaves does.",
         "ratio = baseline time / path time, so above 1 is faster than the baseline.",
         "verify_log also reads every leaf and stored subtree and recomputes every node hash "
         "(about one SHA-256 per event more), which the baseline does not."],
    )


def main() -> None:
    parser = store_parser("verify benchmark")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with chosen_store(args, "verify") as (s, events):
        measure(s, args.reps, events)


if __name__ == "__main__":
    main()
