"""The dashboard mounted on the app: static files, the verification job, and the routers
of the pages, sign-in and administration (kept here so that none of them imports another
that imports it back)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from infrastructure.jobs import OneAtATime
from interfaces.web import admin, case_forms, case_pages, inspection, measure_forms, pages, signin


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="web-static")
    app.state.web_verifications = OneAtATime(lambda: datetime.now(UTC), name="careledger-verify")
    app.include_router(signin.router)
    app.include_router(admin.router)
    app.include_router(inspection.router)
    app.include_router(measure_forms.router)
    # The forms first: /cases/new before the page /cases/{case_id}.
    app.include_router(case_forms.router)
    app.include_router(case_pages.router)
    app.include_router(pages.router)
