"""Driving the dashboard's pages and forms over HTTP as a browser would (no JavaScript)."""

from __future__ import annotations

import html as html_text
import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from application.commands import SYSTEM, Command
from domain.registry import user_id
from tests.district import District

ORIGIN = {"Origin": "http://testserver"}
PASSWORD = "a password long enough"


def give_password(district: District, who: str) -> None:
    if not district.ledger.repository.get(user_id(who)).has_password:
        district.accounts.set_password(Command(SYSTEM), who, PASSWORD)


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, district: District, who: str) -> None:
    give_password(district, who)
    csrf = form_csrf(client.get("/signin").text)
    answer = client.post("/signin", data={"username": who, "password": PASSWORD, "csrf": csrf, "next": "/"},
                         headers=ORIGIN, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def session_csrf(client: TestClient) -> str:
    """The CSRF token of the session's forms, as the page with the sign-out form carries it."""
    return form_csrf(client.get("/evaluation").text)


def page(client: TestClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:500])
    assert answer.headers["content-type"].startswith("text/html")
    return answer.text


def rows_with(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<tr class="{css_class}">(.*?)</tr>', html, re.DOTALL)


def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields (CSRF token, the form's own key, the version it was drawn from) of
    the form on the page that posts to ``action``."""
    for form in re.findall(r"<form\b[^>]*>.*?</form>", html, re.DOTALL):
        if f'action="{action}"' in form:
            return {name: html_text.unescape(value) for name, value in
                    re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
    raise AssertionError(f"no form posts to {action}")


def submit(client: TestClient, form_page: str, action: str, data: dict[str, Any], *,
           files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
           envelope: dict[str, str] | None = None) -> Response:
    """Opens ``form_page``, fills the form that posts to ``action`` and sends it, as a person
    would; ``envelope`` sends hidden fields kept from an earlier rendering instead."""
    hidden = envelope if envelope is not None else hidden_fields(page(client, form_page), action)
    return client.post(action, data={**hidden, **data}, files=files, headers=ORIGIN, follow_redirects=False)


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<span class="field-error" id="err-{re.escape(name)}">(.*?)</span>', html, re.DOTALL)
    assert found, f"no error beside {name}"
    return html_text.unescape(found.group(1))


def opened(client: TestClient, district: District, who: str, form: str) -> dict[str, str]:
    """``who`` signs in and opens the form at ``form``: the hidden fields it would send back."""
    sign_in(client, district, who)
    return hidden_fields(page(client, form), form)
