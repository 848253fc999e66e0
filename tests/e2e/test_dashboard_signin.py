"""Dashboard sign-in with a user name and a password: server-side sessions, their cookie's
flags (behind a trusted proxy too), CSRF and origin checks, sessions ended by sign-out,
deactivation and a new password, the failed sign-in throttle, and the admin page."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from application.commands import SYSTEM, Command
from application.errors import ConcurrentWrite
from domain.registry import SignInLock, Token, user_id
from interfaces import bootstrap
from interfaces.http.app import create_app
from interfaces.http.deps import COOKIE
from tests.district import Clock, District
from tests.pages import ORIGIN, PASSWORD, form_csrf, give_password, session_csrf, sign_in


def log_size(district: District) -> int:
    return district.ledger.recorder.max_notification_id() or 0


def post_sign_in(client: TestClient, who: str, password: str, headers: dict[str, str] | None = None,
                 csrf: str | None = None) -> object:
    token = form_csrf(client.get("/signin").text) if csrf is None else csrf
    return client.post("/signin", data={"username": who, "password": password, "csrf": token, "next": "/issues"},
                       headers=ORIGIN if headers is None else headers, follow_redirects=False)


def signed_in(client: TestClient) -> bool:
    answer = client.get("/evaluation", follow_redirects=False)
    return answer.status_code == 200


# ---- signing in ------------------------------------------------------------------------------


def test_sign_in_opens_a_server_side_session_in_an_http_only_lax_cookie(
    client: TestClient, district: District, services,  # type: ignore[no-untyped-def]
) -> None:
    give_password(district, "supervisor")
    answer = post_sign_in(client, "supervisor", PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/issues"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    session_id = client.cookies[COOKIE]
    assert session_id not in district.tokens.values()
    store = services.accounts.store
    assert store.find_session(session_id) is None  # stored only as its digest
    assert store.find_session(hashlib.sha256(session_id.encode()).hexdigest()).user_id == user_id("supervisor")
    assert signed_in(client)


@pytest.mark.parametrize("who, password", [("supervisor", "a wrong password"), ("nobody", PASSWORD)])
def test_a_wrong_password_or_an_unknown_name_is_refused_alike_and_opens_nothing(
    client: TestClient, district: District, who: str, password: str,
) -> None:
    give_password(district, "supervisor")
    answer = post_sign_in(client, who, password)
    assert answer.status_code == 401 and "用户名或密码错误" in answer.text
    assert COOKIE not in client.cookies and not signed_in(client)


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}, {}])
def test_a_sign_in_from_another_site_or_without_origin_is_refused(
    client: TestClient, district: District, headers: dict[str, str],
) -> None:
    give_password(district, "supervisor")
    answer = post_sign_in(client, "supervisor", PASSWORD, headers=headers)
    assert answer.status_code == 403 and COOKIE not in client.cookies


@pytest.mark.parametrize("csrf", ["", "forged"])
def test_a_sign_in_without_the_forms_csrf_token_is_refused_and_stores_nothing(
    client: TestClient, district: District, services, csrf: str,  # type: ignore[no-untyped-def]
) -> None:
    give_password(district, "supervisor")
    client.get("/signin")
    before = log_size(district)
    answer = post_sign_in(client, "supervisor", PASSWORD, csrf=csrf)
    assert answer.status_code == 403 and COOKIE not in client.cookies
    assert log_size(district) == before


def test_sign_in_never_redirects_off_site(client: TestClient, district: District) -> None:
    give_password(district, "supervisor")
    csrf = form_csrf(client.get("/signin").text)
    answer = client.post("/signin", data={"username": "supervisor", "password": PASSWORD, "csrf": csrf,
                                          "next": "//evil.example/"},
                         headers={"Referer": "http://testserver/signin"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_a_deactivated_user_cannot_sign_in(client: TestClient, district: District) -> None:
    give_password(district, "gf-clerk")
    district.accounts.deactivate(district.cmd("admin"), user_id("gf-clerk"))
    assert post_sign_in(client, "gf-clerk", PASSWORD).status_code == 401
    assert COOKIE not in client.cookies


def test_the_cookie_never_signs_an_api_command(client: TestClient, district: District) -> None:
    sign_in(client, district, "supervisor")
    answer = client.post("/api/v1/plans", json={"number": "X[2019]1号", "title": "t", "issuer_unit": "bgs", "year": 2019})
    assert answer.status_code == 401
    assert client.get("/api/v1/views/supervision").status_code == 401


# ---- sessions end ----------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server_so_the_old_cookie_no_longer_works(
    client: TestClient, district: District,
) -> None:
    sign_in(client, district, "supervisor")
    old = client.cookies[COOKIE]
    answer = client.post("/signout", data={"csrf": session_csrf(client)}, headers=ORIGIN, follow_redirects=False)
    assert answer.status_code == 303 and f'{COOKIE}=""' in answer.headers["set-cookie"]
    client.cookies.set(COOKIE, old)  # a copy of the cookie kept from before
    assert not signed_in(client)


def test_a_sign_out_without_the_sessions_csrf_token_or_from_another_site_is_refused(
    client: TestClient, district: District,
) -> None:
    sign_in(client, district, "supervisor")
    assert client.post("/signout", headers=ORIGIN, follow_redirects=False).status_code == 403
    assert client.post("/signout", data={"csrf": session_csrf(client)}, headers={"Origin": "http://evil.example"},
                       follow_redirects=False).status_code == 403
    assert signed_in(client)


def test_deactivation_ends_the_users_sessions_in_every_worker(
    client: TestClient, other_worker: TestClient, district: District,
) -> None:
    sign_in(other_worker, district, "pf-clerk")
    assert signed_in(other_worker)
    deactivated = client.post(f"/api/v1/users/{user_id('pf-clerk')}/deactivation",
                              headers={"Authorization": f"Bearer {district.tokens['admin']}"})
    assert deactivated.status_code == 201
    assert not signed_in(other_worker)
    district.accounts.reactivate(district.cmd("admin"), user_id("pf-clerk"))
    assert not signed_in(other_worker)  # ended, not suspended: a reactivated user signs in again


def test_a_new_password_ends_the_users_sessions(client: TestClient, district: District) -> None:
    sign_in(client, district, "inspector")
    district.accounts.set_password(Command(SYSTEM), "inspector", "another long password")
    assert not signed_in(client)


def test_a_session_ends_after_idle_time_and_after_its_lifetime(
    client: TestClient, district: District, clock: Clock,
) -> None:
    sign_in(client, district, "supervisor")
    clock.advance(minutes=29)
    assert signed_in(client)
    clock.advance(minutes=30)
    assert not signed_in(client)

    sign_in(client, district, "supervisor")
    for _ in range(12 * 3 - 1):  # busy all day, a request every 20 minutes
        clock.advance(minutes=20)
        assert signed_in(client)
    clock.advance(minutes=20)
    assert not signed_in(client)


# ---- cookie flags and proxies ------------------------------------------------------------------


@pytest.fixture
def behind_proxy(settings, clock: Clock) -> Iterator[bootstrap.Services]:  # type: ignore[no-untyped-def]
    built = bootstrap.build(settings.model_copy(update={"trusted_proxies": ["10.0.0.1"]}), clock=clock)
    try:
        yield built
    finally:
        built.close()


def _proxied_sign_in(services: bootstrap.Services, peer: str, origin: str) -> tuple[int, str]:
    with TestClient(create_app(services=services), client=(peer, 40000), raise_server_exceptions=False,
                    headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}) as http:
        form = http.get("/signin")
        csrf = form_csrf(form.text)
        # The browser reached the proxy over HTTPS and sends the form's cookie even when it is
        # Secure; this client speaks plain HTTP to the app, so it is sent by hand.
        answer = http.post("/signin", data={"username": "supervisor", "password": PASSWORD, "csrf": csrf},
                           headers={"Origin": origin, "Cookie": f"careledger_signin={csrf}"},
                           follow_redirects=False)
        cookies = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
        return answer.status_code, cookies[0] if cookies else ""


def test_behind_a_trusted_https_proxy_the_cookie_is_secure_and_the_https_origin_is_ours(
    district: District, behind_proxy: bootstrap.Services,
) -> None:
    give_password(district, "supervisor")
    status, cookie = _proxied_sign_in(behind_proxy, "10.0.0.1", "https://testserver")
    assert status == 303 and "Secure" in cookie and "HttpOnly" in cookie


def test_an_untrusted_peer_claiming_https_gets_no_secure_cookie(
    district: District, behind_proxy: bootstrap.Services,
) -> None:
    give_password(district, "supervisor")
    status, _ = _proxied_sign_in(behind_proxy, "10.9.9.9", "https://testserver")
    assert status == 403  # its scheme is http: an https Origin is another site's
    status, cookie = _proxied_sign_in(behind_proxy, "10.9.9.9", "http://testserver")
    assert status == 303 and "Secure" not in cookie


@pytest.mark.parametrize("peer, trusted", [("127.0.0.1", []), ("127.0.0.1", ["127.0.0.1"]), ("10.0.0.1", ["10.0.0.1"])])
def test_metrics_refuse_a_request_a_proxy_forwarded_even_from_a_local_address(
    settings, clock: Clock, peer: str, trusted: list[str],  # type: ignore[no-untyped-def]
) -> None:
    built = bootstrap.build(settings.model_copy(update={"trusted_proxies": trusted}), clock=clock)
    try:
        with TestClient(create_app(services=built), client=(peer, 40000)) as http:
            assert http.get("/metrics").status_code == 200  # a scraper reaching it directly
            for forwarded in ({"X-Forwarded-For": "10.1.2.3"}, {"X-Forwarded-For": "203.0.113.9"},
                              {"Forwarded": "for=10.1.2.3"}, {"X-Real-IP": "127.0.0.1"}):
                assert http.get("/metrics", headers=forwarded).status_code == 404, forwarded
    finally:
        built.close()


# ---- the failed sign-in throttle ---------------------------------------------------------------


def _metric(client: TestClient, reason: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf'^careledger_signin_failures_total{{reason="{reason}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_five_failures_lock_the_user_so_the_sixth_is_refused_even_with_the_right_password(
    services, district: District, clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    give_password(district, "supervisor")
    with TestClient(create_app(services=services), client=("127.0.0.1", 40000)) as http:
        wrong, locked = _metric(http, "wrong_password"), _metric(http, "locked")
        with capture_logs() as logs:
            for _ in range(5):
                assert post_sign_in(http, "supervisor", "not the password").status_code == 401
        refused = post_sign_in(http, "supervisor", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert COOKIE not in http.cookies
        assert _metric(http, "wrong_password") == wrong + 5 and _metric(http, "locked") == locked + 1
    failures = [line for line in logs if line.get("event") == "sign_in_failed"]
    assert len(failures) == 5 and all(line["reason"] == "wrong_password" for line in failures)
    assert "not the password" not in repr(logs) and "supervisor" not in repr(failures)
    locks = district.ledger.registered(SignInLock.Locked)  # type: ignore[attr-defined]
    assert [lock.user_id for lock in locks] == [user_id("supervisor")]  # one event for the lock, not one a try

    clock.advance(minutes=15)
    with TestClient(create_app(services=services), client=("127.0.0.1", 40000)) as http:
        assert post_sign_in(http, "supervisor", PASSWORD).status_code == 303


def test_five_failures_from_one_address_lock_that_address_for_every_name(
    services, district: District,  # type: ignore[no-untyped-def]
) -> None:
    give_password(district, "inspector")
    with TestClient(create_app(services=services), client=("192.0.2.10", 40000)) as http:
        for n in range(5):
            assert post_sign_in(http, f"guess-{n}", "whatever it is").status_code == 401
        assert post_sign_in(http, "inspector", PASSWORD).status_code == 429
    with TestClient(create_app(services=services), client=("192.0.2.11", 40000)) as http:
        assert post_sign_in(http, "inspector", PASSWORD).status_code == 303
    assert district.ledger.registered(SignInLock.Locked) == []  # type: ignore[attr-defined]


# ---- the admin page ------------------------------------------------------------------------------


def test_the_admin_page_lists_users_and_tokens_without_secrets_and_issues_a_token_once(
    client: TestClient, district: District,
) -> None:
    sign_in(client, district, "admin")
    html = client.get("/admin").text
    assert "pf-clerk" in html and "从未使用" in html or "最近使用" in html
    assert not any(token in html for token in district.tokens.values())
    csrf = session_csrf(client)
    issued = client.post(f"/admin/users/{user_id('gf-clerk')}/tokens", data={"csrf": csrf}, headers=ORIGIN)
    assert issued.status_code == 200 and "只显示这一次" in issued.text
    token = re.search(r'<code class="secret">([^<]+)</code>', issued.text).group(1)  # type: ignore[union-attr]
    assert district.accounts.authenticate(token).name == "gf-clerk"
    assert token not in client.get("/admin").text


def test_a_double_click_on_issue_token_issues_one_token_and_says_it_was_shown_once(
    client: TestClient, district: District,
) -> None:
    sign_in(client, district, "admin")
    target = user_id("gf-clerk")
    html = client.get("/admin").text
    form = re.search(rf'action="/admin/users/{target}/tokens">(.*?)</form>', html).group(1)  # type: ignore[union-attr]
    fields = dict(re.findall(r'name="(csrf|once)" value="([^"]+)"', form))
    assert set(fields) == {"csrf", "once"}
    issued_before = len(district.ledger.created_ids(Token.Issued))
    first = client.post(f"/admin/users/{target}/tokens", data=fields, headers=ORIGIN)
    second = client.post(f"/admin/users/{target}/tokens", data=fields, headers=ORIGIN)
    assert first.status_code == 200 and '<code class="secret">' in first.text
    assert second.status_code == 409 and "令牌只在第一次应答中出现" in second.text
    assert '<code class="secret">' not in second.text
    assert len(district.ledger.created_ids(Token.Issued)) == issued_before + 1
    again = client.get("/admin").text  # a new rendering carries a new key: a new token is possible
    assert re.search(rf'action="/admin/users/{target}/tokens">.*?name="once" value="([^"]+)"', again).group(1) \
        != fields["once"]  # type: ignore[union-attr]


def test_a_concurrent_write_on_an_admin_form_is_a_409_page_not_a_server_error(
    client: TestClient, district: District, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(client, district, "admin")
    csrf = session_csrf(client)

    def lost_the_race(*_: object) -> None:
        raise ConcurrentWrite()

    monkeypatch.setattr(district.accounts, "deactivate", lost_the_race)
    answer = client.post(f"/admin/users/{user_id('pf-clerk')}/deactivation", data={"csrf": csrf}, headers=ORIGIN)
    assert answer.status_code == 409 and "另一个并发写入先完成" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_the_admin_page_revokes_deactivates_and_reactivates_with_the_forms_csrf_token(
    client: TestClient, district: District,
) -> None:
    sign_in(client, district, "admin")
    csrf = session_csrf(client)
    target = user_id("zml-clerk")
    before = log_size(district)
    refused = client.post(f"/admin/users/{target}/deactivation", data={"csrf": "forged"}, headers=ORIGIN)
    assert refused.status_code == 403 and log_size(district) == before
    refused = client.post(f"/admin/users/{target}/deactivation", data={"csrf": csrf},
                          headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and log_size(district) == before
    done = client.post(f"/admin/users/{target}/deactivation", data={"csrf": csrf}, headers=ORIGIN,
                       follow_redirects=False)
    assert done.status_code == 303
    assert "已停用" in client.get("/admin").text
    assert client.post(f"/admin/users/{target}/deactivation", data={"csrf": csrf}, headers=ORIGIN).status_code == 409
    assert client.post(f"/admin/users/{target}/activation", data={"csrf": csrf}, headers=ORIGIN,
                       follow_redirects=False).status_code == 303
    token_id = district.accounts.authenticate(district.tokens["zml-clerk"]).token_id
    assert client.post(f"/admin/tokens/{token_id}/revocation", data={"csrf": csrf}, headers=ORIGIN,
                       follow_redirects=False).status_code == 303
    with pytest.raises(Exception, match="令牌无效"):
        district.accounts.authenticate(district.tokens["zml-clerk"])


def test_only_an_admin_sees_the_admin_page(client: TestClient, district: District) -> None:
    sign_in(client, district, "supervisor")
    assert client.get("/admin").status_code == 403
    assert client.post(f"/admin/users/{user_id('pf-clerk')}/deactivation", data={"csrf": session_csrf(client)},
                       headers=ORIGIN).status_code == 403


def test_trusted_proxies_are_read_comma_separated_or_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from infrastructure.settings import Settings

    monkeypatch.setenv("CARELEDGER_TRUSTED_PROXIES", "10.0.0.1, 172.16.0.0/12")
    assert Settings().trusted_proxies == ["10.0.0.1", "172.16.0.0/12"]
    monkeypatch.setenv("CARELEDGER_TRUSTED_PROXIES", '["10.0.0.2"]')
    assert Settings().trusted_proxies == ["10.0.0.2"]
    monkeypatch.delenv("CARELEDGER_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []


@pytest.mark.parametrize("who, paths", [("supervisor", ["/", "/issues", "/evaluation", "/ledger", "/audit"]),
                                        ("admin", ["/admin"])])
def test_every_form_that_posts_carries_the_sessions_csrf_token(
    client: TestClient, district: District, who: str, paths: list[str],
) -> None:
    sign_in(client, district, who)
    csrf = session_csrf(client)
    for path in paths:
        html = client.get(path).text
        forms = re.findall(r'<form[^>]*method="post".*?</form>', html, re.DOTALL)
        assert forms, path
        assert all(f'name="csrf" value="{csrf}"' in form for form in forms), path


def test_a_csrf_field_that_is_not_ascii_is_refused_not_a_server_error(client: TestClient, district: District) -> None:
    form_csrf(client.get("/signin").text)  # sets the sign-in form's cookie
    answer = client.post("/signin", data={"username": "supervisor", "password": "x", "csrf": "密"}, headers=ORIGIN)
    assert answer.status_code == 403
    sign_in(client, district, "inspector")
    assert client.post("/signout", data={"csrf": "密"}, headers=ORIGIN).status_code == 403
    assert client.post("/audit/verify", data={"csrf": "é"}, headers=ORIGIN).status_code == 403
