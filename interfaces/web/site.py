"""The dashboard mounted on the app: static files, the verification job, and the routers
of the pages, sign-in and administration (kept here so that none of them imports another
that imports it back)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from infrastructure.jobs import OneAtATime
from interfaces.web import (
    admin,
    admin_units,
    admin_users,
    case_correction_forms,
    case_forms,
    case_pages,
    correction_forms,
    extension_decision_forms,
    inspection,
    measure_forms,
    overdue_urgings,
    pages,
    plan_forms,
    province,
    reply_forms,
    signin,
    supervision_forms,
    todo,
    year_end,
)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="web-static")
    app.state.web_verifications = OneAtATime(lambda: datetime.now(UTC), name="careledger-verify")
    app.state.district_verifications = {}  # code → its own job (pages.verifications)
    app.include_router(signin.router)
    app.include_router(admin.router)
    app.include_router(inspection.audit_router)
    app.include_router(inspection.district_router)
    app.include_router(inspection.router)
    app.include_router(measure_forms.router)
    app.include_router(correction_forms.router)
    app.include_router(admin_users.router)
    app.include_router(admin_units.router)
    app.include_router(plan_forms.router)
    app.include_router(supervision_forms.router)
    app.include_router(overdue_urgings.router)
    app.include_router(year_end.router)
    app.include_router(extension_decision_forms.router)
    app.include_router(todo.router)
    app.include_router(reply_forms.router)
    app.include_router(province.router)
    # The forms first: /cases/new before the page /cases/{case_id}.
    app.include_router(case_forms.router)
    app.include_router(case_correction_forms.router)
    app.include_router(case_pages.router)
    app.include_router(pages.router)
