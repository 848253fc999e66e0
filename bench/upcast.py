"""Replay with and without the upcast path, and with and without evidence references.

One issue's history is written through the domain (measures adopted, progress reported,
measures completed: 600 events, a third of them completions), then stored again under new
ids in variants that differ in one thing only:

- as written: every event at its class's current version (MeasureCompleted v2 with
  ``evidence``), evidence lists empty;
- upcast: the same events, every MeasureCompleted stored as version 1 (no ``class_version``,
  no ``evidence``), so each goes through ``upcast_v1_v2`` as it is decoded (the path every
  completion stored before evidence takes);
- evidence: the same events, each progress report and completion naming 3 files (name and
  SHA-256), as the workbench's forms record them.

Each variant is replayed by ``Ledger.repository.get`` (read, decode, fold; the copies have no
snapshots), interleaved rep by rep with the other variants and a raw select of the same rows;
a snapshot taken at the end is also decoded at version 2 and at version 1 (upcast of the
state). Ratios are medians of per-repetition ratios to "as written".

    .venv/bin/python -m bench.upcast --backend both
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import uuid
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from bench.common import Scratch, build_services, median, progress, scratch, table
from bench.replay import raw_events

MEASURES = 200  # adopted, reported on once and completed: 600 events after the 3 of registering
EVIDENCE = [{"name": f"整改佐证材料{i}.pdf", "sha256": f"{i:x}" * 64} for i in range(1, 4)]


def written_history(services: Any, actor: Any) -> UUID:
    from application.commands import Command
    from domain.base import Stamp, recording_at
    from domain.plan import plan_id
    from interfaces import demo_district

    ledger = services.ledger
    issue = services.issues.register_issue(Command(actor), plan=plan_id(demo_district.PLAN_NUMBER), seq=900,
                                           duty="工作职责", problem="存在问题", units=["dxh-pfk"]).id
    target = ledger.repository.get(issue)
    moment = ledger.clock()

    def stamp() -> Stamp:
        nonlocal moment
        moment += timedelta(minutes=1)
        return Stamp.make(user="责任单位-王芳", unit="dxh-pfk", recorded_at=moment)

    for _ in range(MEASURES):
        at = stamp()
        with recording_at(at.recorded_at):
            measure = target.adopt_measure(at, owner="dxh-pfk", text="完善工作机制", due=date(2030, 1, 1))
        at = stamp()
        with recording_at(at.recorded_at):
            target.report_progress(at, measure_id=measure, summary="已完成阶段性工作", evidence=[])
        at = stamp()
        with recording_at(at.recorded_at):
            target.complete_measure(at, measure_id=measure, summary="已办结", evidence=[])
    ledger.save(target)
    return issue


def _as_v1(state: dict[str, Any]) -> None:
    state.pop("evidence", None)
    state.pop("class_version", None)


def _with_evidence(state: dict[str, Any]) -> None:
    state["evidence"] = EVIDENCE


def copy(ledger: Any, issue: UUID, topic_suffix: str, change: Any) -> UUID:
    """The issue's stored events under a new id, each of topic ending ``topic_suffix``
    changed by ``change`` (its decoded state dict), no snapshots."""
    from eventsourcing.persistence import StoredEvent

    new = uuid.uuid4()
    events = []
    for stored in ledger.recorder.select_events(issue):
        state = stored.state
        if change is not None and any(stored.topic.endswith(s) for s in topic_suffix.split(",")):
            decoded = json.loads(state)
            change(decoded)
            state = json.dumps(decoded, separators=(",", ":"), ensure_ascii=False).encode()
        events.append(StoredEvent(new, stored.originator_version, stored.topic, state))
    ledger.recorder.insert_events(events)
    return new


def _t(fn: Any) -> float:
    """Seconds for ``fn``, with the garbage collector held off (as timeit does): a decode
    makes thousands of objects, and a collection falling in one variant's run and not
    another's was most of the difference between them."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def run(backend: str, reps: int) -> list[list[Any]]:
    from interfaces import demo_district

    with scratch(backend, "upcast") as s:
        services = build_services(s)
        try:
            ledger = services.ledger
            actor = services.identity.authenticate(demo_district.load(services)["supervisor"])
            written = written_history(services, actor)
            variants = {
                "as written": copy(ledger, written, "", None),
                "upcast (every completion stored as v1)": copy(ledger, written, ".MeasureCompleted", _as_v1),
                "evidence (3 files on every report and completion)": copy(
                    ledger, written, ".ProgressReported,.MeasureCompleted", _with_evidence),
            }
            events = len(ledger.recorder.select_events(written))
            progress(f"upcast {backend}: {len(variants)} copies of {events} events")
            rows = _replays(s, ledger, variants, reps)
            rows += _snapshots(ledger, written, reps)
        finally:
            services.close()
    for row in rows:
        row.insert(0, backend)
        row.insert(2, events if row[1].startswith(("as written", "upcast", "evidence")) else 1)
    return rows


