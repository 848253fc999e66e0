"""The OpenAPI document speaks Chinese for every operation, and /docs needs no other host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from interfaces.http.app import create_app
from interfaces.http.operation_docs import DESCRIPTIONS
from tests.backends import settings_for

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def app_client(tmp_path: Path) -> TestClient:
    # No lifespan: the document and the docs page need no store.
    return TestClient(create_app(settings_for("sqlite", tmp_path, None, None)))


def test_every_operation_has_a_chinese_summary_and_description(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    operations = {f"{method.upper()} {path}": operation
                  for path, ops in document["paths"].items() for method, operation in ops.items()}
    assert len(operations) > 50
    lacking = [key for key, op in operations.items()
               if not CJK.search(op.get("summary") or "") or not CJK.search(op.get("description") or "")]
    assert lacking == []
    assert set(DESCRIPTIONS) <= set(operations), "a description for an operation that does not exist"


def test_the_docs_page_loads_its_assets_from_this_server_only(app_client: TestClient) -> None:
    page = app_client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text) + re.findall(r"https?://[^\s\"'<>]+", page.text)
    assert urls and all(url.startswith("/") for url in urls), urls
    for url in urls:
        assert app_client.get(url).status_code == 200, url
    bundle = app_client.get("/docs-assets/swagger-ui-bundle.js").text
    major = re.search(r'"(5)\.\d+\.\d+"', bundle)
    assert major is not None, "Swagger UI 5 renders OpenAPI 3.1; 4.x does not"
