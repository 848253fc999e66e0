"""Issue 20, item 5: where an issue as of its worst moment at 1,000 events goes, against the
raw select of its rows (bench/replay.py's figure), on one backend: the as-of read taken
apart step by step (Ledger.as_of's own steps, timed in turn, interleaved with the raw
select), and a cProfile of the whole read.

    .venv/bin/python -m bench.profiles.as_of --backend sqlite
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from typing import Any, cast

from bench.common import build_services, median, scratch
from bench.replay import _t, new_issue, raw_events, worst_moment


def steps(ledger: Any, issue: Any, as_of: Any) -> dict[str, float]:
    """Ledger.as_of's path for an issue with snapshots, each step timed."""
    from application.ledger import _taken_by

    out: dict[str, float] = {}
    t = time.perf_counter()
    recorder = cast(Any, ledger.recorder)
    table = ledger.snapshots.recorder.events_table_name
    marks = recorder.snapshot_marks(issue, table)
    out["select: the snapshot marks"] = time.perf_counter() - t
    t = time.perf_counter()
    taken = _taken_by(marks, as_of, ledger.mapper.to_domain_event)
    through = marks[taken].originator_version - 1 if taken < len(marks) else None
    out["decode: the marks' events (binary search)"] = time.perf_counter() - t
    t = time.perf_counter()
    stored, after = recorder.snapshot_and_events(issue, table, marks[taken - 1].originator_version, through)
    out["select: the snapshot and the events after it"] = time.perf_counter() - t
    t = time.perf_counter()
    snap = ledger.snapshots.mapper.to_domain_event(stored)
    out["decode: the snapshot (mapper: decompress, json, transcoder)"] = time.perf_counter() - t
    t = time.perf_counter()
    aggregate = snap.mutate(None)
    out["the snapshot to an issue (mutate)"] = time.perf_counter() - t
    t = time.perf_counter()
    events = [ledger.mapper.to_domain_event(e) for e in after]
    out[f"decode: the events after it ({len(after)})"] = time.perf_counter() - t
    t = time.perf_counter()
    for e in events:
        if e.timestamp > as_of:
            break
        aggregate = e.mutate(aggregate)
    out["fold: the events after it"] = time.perf_counter() - t
    out["_bytes"] = float(len(stored.state))
    return out


def main() -> None:
    from application.ledger import SNAPSHOT_EVERY
    from interfaces import demo_district

    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    with scratch(args.backend, "asof") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            actor = services.identity.authenticate(demo_district.load(services)["supervisor"])
            issue, _ = new_issue(services, actor, 100, 1000, SNAPSHOT_EVERY)
            moment = worst_moment(ledger, issue)
            conn = s.connect()
            table_name = ledger.recorder.events_table_name
            services.issues.issue(issue, as_of=moment)
            raws, whole, ratios = [], [], []
            parts: dict[str, list[float]] = {}
            for _ in range(args.reps):
                raw = raw_events(s, conn, table_name, issue)
                took = _t(lambda: services.issues.issue(issue, as_of=moment))
                raws.append(raw)
                whole.append(took)
                ratios.append(took / raw)
                for k, v in steps(ledger, issue, moment).items():
                    parts.setdefault(k, []).append(v)
            print(f"load {os.getloadavg()}; backend {args.backend}; {args.reps} reps interleaved")
            print(f"raw select of its 1,000 rows: {median(raws) * 1000:.3f} ms; as of the worst moment: "
                  f"{median(whole) * 1000:.3f} ms; ratio (median of per-rep) {median(ratios):.2f}×")
            size = parts.pop("_bytes")[0]
            total = sum(median(v) for v in parts.values())
            print(f"steps (medians; their sum {total * 1000:.3f} ms; snapshot {size / 1000:.0f} kB):")
            for k, v in parts.items():
                print(f"  {median(v) * 1000:7.3f} ms  {100 * median(v) / total:5.1f} %  "
                      f"{median(v) / median(raws):5.2f}× raw  {k}")
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(args.reps):
                services.issues.issue(issue, as_of=moment)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            conn.close()
        finally:
            services.close()


if __name__ == "__main__":
    main()