def _replays(s: Scratch, ledger: Any, variants: dict[str, UUID], reps: int) -> list[list[Any]]:
    conn = s.connect()
    table_name = ledger.recorder.events_table_name
    try:
        for issue in variants.values():  # warm: the first decode of each topic resolves it
            ledger.repository.get(issue)
        raws: list[float] = []
        times: dict[str, list[float]] = {k: [] for k in variants}
        ratios: dict[str, list[float]] = {k: [] for k in variants}
        states = {}
        labels = list(variants)
        for rep in range(reps):
            raws.append(raw_events(s, conn, table_name, variants["as written"]))
            # Each repetition starts with another variant: none always runs first.
            for label in labels[rep % len(labels):] + labels[:rep % len(labels)]:
                issue = variants[label]
                times[label].append(_t(lambda issue=issue, label=label: states.__setitem__(label, ledger.repository.get(issue))))
            base = times["as written"][-1]
            for label in variants:
                ratios[label].append(times[label][-1] / base)
        same = all(states[k].measures == states["as written"].measures for k in variants if k.startswith("upcast"))
        if not same:
            raise SystemExit("the upcast copy folded to a different state")
        raw = median(raws)
        return [[label, f"{median(raw_ms) * 1000:.2f}", f"{raw * 1000:.2f}", f"{median(ratios[label]):.3f}×",
                 f"{median(raw_ms) / raw:.2f}×"] for label, raw_ms in times.items()]
    finally:
        conn.close()


def _snapshots(ledger: Any, issue: UUID, reps: int) -> list[list[Any]]:
    """Decoding the issue's state from a snapshot stored at version 2 and at version 1."""
    from eventsourcing.persistence import StoredEvent

    from domain.base import LedgerSnapshot

    aggregate = ledger.repository.get(issue)
    v2 = ledger.snapshots.mapper.to_stored_event(LedgerSnapshot.take(aggregate))
    state = json.loads(v2.state)
    state["state"].pop("class_version", None)
    for measure in _measures(state["state"]):
        measure.pop("completion_evidence", None)
    v1 = StoredEvent(v2.originator_id, v2.originator_version, v2.topic,
                     json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode())
    decode = ledger.snapshots.mapper.to_domain_event
    new, old = [], []
    for rep in range(reps):
        if rep % 2:
            old.append(_t(lambda: decode(v1).mutate(None)))
        new.append(_t(lambda: decode(v2).mutate(None)))
        if not rep % 2:
            old.append(_t(lambda: decode(v1).mutate(None)))
    if decode(v1).mutate(None).measures != decode(v2).mutate(None).measures:
        raise SystemExit("the upcast snapshot decoded to a different state")
    ratios = [o / n for o, n in zip(old, new, strict=True)]
    return [["snapshot stored at v2", f"{median(new) * 1000:.2f}", "", "1.000×", ""],
            ["snapshot stored at v1 (state upcast)", f"{median(old) * 1000:.2f}", "", f"{median(ratios):.3f}×", ""]]


def _measures(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The measures' dicts in a stored state, however the snapshot codec laid them out."""
    measures = state["measures"]
    return [m for m in measures.values() if isinstance(m, dict)] if isinstance(measures, dict) else []


def main() -> None:
    parser = argparse.ArgumentParser(description="replay with and without upcasting and evidence")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--reps", type=int, default=21)
    args = parser.parse_args()
    rows = []
    for backend in ["postgres", "sqlite"] if args.backend == "both" else [args.backend]:
        rows += run(backend, args.reps)
    table(
        "Replay with and without upcasting and evidence references",
        ["backend", "replay of", "events", "ms (median)", "raw select ms", "ratio to as written", "ratio to raw select"],
        rows,
        [f"medians of {args.reps}; the variants and the raw select of the same rows are interleaved rep by rep (each "
         "repetition starting with another variant), each ratio is the median of the per-repetition ratios (load that "
         "comes and goes hits all alike), and the garbage collector is held off while a variant runs.",
         "as written: MeasureCompleted at v2, evidence lists empty; upcast: the same completions stored at v1, each "
         "decoded through `upcast_v1_v2`; evidence: 3 references on each report and completion. The folded states of "
         "as written and upcast are checked equal.",
         "snapshot rows: decoding the issue's end state from a snapshot (its measures by columns) stored at v2 and "
         "with the state at v1 (`RectificationIssue.upcast_v1_v2` on decode)."],
    )


if __name__ == "__main__":
    main()
