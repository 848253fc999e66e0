"""A plain FastAPI endpoint over the bare eventsourcing library: the HTTP baseline for
bench/append.py ("what does the framework cost here?"). POST /notes/{n}/urgings appends one
event to an in-memory aggregate per path segment and saves it; no auth, no load, no views.

    BENCH_LIBRARY_ENV='{"PERSISTENCE_MODULE": ...}' uvicorn bench.plain_app:app
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from bench.append import Bare, Note

app = FastAPI()
_library = Bare(env=json.loads(os.environ["BENCH_LIBRARY_ENV"]))
_notes: dict[str, Note] = {}
_lock = threading.Lock()


class UrgingIn(BaseModel):
    unit: str
    message: str
    reply_by: str


@app.post("/api/v1/issues/{key}/urgings", status_code=201)
def urge(key: str, body: UrgingIn) -> dict[str, Any]:
    with _lock:
        note = _notes.get(key)
        if note is None:
            note = _notes[key] = Note()
            _library.save(note)
    # One writer per key at a time, as the load generator sends: no conflicts to handle.
    note.urge(body.unit, body.message, body.reply_by, "督查督办-李敏", "dxh-bgs")
    _library.save(note)
    return {"id": str(note.id), "version": note.version}
