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
- as of: each whole view as of the middle of the history (the summaries' versions at the
  nearest checkpoint, then a replay of the positions after it).

With ``--database NAME`` (a PostgreSQL database written by bench.generate, kept between runs,
and ``--keys DIR`` its key files) nothing is generated: each size is a prefix of that log
(raw read, library read and a rebuild into a scratch generation up to that position), and the
largest size, the whole log, is rebuilt with ``careledger rebuild`` itself.

    .venv/bin/python -m bench.views --sizes 10000,20000,40000
    .venv/bin/python -m bench.views --database views_1m --keys /tmp/k --sizes 100000,1000000 --rebuild-reps 1
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from typing import Any

from bench.common import Scratch, build_services, figure, median, ms, progress, rate, ratio, repeat, scratch, table
from bench.generate import DistrictGenerator

PAGE = 500


def events_table(ledger: Any) -> str:
    return str(ledger.recorder.events_table_name)


def library_read(ledger: Any, topics: list[str], upto: int | None = None) -> float:
    start, last = time.perf_counter(), 0
    while True:
        page = ledger.recorder.select_notifications(last + 1, PAGE, topics=topics, stop=upto)
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


def rebuild_in_child(s: Scratch, upto: int | None = None) -> tuple[float, int]:
    """Seconds for a full rebuild (or, up to ``upto``, the same fold into a scratch generation
    that is then dropped), and the peak RSS it added (bytes), in a forked process."""
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
            if upto is None:
                rebuild(services.ledger)
            else:
                import uuid

                from infrastructure.view_runner import REBUILD_BATCH, pull
                from infrastructure.view_store import view_store_for
                from projections.views import LedgerViews

                fresh = view_store_for(services.ledger, generation=f"bench-{uuid.uuid4().hex[:8]}")
                start = time.perf_counter()
                pull(services.ledger, LedgerViews(view=fresh), until=upto, batch=REBUILD_BATCH)
            seconds = time.perf_counter() - start
            peak = _vm("VmHWM:")
            if upto is not None:
                fresh.clear()
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


def _rebuild_row(s: Scratch, ledger: Any, upto: int, whole: bool, reps: int, rebuild_reps: int) -> tuple[list[Any], str]:
    from projections.views import LedgerViews

    table_name = events_table(ledger)
    raw = repeat(lambda: raw_read_until(s, table_name, upto), reps)
    lib = repeat(lambda: library_read(ledger, list(LedgerViews.topics), upto), reps)
    rebuilt = [rebuild_in_child(s, None if whole else upto) for _ in range(rebuild_reps)]
    raw_rate = upto / median(raw)
    lib_rate = upto / median(lib)
    rb_rate = upto / median([r[0] for r in rebuilt])
    peak = median([r[1] for r in rebuilt])
    note = f"{upto:,}: raw {raw_rate:,.0f}/s library {lib_rate:,.0f}/s rebuild {rb_rate:,.0f}/s peak +{peak / 2**20:.0f} MiB"
    figure(f"views rebuild, {s.backend}, {upto:,} positions, to the raw read", ratio=rb_rate / raw_rate,
           goal=">= 0.5", met=rb_rate / raw_rate >= 0.5, peak_rss_added_mib=round(peak / 2**20))
    return [f"{upto:,}", "whole log" if whole else "prefix", rate(raw_rate), rate(lib_rate),
            ratio(lib_rate, raw_rate), rate(rb_rate), ratio(rb_rate, raw_rate), f"{peak / 2**20:.0f}"], note


def per_event(ledger: Any, count: int) -> float:
    """Positions/s folding one event a transaction, as the library's ProjectionRunner did
    for `careledger project` before its follower batched (process_event per notification),
    over the first ``count`` of the views' events, into a scratch generation."""
    import uuid

    from eventsourcing.persistence import Tracking

    from infrastructure.view_store import view_store_for
    from projections.views import LedgerViews

    fresh = view_store_for(ledger, generation=f"bench-{uuid.uuid4().hex[:8]}")
    try:
        projection = LedgerViews(view=fresh)
        page = ledger.recorder.select_notifications(1, count, topics=LedgerViews.topics)
        start = time.perf_counter()
        for n in page:
            projection.process_event(ledger.mapper.to_domain_event(n), Tracking(ledger.name, n.id))
        return page[-1].id / (time.perf_counter() - start)
    finally:
        fresh.clear()


