"""`careledger serve` writes one stream of JSON lines: uvicorn's own and access lines too, each
access line with the request's id (the client's X-Request-ID, sanitised, and echoed), Chinese
unescaped. The server runs as the operator starts it: a process of its own on a free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from infrastructure.settings import Settings
from tests.serving import wait_until_healthy

CARELEDGER = Path(sys.executable).with_name("careledger")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(settings: Settings) -> dict[str, str]:
    names = ("database_url", "database_schema", "signing_key_file", "data_key_file", "idempotency_key_file")
    return {**os.environ, **{f"CARELEDGER_{name.upper()}": str(getattr(settings, name)) for name in names}}


def test_every_line_the_server_writes_is_json_with_the_request_id_and_readable_chinese(
    settings: Settings, tmp_path: Path,
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(CARELEDGER), "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=environment(settings), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until_healthy(base_url, lambda: server.poll() is None, timeout=30.0)
        sent = {
            "chinese": "追踪-甲/区教育局 #1".encode(),
            "uuid": b"550e8400-e29b-41d4-a716-446655440000",
            "phone": b"req-13812345678",
            "control": b"a\tb",  # a tab: the one control character HTTP lets through
            "too_long": b"x" * 129,
        }
        echoed = {}
        for name, given in sent.items():
            answer = httpx.get(f"{base_url}/healthz", headers={"X-Request-ID": given})
            assert answer.status_code == 200
            echoed[name] = dict(answer.headers.raw)[b"x-request-id"].decode()
        refused = httpx.get(f"{base_url}/api/v1/issues", headers={"X-Request-ID": b"trace-401"})
        assert refused.status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped

    assert echoed["chinese"] == "追踪-甲/区教育局 #1" and echoed["uuid"] == sent["uuid"].decode()
    assert echoed["phone"] == "req-***********" and echoed["control"] == "a_b"
    assert len(echoed["too_long"]) == 16 and echoed["too_long"] != "x" * 16  # a fresh id instead

    lines = (out + err).decode("utf-8").splitlines()
    assert lines, "the server wrote nothing"
    records = []
    for line in lines:
        record = json.loads(line)  # every line, uvicorn's start and stop lines too
        assert isinstance(record, dict) and {"event", "level", "timestamp"} <= record.keys(), line
        records.append(record)
    assert "13812345678" not in out.decode() + err.decode()
    assert "追踪-甲/区教育局 #1" in err.decode("utf-8")  # as written, not as \\u escapes

    access = [r for r in records if r["event"] == "http_access"]
    for name, request_id in echoed.items():
        assert any(r["request_id"] == request_id and r["status"] == 200 and r["target"] == "/healthz"
                   for r in access), name
    refusal = [r for r in records if r.get("request_id") == "trace-401"]
    assert {r["event"] for r in refusal} == {"sign_in_failed", "http_access"}
    assert {"Started server process", "Finished server process"} <= {
        r["event"].split(" [")[0] for r in records if r.get("logger") == "uvicorn.error"}
