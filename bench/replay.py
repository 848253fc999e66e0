"""Replay: an issue as of a past time, for histories of 10, 100 and 1,000 events, against
reading the same events raw.

Each issue of the demo district gets a history of urgings recorded a minute apart; the
asked moment is its last event (the whole history is replayed, the worst case). Rows:

- raw read: the issue's rows from the event table by the driver, ordered by version;
- ``Ledger.issue(id, as_of=T)``: the library's event store read, decode and mutate up to T;
- ``Ledger.issue(id)``: the current state through the repository (no snapshots configured).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from typing import Any

from bench.common import Scratch, build_services, median, progress, ratio, repeat, scratch, table

LENGTHS = (10, 100, 1000)


def make_history(ledger: Any, issue: Any, events: int) -> Any:
    from domain.base import Stamp, recording_at

    target = ledger.repository.get(issue)
    moment = ledger.clock()
    while target.version < events:
        for _ in range(min(100, events - target.version)):
            moment += timedelta(minutes=1)
            with recording_at(moment):
                target.urge(Stamp.make(user="督查督办-李敏", unit="dxh-bgs", recorded_at=moment),
                            target="dxh-pfk", message="整改期限已过，请尽快报送整改进展。", reply_by=date(2030, 1, 1))
        ledger.save(target)
    return moment


def raw_events(s: Scratch, conn: Any, table_name: str, issue: Any) -> float:
    """One warm connection, as the library's pool has."""
    if True:
        start = time.perf_counter()
        if s.backend == "postgres":
            conn.execute(f"SELECT originator_version, topic, state FROM {table_name} WHERE originator_id=%s "
                         "ORDER BY originator_version", (issue,)).fetchall()
        else:
            conn.execute(f"SELECT originator_version, topic, state FROM {table_name} WHERE originator_id=? "
                         "ORDER BY originator_version", (issue.hex,)).fetchall()
        return time.perf_counter() - start


def run(backend: str, reps: int) -> None:
    from application.ledger import Command
    from domain.plan import plan_id
    from interfaces import demo_district

    rows = []
    with scratch(backend, "replay") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            tokens = demo_district.load(ledger)
            actor = ledger.authenticate(tokens["supervisor"])
            plan = plan_id(demo_district.PLAN_NUMBER)
            table_name = ledger.recorder.events_table_name
            conn = s.connect()
            for i, length in enumerate(LENGTHS):
                issue = ledger.register_issue(Command(actor), plan=plan, seq=100 + i, duty="工作职责",
                                              problem="存在问题", units=["dxh-pfk"]).id
                last = make_history(ledger, issue, length)
                progress(f"replay {backend}: issue with {length} events")
                as_of = last + timedelta(seconds=1)
                ledger.issue(issue, as_of=as_of)  # warm
                raw = median(repeat(lambda: raw_events(s, conn, table_name, issue), max(reps, 9)))
                past = median(repeat(lambda: _t(lambda: ledger.issue(issue, as_of=as_of)), max(reps, 9)))
                half = median(repeat(lambda: _t(lambda: ledger.issue(issue, as_of=last - timedelta(minutes=length // 2))),
                                     max(reps, 9)))
                now = median(repeat(lambda: _t(lambda: ledger.issue(issue)), max(reps, 9)))
                rows.append([length, f"{raw * 1000:.2f}", f"{past * 1000:.2f}", ratio(past, raw),
                             "yes" if past <= 2 * raw else "no", f"{half * 1000:.2f}", f"{now * 1000:.2f}", ratio(now, raw)])
        finally:
            services.close()
    table(
        f"Replay: an issue as of a past time, {backend}",
        ["events in history", "raw read ms", "as of its last event ms", "ratio (target ≤ 2×)", "met",
         "as of its middle ms", "current state ms", "current ratio"],
        rows,
        [f"medians of {max(reps, 9)}; the raw read fetches the rows only (no decoding); the replays decode every "
         "event read (the library reads all of the aggregate's events, then stops folding at the moment).",
         "no snapshots: the Ledger does not configure snapshotting; see the closing notes."],
    )


def _t(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description="replay benchmark")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    for backend in ["postgres", "sqlite"] if args.backend == "both" else [args.backend]:
        run(backend, args.reps)


if __name__ == "__main__":
    main()
