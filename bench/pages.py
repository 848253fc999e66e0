"""Times each dashboard page on the demo district: median, p90 and p99 of 20 requests over HTTP.

    .venv/bin/python bench/pages.py [--requests 20] [--no-record]
    .venv/bin/python bench/pages.py --database views_1m --keys DIR [--requests 5]

Serves the demo district from a fresh SQLite file with uvicorn on a loopback port (one
process, as `make run` does), signs in as the supervision office, and asks each page in
turn. With ``--database`` it serves instead an existing PostgreSQL database written by
bench.generate (``--keys``: the directory of its key files), after enrolling a supervisor
there (two events) and catching the views up; the pages then name one of its issues and its
first year. The workbench's forms are asked by an agency user of the unit owning the
issue's open measure M1 (enrolled there too). The result is appended to docs/BENCHMARKS.md
under "Dashboard pages". Target (issue 20): every page's p99 under 150 ms at 10⁶ events.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import MARK, cpu_name, percentile
from domain.issue import MEASURE_OPEN, issue_id
from domain.plan import plan_id
from infrastructure.settings import Settings
from interfaces import bootstrap, collector, demo_district
from interfaces.http.app import create_app

TARGET_MS = 150
HEADING = "## Dashboard pages"
RECORD = ROOT / "docs" / "BENCHMARKS.md"


# The workbench's forms, asked as the agency owning the issue's measure M1.
AGENCY = "agency"
DEMO_AGENCY_UNIT = next(unit for key, _, unit, _ in demo_district.DEMO_USERS if key == AGENCY)


def workbench(issue: str) -> list[tuple[str, str, str]]:
    return [("待办", "/todo", AGENCY), ("制定整改措施表单", f"/issues/{issue}/measures/new", AGENCY),
            ("报送进展表单 M1", f"/issues/{issue}/measures/M1/progress", AGENCY)]


def pages(issue: str | None = None, back: str = "2019-04-20", year: int = 2019) -> list[tuple[str, str]]:
    overdue = issue or str(issue_id(plan_id(demo_district.PLAN_NUMBER), 1))
    return [
        ("总览", "/"),
        ("整改问题列表", "/issues"),
        ("逾期问题", "/issues?overdue=true"),
        ("问题时间线", f"/issues/{overdue}"),
        (f"时间线回看 {back}", f"/issues/{overdue}?as_of={back}"),
        (f"年终考核 {year}", f"/evaluation?year={year}"),
        ("年终考核 .xlsx", f"/api/v1/views/evaluation/{year}.xlsx"),
        ("信息台账统计", "/ledger"),
        ("审计", "/audit"),
        ("审计：催办", "/audit?kind=RectificationIssue.Urged"),
        ("历史回看", "/replay"),
        (f"问题比较 {back} 至今", f"/replay/issue?id={overdue}&since={back}"),
        (f"视图比较 {back} 至今", f"/replay/view?name=units&since={back}"),
        ("实施方案", "/plans"),
        (f"年终考核报告 {year}", f"/evaluation/{year}/report"),
        ("个案列表", "/cases"),
    ]


def machine() -> str:
    cpu = cpu_name()
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def serve(workdir: Path, database: str | None = None) -> tuple[str, dict[str, str], uvicorn.Server, threading.Thread, bootstrap.Services]:
    url = (f"postgresql://postgres@127.0.0.1:5432/{database}" if database
           else f"sqlite:///{workdir / 'careledger.sqlite'}")
    # A generated district's pages may take longer than the server's 30 s deadline; the
    # benchmark wants their time, not a 504.
    settings = Settings(database_url=url, signing_key_file=workdir / "signing-key.pem",
                        data_key_file=workdir / "data-key", idempotency_key_file=workdir / "idempotency-key",
                        **({"request_deadline_seconds": 900} if database else {}))
    services = bootstrap.build(settings)
    # As a serving process does (interfaces.http.main, which this bench does not import).
    collector.settle_long_lived()
    if database:
        from application.commands import SYSTEM, Command

        enrolment = services.accounts.add_user(Command(SYSTEM), name=f"督查督办-测速-{os.getpid()}", unit="dxh-bgs", role="supervisor")
        tokens = {"supervisor": enrolment.token}
        services.views.catch_up()
        unit = worked_issue(services)["measures"]["M1"]["unit"]
        tokens[AGENCY] = services.accounts.add_user(Command(SYSTEM), name=f"责任单位-测速-{os.getpid()}", unit=unit,
                                                    role="agency").token
    else:
        tokens = demo_district.load(services)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base, tokens, server, thread, services
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # bounded poll for the server to answer
    raise SystemExit("the server did not answer /healthz within 15 s")


def urging_each_time(issues: list[dict[str, Any]], token: str) -> Callable[[httpx.Client], None]:
    """Before each timed page, one urging through the API, of each of ``issues`` in turn:
    every page then meets a log one event longer than its last request did (views, caches
    and kept answers must take it in), as in an office where work is recorded between
    readings, on many issues (urging one issue over and over made its history, and so its
    summary and page, grow with every request)."""
    from datetime import date, timedelta
    from itertools import cycle

    reply_by = (date.today() + timedelta(days=7)).isoformat()
    turn = cycle(issues)

    def urge(client: httpx.Client) -> None:
        issue = next(turn)
        client.post(f"/api/v1/issues/{issue['id']}/urgings", headers={"Authorization": f"Bearer {token}"},
                    json={"unit": issue["units"][0], "message": "请加快整改进度", "reply_by": reply_by}).raise_for_status()

    return urge


def chosen_issue(services: bootstrap.Services) -> dict[str, Any]:
    """The first issue with measures (its whole summary)."""
    services.views.catch_up()
    briefs = services.views.briefs(kinds=("issue",))
    brief = next((b for b in briefs if b["measures"]), briefs[0])
    return services.views.store.get_summaries([brief["id"]])[brief["id"]]


def open_issues(services: bootstrap.Services, most: int = 50) -> list[dict[str, Any]]:
    """Issues still open to urgings, with a responsible unit."""
    services.views.catch_up()
    return [b for b in services.views.briefs(kinds=("issue",)) if not b["closed"] and b["units"]][:most]


def worked_issue(services: bootstrap.Services, unit: str | None = None) -> dict[str, Any]:
    """An issue still open whose measure M1 is open too (of ``unit`` when given): the
    workbench's forms act on it."""
    services.views.catch_up()
    return next(b for b in services.views.briefs(kinds=("issue",))
                if not b["closed"] and b["measures"].get("M1", {}).get("status") == MEASURE_OPEN
                and unit in (None, b["measures"]["M1"]["unit"]))


