"""Issue 20, item 1 on SQLite: py-spy of `careledger serve --workers 1` under bench/append's
4-client load, and side by side (same scratch store, same session) the bare library in
process, careledger's HTTP worker and bench/plain_app's plain FastAPI endpoint over the
library, each over ``--reps`` windows in turn.

    .venv/bin/python -m bench.profiles.http_sqlite --out /tmp/http-sqlite.txt
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import time

from bench.append import (
    PER_WRITER,
    _load,
    caught_up,
    http,
    library,
    measure,
    prepare_issues,
    start_server,
    stop_server,
)
from bench.common import ROOT, median, scratch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="/tmp/http-sqlite.txt")
    parser.add_argument("--plain-out", default="/tmp/http-sqlite-plain.txt")
    parser.add_argument("--profile-seconds", type=int, default=8)
    args = parser.parse_args()
    print("load", os.getloadavg())
    with scratch("sqlite", "profile") as s:
        token, issues = prepare_issues(s, args.clients * 2 * PER_WRITER)
        h = dict(clients=args.clients, seconds=args.seconds, reps=args.reps)
        rows: dict[str, list[float]] = {"library": [], "careledger": [], "plain": []}
        p99: dict[str, list[float]] = {"careledger": [], "plain": []}
        for r in range(args.rounds):
            rows["library"].append(measure(library(s, args.clients), procs=1, **h)[0])
            c = http(s, token, issues, workers=1, **h)
            rows["careledger"].append(c[0])
            p99["careledger"].append(c[2])
            p = http(s, token, issues, workers=1, plain=True, **h)
            rows["plain"].append(p[0])
            p99["plain"].append(p[2])
            print(f"round {r}: library {rows['library'][-1]:.0f}/s, careledger {c[0]:.0f}/s p99 {c[2]*1000:.1f} ms, "
                  f"plain {p[0]:.0f}/s p99 {p[2]*1000:.1f} ms; load {os.getloadavg()}",
                  flush=True)
        lib = median(rows["library"])
        for k in ("careledger", "plain"):
            print(f"{k}: median {median(rows[k]):.0f}/s = {median(rows[k]) / lib:.2f}× library "
                  f"({median(rows['library']):.0f}/s); per round {[round(a / b, 2) for a, b in zip(rows[k], rows['library'], strict=True)]}; "
                  f"p99 {[round(x * 1000, 1) for x in p99[k]]} ms")
        print(f"careledger / plain per round: {[round(a / b, 2) for a, b in zip(rows['careledger'], rows['plain'], strict=True)]}")
        for plain, out in ((False, args.out), (True, args.plain_out)):
            if not plain:
                caught_up(s)
            server, port = start_server(s, 1, plain=plain)
            try:
                ctx = mp.get_context("spawn")
                q = ctx.Queue()
                load = ctx.Process(target=_load, args=(port, token, issues, args.clients,
                                                       args.profile_seconds + 2, 0.5, False, q))
                load.start()
                time.sleep(1.0)
                spy = subprocess.run(
                    [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--rate", "200", "--format", "raw",
                     "--subprocesses", "-d", str(args.profile_seconds), "-o", out, "--pid", str(server.pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                n, lat, _ = q.get()
                load.join()
                print(f"profiled {'plain' if plain else 'careledger'}: {n / (args.profile_seconds + 2):.0f}/s under "
                      f"py-spy, load {os.getloadavg()}; {spy.stderr.strip()[-200:]}")
            finally:
                stop_server(server)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
