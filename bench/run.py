"""`make bench`: every benchmark in turn, each in its own process, into docs/BENCHMARKS.md.

    .venv/bin/python -m bench.run            # default sizes: 10.3 minutes on 2 cores (2026-11-23)
    .venv/bin/python -m bench.run --large    # views, audit and verify at 10^6 events
        # (hours: each step generates 10^6 events, 13–19 min alone on a loaded machine)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import DOC, ROOT, progress, write_header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="10^6 events for views, audit and verify")
    args = parser.parse_args()
    big = args.large
    # A rebuild's cost now follows the log (checkpoints keep only what changed), but it runs
    # at a few thousand positions/s here, so the default stops at 100,000 with 3 repetitions.
    views_sizes = "100000,1000000" if big else "10000,30000,100000"
    views_reps = ["--reps", "3", "--rebuild-reps", "1"] if big else ["--reps", "3"]
    events = "1000000" if big else "100000"
    steps = [
        ["bench.append", "--backend", "both"],
        ["bench.replay", "--backend", "both"],
        ["bench.upcast", "--backend", "both"],
        ["bench.repository"],
        ["bench.views", "--backend", "postgres", "--sizes", views_sizes, *views_reps],
        ["bench.audit", "--backend", "postgres", "--events", events],
        ["bench.verify", "--backend", "postgres", "--events", events],
    ]
    write_header("make bench" + (" BENCH_ARGS=--large" if big else ""))
    started = time.perf_counter()
    for step in steps:
        t0 = time.perf_counter()
        progress("running " + " ".join(step))
        subprocess.run([sys.executable, "-m", *step], cwd=ROOT, check=True)
        progress(f"{step[0]} took {time.perf_counter() - t0:.0f} s")
    with DOC.open("a") as f:
        f.write(f"_Whole run: {(time.perf_counter() - started) / 60:.1f} minutes._\n\n")


if __name__ == "__main__":
    main()
