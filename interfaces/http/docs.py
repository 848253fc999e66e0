"""/docs with Swagger UI served by careledger itself: government intranets reach no CDN.

The assets come from the fastapi-offline package (a current Swagger UI 5, which renders
OpenAPI 3.1 — FastAPI's document; the swagger-ui-bundle package ships 4.15, which
cannot). Each operation's description is filled in from ``operation_docs``.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from interfaces.http import operation_docs, problems

ASSETS = "/docs-assets"
SWAGGER_UI = files("fastapi_offline") / "static"


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(SWAGGER_UI)), name="docs-assets")
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = operation_docs.describe(problems.declare_command_rules(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — 接口文档",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            # Every operation shown open would make a long page; tags list them all. No validator
            # badge: it would ask validator.swagger.io about the document.
            swagger_ui_parameters={"docExpansion": "list", "defaultModelsExpandDepth": 0, "validatorUrl": None},
        )