def generated_pages(services: bootstrap.Services) -> list[tuple[str, str]]:
    """The pages for a generated district: its first issue with measures, half a year on."""
    from datetime import date, timedelta

    chosen = chosen_issue(services)
    registered = date.fromisoformat(chosen["registered_at"][:10])
    return pages(chosen["id"], (registered + timedelta(days=180)).isoformat(), registered.year)


Result = tuple[str, str, float, float, float]


def measure(base: str, tokens: dict[str, str], count: int, paths: list[tuple[str, ...]] | None = None,
            warmup: int = 2, before: Callable[[httpx.Client], None] | None = None) -> list[Result]:
    """Each page's median, p90 and p99 (nearest rank) of ``count`` requests."""
    results = []
    # Pages take a bearer token as the API does (the sign-in form wants a password, and its
    # argon2id hash is not what this measures).
    with httpx.Client(base_url=base, timeout=600, follow_redirects=True,
                      headers={"Authorization": f"Bearer {tokens['supervisor']}"}) as client:
        signed = client.get("/")
        if signed.status_code != 200 or "督查督办总览" not in signed.text:
            raise SystemExit(f"sign-in failed: {signed.status_code}")
        for label, path, *who in paths or pages():
            headers = {"Authorization": f"Bearer {tokens[who[0]]}"} if who else None
            for _ in range(warmup):  # warm-up: first-use caches (unit names, templates)
                client.get(path, headers=headers).raise_for_status()
            times = []
            for _ in range(count):
                if before is not None:
                    before(client)
                started = time.perf_counter()
                client.get(path, headers=headers).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            results.append((label, path, statistics.median(times), percentile(times, 90), percentile(times, 99)))
            print(f"{label} {path}: median {results[-1][2]:,.0f} ms, p99 {results[-1][4]:,.0f} ms",
                  file=sys.stderr, flush=True)
    return results


