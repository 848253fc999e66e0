"""Shares of a py-spy ``--format raw`` profile (collapsed stacks), by the first category a
stack's frames match, in the order given: what the notes in docs/BENCHMARKS.md quote.

    .venv/bin/python -m bench.profiles.shares profile.txt [--top 30]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence

Category = tuple[str, Sequence[str]]  # (label, substrings any frame may contain)


def stacks(path: str) -> list[tuple[list[str], int]]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            head, _, count = line.rpartition(" ")
            out.append((head.split(";"), int(count)))
    return out


def shares(rows: list[tuple[list[str], int]], categories: Sequence[Category]) -> tuple[Counter[str], int]:
    """Each stack goes to the first category (in order) one of whose substrings a frame has;
    the rest to "other"."""
    tally: Counter[str] = Counter()
    total = 0
    for frames, n in rows:
        total += n
        joined = ";".join(frames)
        for label, subs in categories:
            if any(s in joined for s in subs):
                tally[label] += n
                break
        else:
            tally["other"] += n
    return tally, total


# Samples of a thread waiting for work, not serving (py-spy counts some waits in Python as
# active): the threadpool's idle threads, the followers' sleep between pulls, uvloop's loop.
IDLE = (
    ("WorkerThread.run", "Queue.get", "Condition.wait"),
    ("MerkleLogRunner._run", "Event.wait", "Condition.wait"),
    ("Views.start.<locals>.loop", "Event.wait", "Condition.wait"),
    ("_worker", "Queue.get", "Condition.wait"),
)
IDLE_LEAVES = ("_worker", "Runner.run")

# A preset's scope: only stacks with one of these frames count (None: every busy stack).
SCOPES: dict[str, Sequence[str] | None] = {
    "http": None,
    "rebuild": ["rebuild (infrastructure/view_runner.py", "_WorkItem.run"],
    # careledger verify on PostgreSQL: the forked second process checking snapshots (its
    # stacks hold the parent's frames up to the fork, then _child) and the walking parent
    "verify-snapshots": ["_child (infrastructure/snapshot_check.py"],
    "verify-walk": ["verify_log (infrastructure/verify.py"],
}

_SNAPSHOT_CHECK: list[Category] = [
    ("decoding snapshots and events (mapper, JSON transcoder, columns)", ["to_domain_event"]),
    ("folding the events after each snapshot (mutate)", ["mutate ("]),
    ("comparing the folded state with the snapshot", ["_first_differing", "_differs"]),
    ("reading snapshots and events (queries, rows)", ["psycopg/", "dialect.py"]),
    ("rows into stored events, grouped by aggregate (_stored's own loop)", ["_Stores._stored"]),
]

PRESETS: dict[str, list[Category]] = {
    "verify-snapshots": _SNAPSHOT_CHECK,
    "verify-walk": [
        ("the snapshot chunks this process claims after its walk", ["_check_claimed"]),
        ("waiting for the second process's answer", ["_Forked.result", "_Forked._answer"]),
        ("leaf hashes (stored_leaf_hashes)", ["stored_leaf_hashes"]),
        ("the tree's nodes: stored subtrees read and checked, the frontier",
         ["StoredSubtrees", "Frontier", "MerkleStore.nodes", "batches ("]),
        ("reading events and leaves (pages)", ["pages (", "events_with_leaves", "_page ("]),
        ("signed tree heads", ["_check_heads", "verify_head", "Keyring"]),
        ("the run's own loop: leaves compared, parents hashed (_check_run)", ["_Walk._check_run", "_Walk.run"]),
    ],
    # careledger rebuild / the follower's pull (infrastructure/view_pull.py); the writer thread
    # writes a batch while the main thread reads, decodes and folds the next
    "rebuild": [
        ("writing the changed summaries and the position (the writer thread; PostgreSQL's time)",
         ["_WorkItem.run"]),
        ("waiting for the writer before the next batch (main thread)", ["Future.result"]),
        ("reading the log (stored_between: the query and the rows)", ["stored_between"]),
        ("decoding events (the mapper and the JSON transcoder)", ["to_domain_event"]),
        ("folding into the summaries (LedgerViews.fold)", ["LedgerViews.fold"]),
        ("encoding the changed summaries (view.encode)", ["ViewStore.encode"]),
        ("clearing the fresh generation and promoting it", ["clear (", "promote ("]),
    ],
    # careledger serve: one HTTP worker (interfaces/http), its in-process followers on SQLite
    "http": [
        ("the in-process view follower (Views.start's pull)", ["Views.start.<locals>.loop"]),
        ("the in-process Merkle log follower", ["MerkleLogRunner._run"]),
        ("the library's save and group commit (SQLite: insert, commit)", ["GroupCommit.save", "Bare.save",
                                                                           "Application.save"]),
        ("loading the issue (not held yet)", ["Ledger.load ("]),
        ("authenticating the bearer token (one query)", ["Identity.authenticate"]),
        ("the command: rules, stamp, kept answer", ["CommandRunner", "plain_app.py"]),
        ("uvicorn's access log line (structlog's JSON formatter)", ["Logger.info (logging"]),
        ("body validation, dependencies, response encoding",
         ["solve_dependencies", "serialize_response", "Request.json", "Request.body", "JSONResponse"]),
        ("anyio's thread hops (run_sync, capacity limiter, worker thread)",
         ["run_sync_in_worker_thread", "WorkerThread.run", "CapacityLimiter", "run_in_threadpool"]),
        ("careledger's middlewares (request id, metrics, deadline, body size)",
         ["interfaces/http/limits.py", "interfaces/http/metrics.py", "interfaces/logging.py", "interfaces/asgi.py"]),
        ("Starlette/FastAPI routing and middleware stack", ["starlette/", "fastapi/"]),
        ("uvicorn/httptools, asyncio", ["uvicorn/", "asyncio/"]),
    ],
}


def busy(rows: list[tuple[list[str], int]]) -> list[tuple[list[str], int]]:
    out = []
    for frames, n in rows:
        names = [f.split(" (")[0] for f in frames]
        if names and names[-1] in IDLE_LEAVES:
            continue
        if any(tuple(names[-3:]) == idle for idle in IDLE):
            continue
        out.append((frames, n))
    return out


def inclusive(rows: list[tuple[list[str], int]], top: int) -> list[tuple[str, int]]:
    """Frames by the samples whose stack includes them (once per stack)."""
    tally: Counter[str] = Counter()
    for frames, n in rows:
        for f in set(re.sub(r":\d+\)$", ")", f) for f in frames):
            tally[f] += n
    return tally.most_common(top)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--grep", default="", help="only stacks with a frame containing this")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="the shares table of these categories")
    parser.add_argument("--all", action="store_true", help="idle threads' samples too")
    args = parser.parse_args()
    rows = stacks(args.path)
    if not args.all:
        rows = busy(rows)
    if args.preset:
        scope = SCOPES.get(args.preset)
        if scope:
            rows = [(f, n) for f, n in rows if any(s in x for s in scope for x in f)]
        if args.preset == "verify-walk":  # not the forked process's stacks
            rows = [(f, n) for f, n in rows if not any("_child (infrastructure/snapshot_check.py" in x for x in f)]
        tally, total = shares(rows, PRESETS[args.preset])
        print(f"{total} busy samples")
        print("| where | share |\n|---|---:|")
        for label, _ in [*PRESETS[args.preset], ("other", [])]:
            print(f"| {label} | {100 * tally[label] / total:.1f} % |")
        return
    if args.grep:
        rows = [(f, n) for f, n in rows if any(args.grep in x for x in f)]
    total = sum(n for _, n in rows)
    print(f"{total} samples")
    for frame, n in inclusive(rows, args.top):
        print(f"{100 * n / total:6.1f} %  {frame[:160]}")


if __name__ == "__main__":
    main()
