"""Views: rebuilding every view from the log, against reading the log raw; memory as it grows;
a whole view as of a past date.

At each size the district history is extended (bench.generate) and measured:

- raw read: the whole event table in notification order, 500 rows a page, through the
  driver (the baseline);
- library read: ``recorder.select_notifications`` with the views' topics and decoding each
  to a domain event (what the fold's input costs);
- rebuild: ``careledger rebuild`` (infrastructure.view_runner.rebuild) folding the whole log
  into a fresh generation and promoting it; rate in log positions per second; each repetition
  in a forked process, whose peak RSS above its RSS before the rebuild is the memory figure;
- as of: the supervision view as of the middle of the history (checkpoint + replay).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from typing import Any

from bench.common import Scratch, build_services, median, ms, progress, rate, ratio, repeat, scratch, table
from bench.generate import DistrictGenerator

PAGE = 500


def events_table(ledger: Any) -> str:
    return str(ledger.recorder.events_table_name)


def raw_read(s: Scratch, table_name: str) -> tuple[float, int]:
    """Seconds to read every stored event raw, and how many."""
    conn = s.connect()
    try:
        start, n, last = time.perf_counter(), 0, 0
        if s.backend == "postgres":
            sql = (f"SELECT notification_id, originator_id, originator_version, topic, state FROM {table_name} "
                   "WHERE notification_id > %s ORDER BY notification_id LIMIT %s")
        else:
            sql = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {table_name} "
                   "WHERE rowid > ? ORDER BY rowid LIMIT ?")
        cur = conn.cursor()
        while True:
            cur.execute(sql, (last, PAGE))
            rows = cur.fetchall()
            if not rows:
                break
            n += len(rows)
            last = rows[-1][0]
        return time.perf_counter() - start, n
    finally:
        conn.close()


def library_read(ledger: Any, topics: list[str]) -> float:
    start, last = time.perf_counter(), 0
    while True:
        page = ledger.recorder.select_notifications(last + 1, PAGE, topics=topics)
        if not page:
            break
        for n in page:
            ledger.mapper.to_domain_event(n)
        last = page[-1].id
    return time.perf_counter() - start


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def rebuild_in_child(s: Scratch) -> tuple[float, int]:
    """Seconds for a full rebuild, and the peak RSS it added (bytes), in a forked process."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own services, its own connections
        code = 0
        try:
            os.close(read)
            from infrastructure.view_runner import rebuild

            services = build_services(s)
            before = _vm("VmRSS:")
            # Reset the high-water mark so VmHWM measures the rebuild only.
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            start = time.perf_counter()
            rebuild(services.ledger)
            seconds = time.perf_counter() - start
            peak = _vm("VmHWM:")
            services.close()
            os.write(write, f"{seconds} {peak - before}".encode())
        except BaseException as error:  # noqa: BLE001 — reported through the pipe
            os.write(write, f"error {error!r}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    answer = b""
    while chunk := os.read(read, 4096):
        answer += chunk
    os.close(read)
    os.waitpid(pid, 0)
    text = answer.decode()
    if text.startswith("error"):
        raise RuntimeError(text)
    seconds, grown = text.split()
    return float(seconds), int(grown)


def run(backend: str, sizes: list[int], reps: int) -> None:
    from projections.views import LedgerViews

    rows: list[list[Any]] = []
    as_of_rows: list[list[Any]] = []
    with scratch(backend, "views") as s:
        services = build_services(s)
        ledger = services.ledger
        gen = DistrictGenerator(ledger, batch=100)
        try:
            for size in sizes:
                t0 = time.perf_counter()
                gen.extend(size)
                progress(f"views {backend}: {gen.written:,} events generated ({time.perf_counter() - t0:.0f} s)")
                total = ledger.recorder.max_notification_id() or 0
                table_name = events_table(ledger)
                raw = repeat(lambda: raw_read(s, table_name)[0], reps)
                lib = repeat(lambda: library_read(ledger, list(LedgerViews.topics)), reps)
                rebuilt = [rebuild_in_child(s) for _ in range(reps)]
                raw_rate = total / median(raw)
                lib_rate = total / median(lib)
                rb_rate = total / median([r[0] for r in rebuilt])
                peak = median([r[1] for r in rebuilt])
                rows.append([f"{total:,}", rate(raw_rate), rate(lib_rate), ratio(lib_rate, raw_rate),
                             rate(rb_rate), ratio(rb_rate, raw_rate), f"{peak / 2**20:.0f}"])
                progress(f"views {backend} {total:,}: raw {raw_rate:,.0f}/s rebuild {rb_rate:,.0f}/s "
                         f"peak +{peak / 2**20:.0f} MiB")
                # A whole view as of the middle of the history, from the live views.
                services.views.catch_up()
                middle = gen.now - (gen.now - datetime(2019, 3, 1, tzinfo=timezone.utc)) / 2
                as_of = repeat(lambda: _timed_view(services, middle), reps)
                upto = _position_at(ledger, middle)
                raw_upto = median(repeat(lambda: raw_read_until(s, table_name, upto), reps))
                as_of_rows.append([f"{total:,}", f"{upto:,}", ms(median(as_of)), ms(raw_upto),
                                   ratio(median(as_of), raw_upto), "yes" if median(as_of) < 1 else "no"])
        finally:
            services.close()
    table(
        f"Views rebuild, {backend}",
        ["log events", "raw read ev/s", "library read+decode ev/s", "ratio", "rebuild ev/s", "rebuild ratio to raw (target ≥ 0.7×)",
         "rebuild peak RSS added, MiB"],
        rows,
        [f"medians of {reps} repetitions; rebuild rate in log positions per second (the fold reads only the views' "
         "topics, the raw read every event).",
         "peak RSS: VmHWM of the forked process doing the rebuild, above its RSS just before it; flat means the fold "
         "keeps only the batch and the summaries, not the log."],
    )
    table(
        f"A whole view as of a past date, {backend}",
        ["log events", "position at the date", "supervision view as of the date, ms", "raw read up to it, ms",
         "ratio", "under 1 s"],
        as_of_rows,
        [f"medians of {reps}; the date is the middle of the generated history; the view starts from the nearest "
         "stored checkpoint and replays the views' events after it."],
    )


def _timed_view(services: Any, moment: datetime) -> float:
    start = time.perf_counter()
    services.views.view("supervision", as_of=moment)
    return time.perf_counter() - start


def _position_at(ledger: Any, moment: datetime) -> int:
    lo, hi = 1, ledger.recorder.max_notification_id() or 1
    while lo < hi:  # the last position recorded at or before the moment (recorded times rise with it)
        mid = (lo + hi + 1) // 2
        n = ledger.recorder.select_notifications(mid, 1)[0]
        if ledger.mapper.to_domain_event(n).timestamp <= moment:
            lo = mid
        else:
            hi = mid - 1
    return lo


def raw_read_until(s: Scratch, table_name: str, upto: int) -> float:
    conn = s.connect()
    try:
        key = "notification_id" if s.backend == "postgres" else "rowid"
        mark = "%s" if s.backend == "postgres" else "?"
        cur = conn.cursor()
        start, last = time.perf_counter(), 0
        while last < upto:
            cur.execute(f"SELECT {key}, originator_id, originator_version, topic, state FROM {table_name} "
                        f"WHERE {key} > {mark} AND {key} <= {mark} ORDER BY {key} LIMIT {PAGE}", (last, upto))
            rows = cur.fetchall()
            if not rows:
                break
            last = rows[-1][0]
        return time.perf_counter() - start
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="views benchmark")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    run(args.backend, [int(x) for x in args.sizes.split(",")], args.reps)


if __name__ == "__main__":
    main()
