"""Issue 20, items 2–4 on an existing PostgreSQL store (bench.generate's): the rebuild and
verify side by side with their baselines, and a loop of verifies for py-spy to sample.

    .venv/bin/python -m bench.profiles.store rebuild --url postgresql://…/db --keys DIR
    .venv/bin/python -m bench.profiles.store verify --url … --keys DIR
    py-spy record --rate 400 --format raw --subprocesses -o verify.txt -- \\
        .venv/bin/python -m bench.profiles.store verify-loop --url … --keys DIR
    py-spy record --rate 200 --format raw -o rebuild.txt -- .venv/bin/careledger rebuild
    .venv/bin/python -m bench.profiles.shares verify.txt --preset verify-walk   # or verify-snapshots, rebuild
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from bench.common import Scratch, median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["rebuild", "verify", "verify-loop"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--keys", type=Path, required=True, help="the directory of signing-key.pem and data-key")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    s = Scratch("postgres", args.url, args.keys, args.url.rsplit("/", 1)[-1])
    if args.what == "rebuild":
        from bench.views import raw_read_until, rebuild_in_child

        n = _size(s)
        ratios = []
        for _ in range(args.reps):
            raw = raw_read_until(s, "careledger_events", n)
            rebuilt, _ = rebuild_in_child(s)
            ratios.append(raw / rebuilt)
            print(f"raw {n / raw:,.0f}/s, rebuild {n / rebuilt:,.0f}/s: {raw / rebuilt:.3f}×; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
        print(f"median {median(ratios):.3f}×")
        return
    from bench.common import build_services
    from bench.verify import raw_hash
    from infrastructure.keyring import Keyring
    from infrastructure.merkle_store import merkle_store_for
    from infrastructure.snapshot_check import snapshot_check
    from infrastructure.verify import verify_log

    services = build_services(s)
    try:
        ledger = services.ledger
        services.merkle.catch_up()
        store = merkle_store_for(ledger.factory.datastore)
        keys = Keyring.load(s.settings().signing_key_file, [])
        total = ledger.recorder.max_notification_id() or 0

        def checked(**kwargs: Any) -> float:
            start = time.perf_counter()
            assert verify_log(ledger.recorder, store, keys, **kwargs).intact
            return time.perf_counter() - start

        if args.what == "verify-loop":
            for _ in range(args.reps + 1):
                print(f"verify with the snapshot check: {checked(snapshots=snapshot_check(ledger, 2)):.2f} s")
            return
        runs: dict[str, list[float]] = {"leaf": [], "log": [], "two": [], "one": []}
        for _ in range(args.reps):
            runs["leaf"].append(raw_hash(s, "careledger_events", "leaf"))
            runs["log"].append(checked())
            runs["two"].append(checked(snapshots=snapshot_check(ledger, 2)))
            runs["one"].append(checked(snapshots=snapshot_check(ledger)))
        for name, label in (("log", "verify_log"), ("two", "with the snapshot check in a second process"),
                            ("one", "with the snapshot check after the walk, one process")):
            ratio = median([b / v for b, v in zip(runs["leaf"], runs[name], strict=True)])
            print(f"{label}: {total / median(runs[name]):,.0f}/s, {ratio:.2f}× the raw read + leaf hash")
        print(f"raw read + leaf hash {total / median(runs['leaf']):,.0f}/s; load {os.getloadavg()[0]:.2f}")
    finally:
        services.close()


def _size(s: Scratch) -> int:
    conn = s.connect()
    try:
        return int(conn.execute("SELECT max(notification_id) FROM careledger_events").fetchone()[0] or 0)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
