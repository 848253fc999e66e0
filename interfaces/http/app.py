"""The FastAPI application: routers, problem answers, limits; services built in lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from infrastructure.database_probe import START_WAIT_SECONDS, DatabaseUnavailable, wait_for_database
from infrastructure.settings import Settings
from interfaces import bootstrap
from interfaces.http import access, audit, cases, docs, evidence, health, issues, metrics, problems, views
from interfaces.http.limits import BodySizeLimit, RequestDeadline
from interfaces.logging import RequestId
from interfaces.web import site as dashboard

log = structlog.get_logger("careledger.http")



def _still_waiting(unavailable: DatabaseUnavailable) -> None:
    log.warning("database_unavailable_at_start", reason=unavailable.line)


def create_app(
    settings: Settings | None = None, *, services: bootstrap.Services | None = None
) -> FastAPI:
    settings = services.settings if services else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        if owned:
            # Its server started already (`careledger serve` probed the database): uvicorn restarts
            # a killed worker, perhaps while the database restarts, and a worker that fails to
            # start makes uvicorn stop the whole server.
            await asyncio.to_thread(wait_for_database, settings, START_WAIT_SECONDS, retrying=_still_waiting)
        app.state.services = services or bootstrap.build(settings)
        if owned:
            app.state.services.start_followers()
        try:
            yield
        finally:
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="careledger 留守儿童关爱保护和困境儿童保障工作台账",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if services is not None:
        app.state.services = services
    problems.install(app)
    docs.install(app)
    app.include_router(health.router, responses=problems.responses(503))
    app.include_router(metrics.router)
    app.include_router(issues.router, responses=problems.API_RESPONSES)
    app.include_router(cases.router, responses=problems.API_RESPONSES)
    app.include_router(views.router, responses=problems.API_RESPONSES)
    app.include_router(audit.router, responses=problems.API_RESPONSES)
    app.include_router(access.router, responses=problems.API_RESPONSES)
    app.include_router(evidence.router, responses=problems.API_RESPONSES)
    # The dashboard's pages last: their paths are outside /api, so none shadows an API route.
    dashboard.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestDeadline, seconds=settings.request_deadline_seconds)
    app.add_middleware(metrics.Metrics)
    app.add_middleware(RequestId)
    if settings.trusted_proxies:
        # Outermost, so every part of the app sees the client's address and scheme as the
        # trusted proxy reports them (and only a trusted proxy's report is believed).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
