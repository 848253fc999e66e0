"""Times each dashboard page on the demo district: the median of 20 requests over HTTP.

    .venv/bin/python bench/pages.py [--requests 20] [--no-record]

Serves the demo district from a fresh SQLite file with uvicorn on a loopback port (one
process, as `make run` does), signs in as the supervision office, and asks each page in
turn. The result is appended to docs/BENCHMARKS.md under "Dashboard pages". Target: every
page's median under 300 ms.
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
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from domain.issue import issue_id
from domain.plan import plan_id
from infrastructure.settings import Settings
from interfaces import bootstrap, demo_district
from interfaces.http.app import create_app

TARGET_MS = 300
HEADING = "## Dashboard pages"
RECORD = ROOT / "docs" / "BENCHMARKS.md"


def pages() -> list[tuple[str, str]]:
    overdue = issue_id(plan_id(demo_district.PLAN_NUMBER), 1)
    return [
        ("总览", "/"),
        ("整改问题列表", "/issues"),
        ("逾期问题", "/issues?overdue=true"),
        ("问题时间线", f"/issues/{overdue}"),
        ("时间线回看 2019-04-20", f"/issues/{overdue}?as_of=2019-04-20"),
        ("年终考核 2019", "/evaluation?year=2019"),
        ("年终考核 .xlsx", "/api/v1/views/evaluation/2019.xlsx"),
        ("信息台账统计", "/ledger"),
        ("审计", "/audit"),
    ]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def serve(workdir: Path) -> tuple[str, dict[str, str], uvicorn.Server, threading.Thread, bootstrap.Services]:
    settings = Settings(database_url=f"sqlite:///{workdir / 'careledger.sqlite'}",
                        signing_key_file=workdir / "signing-key.pem", data_key_file=workdir / "data-key")
    services = bootstrap.build(settings)
    tokens = demo_district.load(services.ledger)
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


def measure(base: str, token: str, count: int) -> list[tuple[str, str, float, float]]:
    results = []
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as client:
        signed = client.post("/signin", data={"token": token}, headers={"Origin": base})
        if signed.status_code != 200 or "督查督办总览" not in signed.text:
            raise SystemExit(f"sign-in failed: {signed.status_code}")
        for label, path in pages():
            for _ in range(2):  # warm-up: first-use caches (unit names, templates)
                client.get(path).raise_for_status()
            times = []
            for _ in range(count):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results.append((label, path, statistics.median(times), times[int(0.9 * (len(times) - 1))]))
    return results


def record(results: list[tuple[str, str, float, float]], count: int) -> str:
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        (f"Command: `.venv/bin/python bench/pages.py --requests {count}` (demo district, SQLite, one "
         "uvicorn process on loopback, signed in as 督查督办)."),
        f"Machine: {machine()}.",
        "",
        f"| page | path | median ms | p90 ms | under {TARGET_MS} ms |",
        "|---|---|---:|---:|---|",
        *(f"| {label} | `{path}` | {median:.1f} | {p90:.1f} | {'yes' if median < TARGET_MS else 'NO'} |"
          for label, path, median, p90 in results),
        "",
    ]
    return "\n".join(lines)


def append(block: str) -> None:
    """Under the "Dashboard pages" heading, after its earlier runs and before the next section."""
    text = RECORD.read_text() if RECORD.exists() else "# Benchmarks\n"
    if HEADING not in text:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\nEach dashboard page, median of N requests over HTTP; " \
            f"target < {TARGET_MS} ms. Run by `bench/pages.py`.\n"
    start = text.index(HEADING) + len(HEADING)
    following = text.find("\n## ", start)
    end = len(text) if following < 0 else following + 1
    before = text[:end].rstrip("\n") + "\n\n" + block
    RECORD.write_text(before + ("\n" + text[end:] if following >= 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to docs/BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="careledger-bench-") as workdir:
        base, tokens, server, thread, services = serve(Path(workdir))
        try:
            results = measure(base, tokens["supervisor"], args.requests)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            services.close()
    block = record(results, args.requests)
    print(block)
    if not args.no_record:
        append(block)
    slow = [label for label, _, median, _ in results if median >= TARGET_MS]
    if slow:
        print(f"over {TARGET_MS} ms: {'、'.join(slow)}", file=sys.stderr)


if __name__ == "__main__":
    main()
