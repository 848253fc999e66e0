"""Replay: an issue as of a past time, for histories of 10, 100 and 1,000 events, against
reading the same events raw; snapshots on (the Ledger's interval), and which interval pays.

Each issue of the demo district gets a history of urgings recorded a minute apart. Rows:

- raw read: the issue's rows from the event table by the driver, ordered by version, on
  one warm connection (as the library's pool has); no decoding;
- as of its last event: ``Ledger.issue(id, as_of=T)`` with T the last recorded time;
- as of the worst moment: T just before the latest snapshot was recorded, so the replay
  starts from the snapshot before it and folds ``interval - 1`` events (with no snapshot
  at or before T, the whole prefix);
- as of its middle: T half way through the history;
- current state: ``Ledger.issue(id)`` through the repository (latest snapshot + events).

The second table builds one 1,000-event issue per snapshot interval (none, 10, 25, 50,
100, 200) and times the worst as-of and the current state against the same raw read.

    .venv/bin/python -m bench.replay --backend both
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from bench.common import Scratch, build_services, figure, median, progress, scratch, table

LENGTHS = (10, 100, 1000)
INTERVALS = (None, 10, 25, 50, 100, 200)


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
    start = time.perf_counter()
    if s.backend == "postgres":
        conn.execute(f"SELECT originator_version, topic, state FROM {table_name} WHERE originator_id=%s "
                     "ORDER BY originator_version", (issue,)).fetchall()
    else:
        conn.execute(f"SELECT originator_version, topic, state FROM {table_name} WHERE originator_id=? "
                     "ORDER BY originator_version", (issue.hex,)).fetchall()
    return time.perf_counter() - start


def _t(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def worst_moment(ledger: Any, issue: UUID) -> datetime:
    """Just before the latest snapshot's last event was recorded (or the last event, with none)."""
    events = list(ledger.repository.event_store.get(issue))
    taken = [s.originator_version for s in ledger.snapshots.get(issue)] if ledger.snapshots else []
    if not taken:
        return events[-1].timestamp
    return events[taken[-1] - 1].timestamp - timedelta(seconds=1)


def new_issue(services: Any, actor: Any, seq: int, length: int, interval: int | None) -> tuple[UUID, datetime]:
    from application.commands import Command
    from domain.issue import RectificationIssue
    from domain.plan import plan_id
    from interfaces import demo_district

    ledger = services.ledger
    intervals = dict(type(ledger).snapshotting_intervals)
    if interval is None:
        intervals.pop(RectificationIssue, None)
    else:
        intervals[RectificationIssue] = interval
    ledger.snapshotting_intervals = intervals
    try:
        issue = services.issues.register_issue(Command(actor), plan=plan_id(demo_district.PLAN_NUMBER), seq=seq,
                                               duty="工作职责", problem="存在问题", units=["dxh-pfk"]).id
        return issue, make_history(ledger, issue, length)
    finally:
        del ledger.snapshotting_intervals


def run(backend: str, reps: int, intervals: tuple[int | None, ...] = INTERVALS) -> None:
    from application.ledger import SNAPSHOT_EVERY
    from interfaces import demo_district

    reps = max(reps, 9)
    rows, sweep = [], []
    with scratch(backend, "replay") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            actor = services.identity.authenticate(demo_district.load(services)["supervisor"])
            table_name = ledger.recorder.events_table_name
            conn = s.connect()

            def measure(issue: UUID, *moments: datetime | None) -> tuple[float, list[float], list[float]]:
                """The raw read and each replay, interleaved rep by rep: each ratio is the median
                of per-rep ratios, so load that comes and goes hits both sides alike."""
                services.issues.issue(issue)  # warm
                raws: list[float] = []
                times: list[list[float]] = [[] for _ in moments]
                ratios: list[list[float]] = [[] for _ in moments]
                for _ in range(reps):
                    for k, m in enumerate(moments):
                        raw = raw_events(s, conn, table_name, issue)
                        took = _t(lambda m=m: services.issues.issue(issue, as_of=m))
                        raws.append(raw)
                        times[k].append(took)
                        ratios[k].append(took / raw)
                return median(raws), [median(t) for t in times], [median(r) for r in ratios]

            for i, length in enumerate(LENGTHS):
                issue, last = new_issue(services, actor, 100 + i, length, SNAPSHOT_EVERY)
                progress(f"replay {backend}: issue with {length} events")
                raw, (past, worst, half, now), (r_past, r_worst, r_half, r_now) = measure(
                    issue, last, worst_moment(ledger, issue), last - timedelta(minutes=length // 2), None)
                if length == 1000:
                    figure(f"issue as of its worst moment, {backend}, 1,000 events, to the raw select",
                           ratio=r_worst, goal="<= 2", met=r_worst <= 2)
                rows.append([length, f"{raw * 1000:.2f}", f"{past * 1000:.2f}", f"{r_past:.2f}×",
                             f"{worst * 1000:.2f}", f"{r_worst:.2f}×", "yes" if r_worst <= 2 else "no",
                             f"{half * 1000:.2f}", f"{r_half:.2f}×", f"{now * 1000:.2f}", f"{r_now:.2f}×"])
            for j, interval in enumerate(intervals):
                issue, last = new_issue(services, actor, 200 + j, 1000, interval)
                progress(f"replay {backend}: 1,000 events, snapshot every {interval}")
                raw, (worst, now), (r_worst, r_now) = measure(issue, worst_moment(ledger, issue), None)
                size = sum(len(r.state) for r in ledger.snapshots.recorder.select_events(issue)) if ledger.snapshots else 0
                sweep.append(["none" if interval is None else interval, f"{raw * 1000:.2f}",
                              f"{worst * 1000:.2f}", f"{r_worst:.2f}×", f"{now * 1000:.2f}", f"{r_now:.2f}×",
                              f"{size / 1e6:.1f}"])
            conn.close()
        finally:
            services.close()
    table(
        f"Replay: an issue as of a past time, {backend}",
        ["events in history", "raw read ms", "as of its last event ms", "ratio",
         "as of the worst moment ms", "ratio (target ≤ 2×)", "met", "as of its middle ms", "ratio",
         "current state ms", "current ratio"],
        rows,
        [f"medians of {reps}, each replay interleaved with a raw read; ratios are medians of the "
         "per-repetition ratios (the machine is shared: load moves both sides together); the raw "
         "read fetches the rows only (no decoding); snapshots every "
         f"{SNAPSHOT_EVERY} events (`Ledger.snapshotting_intervals`).",
         "as of T starts from the latest snapshot whose last event was recorded at or before T (found "
         "by the recorded times of the events at snapshot versions, one query) and folds the events "
         "after it up to T; the worst moment folds the most events after a snapshot."],
    )
    table(
        f"Replay: which snapshot interval pays, 1,000 events, {backend}",
        ["snapshot every", "raw read ms", "as of the worst moment ms", "ratio", "current state ms",
         "current ratio", "snapshot bytes MB"],
        sweep,
        [f"medians of {reps}, interleaved as above; one issue per interval, all in the same run; snapshot bytes: every "
         "snapshot of that issue (each holds the whole state, so they grow with the history)."],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="replay benchmark")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--intervals", default="none,10,25,50,100,200",
                        help="snapshot intervals to compare at 1,000 events (none: no snapshots)")
    args = parser.parse_args()
    intervals = tuple(None if i == "none" else int(i) for i in args.intervals.split(","))
    for backend in ["postgres", "sqlite"] if args.backend == "both" else [args.backend]:
        run(backend, args.reps, intervals)


if __name__ == "__main__":
    main()