def follower(ledger: Any, upto: int) -> float:
    """Seconds for the follower `careledger project` runs (Views.start: woken by each commit,
    folding in batches) to bring a fresh generation from nothing to ``upto``."""
    import uuid

    from infrastructure.view_runner import Views
    from infrastructure.view_store import view_store_for
    from projections.indicators import Thresholds

    fresh = view_store_for(ledger, generation=f"bench-{uuid.uuid4().hex[:8]}")
    views = Views(ledger, fresh, Thresholds())
    try:
        start = time.perf_counter()
        views.start(retry=False)  # a failure ends the measurement rather than retrying under it
        while not views.has_processed(upto):
            if views.error is not None:
                raise views.error
            time.sleep(0.005)  # a benchmark's poll, not a test's synchronisation
        return time.perf_counter() - start
    finally:
        views.stop()
        fresh.clear()


def _follower_row(s: Scratch, ledger: Any, upto: int, reps: int) -> tuple[list[Any], str]:
    table_name = events_table(ledger)
    raw, followed, single = [], [], []
    for _ in range(reps):  # interleaved: the machine's load moves both sides together
        raw.append(raw_read_until(s, table_name, upto))
        followed.append(follower(ledger, upto))
        single.append(per_event(ledger, 500))
    raw_rate, follow_rate, single_rate = upto / median(raw), upto / median(followed), median(single)
    load = os.getloadavg()[0]
    note = f"{upto:,}: raw {raw_rate:,.0f}/s follower {follow_rate:,.0f}/s one a transaction {single_rate:,.0f}/s"
    figure(f"view follower catch-up, {s.backend}, {upto:,} positions, to the raw read", ratio=follow_rate / raw_rate,
           goal=">= 0.5", met=follow_rate / raw_rate >= 0.5)
    return [f"{upto:,}", rate(raw_rate), rate(single_rate), ratio(single_rate, raw_rate), rate(follow_rate),
            ratio(follow_rate, raw_rate), f"{load:.1f}"], note


def _as_of_rows(s: Scratch, services: Any, total: int, middle: datetime, reps: int) -> list[list[Any]]:
    """Each whole view as of ``middle``, from the live views (complete, with checkpoints)."""
    from infrastructure.view_runner import VIEW_NAMES

    ledger = services.ledger
    upto = _position_at(ledger, middle)
    raw_upto = median(repeat(lambda: raw_read_until(s, events_table(ledger), upto), reps))
    rows = []
    for name in VIEW_NAMES:
        took = median(repeat(lambda name=name: _timed_view(services, middle, name), reps))
        rows.append([f"{total:,}", name, middle.date().isoformat(), f"{upto:,}", ms(took), ms(raw_upto),
                     ratio(took, raw_upto), "yes" if took < 1 else "no"])
        progress(f"views as of {middle.date()}: {name} {took * 1000:,.0f} ms")
        figure(f"view {name} as of {middle.date()}, {s.backend}, {total:,} positions", seconds=took,
               goal="< 1", met=took < 1)
    return rows


