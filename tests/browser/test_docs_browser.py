"""/docs in a real browser: Swagger UI, served by careledger with no request leaving the
machine, renders the OpenAPI 3.1 document with every operation and its Chinese summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.browser.conftest import Demo


def test_docs_render_every_operation_of_the_openapi_document_offline(page: Any, demo: Demo,
                                                                   screenshot: Callable[..., None]) -> None:
    document = httpx.get(f"{demo.base_url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    expected = {(method.upper(), path): operation["summary"]
                for path, operations in document["paths"].items() for method, operation in operations.items()}
    outside: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(demo.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(demo.base_url + "/docs")
    page.wait_for_selector(".opblock .opblock-summary-path")
    assert page.locator(".swagger-ui .errors-wrapper").count() == 0
    assert "Unable to render" not in page.content()
    rendered = page.eval_on_selector_all(".opblock", """blocks => blocks.map(b => [
        b.querySelector('.opblock-summary-method').textContent.trim(),
        b.querySelector('.opblock-summary-path').getAttribute('data-path'),
        (b.querySelector('.opblock-summary-description') || {textContent: ''}).textContent.trim()])""")
    shown = {(method, path): summary for method, path, summary in rendered}
    assert set(shown) == set(expected)
    assert all(shown[key] == summary for key, summary in expected.items())
    assert outside == []
    screenshot(page, "docs", full_page=False)