def record(results: list[Result], count: int, where: str | None = None, writes: bool = False) -> str:
    command = (f".venv/bin/python bench/pages.py --requests {count}" + (f" --database {where.split()[0]}" if where else "")
               + (" --write-between" if writes else ""))
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        (f"Command: `{command}` ({where or 'demo district, SQLite'}, one "
         "uvicorn process on loopback, signed in as 督查督办"
         + ("; one urging written through the API before each timed request" if writes else "") + ")."),
        f"Machine: {machine()}; load average {load()} at the end (2 CPUs shared with other engineers' work).",
        "",
        f"| page | path | median ms | p90 ms | p99 ms | p99 under {TARGET_MS} ms |",
        "|---|---|---:|---:|---:|---|",
        *(f"| {label} | `{path}` | {median:.1f} | {p90:.1f} | {p99:.1f} | {'yes' if p99 < TARGET_MS else 'NO'} |"
          for label, path, median, p90, p99 in results),
        "",
    ]
    return "\n".join(lines)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def append(block: str) -> None:
    """Under the "Dashboard pages" heading, after its earlier runs and before the next section."""
    text = RECORD.read_text() if RECORD.exists() else "# Benchmarks\n"
    if HEADING not in text:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\nEach dashboard page, median of N requests over HTTP; " \
            f"target < {TARGET_MS} ms. Run by `bench/pages.py`.\n"
    start = text.index(HEADING) + len(HEADING)
    following = text.find("\n## ", start)
    end = len(text) if following < 0 else following + 1
    # Above make bench's marker too: what follows it is rewritten by every make bench.
    marker = text.find(MARK, start)
    if 0 <= marker < end:
        end = marker
    before = text[:end].rstrip("\n") + "\n\n" + block
    RECORD.write_text(before + ("\n" + text[end:] if end < len(text) else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to docs/BENCHMARKS.md")
    parser.add_argument("--database", default=None, help="an existing PostgreSQL database written by bench.generate")
    parser.add_argument("--keys", default=None, help="the directory of that database's key files")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests before each page's")
    parser.add_argument("--write-between", action="store_true",
                        help="one urging through the API before each timed request (no page reuses an answer)")
    args = parser.parse_args()
    where = None
    with tempfile.TemporaryDirectory(prefix="careledger-bench-") as workdir:
        base, tokens, server, thread, services = serve(Path(args.keys or workdir), args.database)
        try:
            paths: list[tuple[str, ...]] = list(generated_pages(services) if args.database else pages())
            # The demo's agency user is 普法科's; a generated district's was enrolled for its issue.
            paths += workbench(worked_issue(services, None if args.database else DEMO_AGENCY_UNIT)["id"])
            if args.database:
                total = services.ledger.recorder.max_notification_id() or 0
                where = f"{args.database} (PostgreSQL, {total:,} events from bench.generate)"
            before = urging_each_time(open_issues(services), tokens["supervisor"]) if args.write_between else None
            results = measure(base, tokens, args.requests, paths, args.warmup, before)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            services.close()
    block = record(results, args.requests, where, args.write_between)
    print(block)
    if not args.no_record:
        append(block)
    slow = [label for label, _, _, _, p99 in results if p99 >= TARGET_MS]
    if slow:
        print(f"over {TARGET_MS} ms: {'、'.join(slow)}", file=sys.stderr)


if __name__ == "__main__":
    main()