def run(backend: str, sizes: list[int], reps: int, rebuild_reps: int | None = None,
        database: str | None = None, keys: str | None = None, as_of: list[datetime] | None = None) -> None:
    rebuild_reps = rebuild_reps or reps
    rows: list[list[Any]] = []
    follow_rows: list[list[Any]] = []
    as_of_rows: list[list[Any]] = []
    if database is not None:
        from pathlib import Path

        s = Scratch("postgres", f"postgresql://postgres@127.0.0.1:5432/{database}", Path(keys or "."), database)
        services = build_services(s)
        try:
            ledger = services.ledger
            total = ledger.recorder.max_notification_id() or 0
            for size in sorted(min(x, total) for x in sizes):
                row, note = _rebuild_row(s, ledger, size, size == total, reps, rebuild_reps)
                rows.append(row)
                progress(f"views {database} {note}")
            row, note = _follower_row(s, ledger, total, reps)
            follow_rows.append(row)
            progress(f"views {database} {note}")
            services.views.catch_up()
            first = ledger.mapper.to_domain_event(ledger.recorder.select_notifications(1, 1)[0]).timestamp
            last = ledger.mapper.to_domain_event(ledger.recorder.select_notifications(total, 1)[0]).timestamp
            services.views.briefs()  # a serving process holds them (warmed as it starts)
            for moment in as_of or [first + (last - first) / 2]:
                as_of_rows += _as_of_rows(s, services, total, moment, reps)
        finally:
            services.close()
    else:
        with scratch(backend, "views") as s:
            services = build_services(s)
            ledger = services.ledger
            gen = DistrictGenerator(services, batch=100)
            try:
                for size in sizes:
                    t0 = time.perf_counter()
                    gen.extend(size)
                    progress(f"views {backend}: {gen.written:,} events generated ({time.perf_counter() - t0:.0f} s)")
                    total = ledger.recorder.max_notification_id() or 0
                    row, note = _rebuild_row(s, ledger, total, True, reps, rebuild_reps)
                    rows.append(row)
                    progress(f"views {backend} {note}")
                    row, note = _follower_row(s, ledger, total, reps)
                    follow_rows.append(row)
                    progress(f"views {backend} {note}")
                services.views.catch_up()
                middle = gen.now - (gen.now - datetime(2019, 3, 1, tzinfo=timezone.utc)) / 2
                as_of_rows += _as_of_rows(s, services, total, middle, reps)
            finally:
                services.close()
    table(
        f"Views rebuild, {backend}" + (f" (database {database})" if database else ""),
        ["log positions", "rebuilt", "raw read ev/s", "library read+decode ev/s", "ratio", "rebuild positions/s",
         "rebuild ratio to raw (target ≥ 0.5×)", "rebuild peak RSS added, MiB"],
        rows,
        [f"medians of {reps} repetitions ({rebuild_reps} for the rebuild); rebuild rate in log positions per "
         "second (the fold reads only the views' topics, the raw read every event). A prefix is folded into a "
         "scratch generation up to that position; the whole log is `careledger rebuild`, promotion included.",
         "peak RSS: VmHWM of the forked process doing the rebuild, above its RSS just before it; flat means the fold "
         "keeps only the batch and the summaries it touches, not the log.",
         "the library's read+decode is the rebuild's ceiling in one Python process: the fold cannot be faster "
         "than decoding its input."],
    )
    table(
        f"View follower catch-up, {backend}" + (f" (database {database})" if database else ""),
        ["log positions", "raw read ev/s", "one event a transaction, positions/s", "ratio",
         "follower (batched), positions/s", "ratio to raw (target ≥ 0.5×)", "load average (1 min)"],
        follow_rows,
        [f"medians of {reps}, each repetition a raw read, a follower catch-up and the one-a-transaction "
         "fold in turn (interleaved).",
         "follower: the views' follower of `careledger project` and of a serving process (Views.start: "
         "woken by each commit on PostgreSQL, folding up to FOLLOW_BATCH positions a transaction with its "
         "position) taking a fresh generation from nothing to the end of the log.",
         "one event a transaction: process_event per notification over the first 500 of the views' "
         "events, what the library's ProjectionRunner did for `careledger project` before (the baseline "
         "of the change)."],
    )
    table(
        f"A whole view as of a past date, {backend}",
        ["log positions", "view", "as of", "position at the date", "view as of the date, ms", "raw read up to it, ms",
         "ratio", "under 1 s"],
        as_of_rows,
        [f"medians of {reps}; the date is the middle of the generated history unless --as-of names it; each view "
         "takes the briefs not changed since the nearest checkpoint recorded by then from the process's brief cache, "
         "reads the others' versions there (one query), and replays the views' events after it (at most about "
         "CHECKPOINT_EVERY positions), then computes the view."],
    )


def _timed_view(services: Any, moment: datetime, name: str = "supervision") -> float:
    start = time.perf_counter()
    services.views.view(name, as_of=moment, year=moment.year)
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
    parser.add_argument("--rebuild-reps", type=int, default=None, help="repetitions of the rebuild (default --reps)")
    parser.add_argument("--database", default=None, help="an existing PostgreSQL database written by bench.generate")
    parser.add_argument("--keys", default=None, help="the directory of that database's key files")
    parser.add_argument("--as-of", default=None,
                        help="with --database: the dates (YYYY-MM-DD, comma-separated, 12:00 Beijing) of the views as of")
    args = parser.parse_args()
    moments = [datetime.fromisoformat(f"{d}T12:00:00+08:00") for d in args.as_of.split(",")] if args.as_of else None
    sizes = [int(x) for x in args.sizes.split(",") if x]
    run(args.backend, sizes, args.reps, args.rebuild_reps, args.database, args.keys, moments)


if __name__ == "__main__":
    main()
