"""Signing in to the secure web link: two factors, lock-out, TOTP window, sessions, CSRF and headers."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from web_helpers import PASSWORD, PIN, add_user, csrf_of, next_code, seed_child, sign_in

from cpbridge.directory import accounts
from cpbridge.directory.account_tables import PractitionerAccount, WebSession


def _password_step(client, user_id, password=PASSWORD):
    page = client.get("/web/sign-in")
    return client.post("/web/sign-in", data={"user_id": user_id, "password": password, "csrf_token": csrf_of(page.text)})


def _code_step(client, pin, code):
    page = client.get("/web/sign-in/code")
    return client.post("/web/sign-in/code", data={"pin": pin, "code": code, "csrf_token": csrf_of(page.text)})


def _account(sessions, user_id) -> PractitionerAccount:
    with sessions() as db:
        return db.query(PractitionerAccount).filter_by(user_id=user_id).one()


def test_sign_in_needs_password_then_pin_and_code(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    assert client.get("/web/search").headers["location"] == "/web/sign-in"
    assert _password_step(client, "pat").headers["location"] == "/web/sign-in/code"
    # Half signed in: the search is still closed.
    assert client.get("/web/search").status_code == 303
    r = _code_step(client, PIN, next_code(sessions, "pat"))
    assert r.headers["location"] == "/web/search"
    page = client.get("/web/search")
    assert page.status_code == 200 and "Find a child" in page.text and "Pat Jones" in page.text
    assert _account(sessions, "pat").last_login_at is not None


def test_wrong_password_does_not_say_whether_the_user_exists(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    wrong = _password_step(client, "pat", "not the password")
    unknown = _password_step(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Enter a correct user name and password" in wrong.text and "Enter a correct user name and password" in unknown.text
    assert 'class="govuk-error-summary"' in wrong.text and 'href="#user_id"' in wrong.text


def test_five_failures_lock_the_account_even_with_the_right_password(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    for _ in range(4):
        assert _password_step(client, "pat", "wrong password!").status_code == 401
    assert _password_step(client, "pat", "wrong password!").status_code == 423
    locked = _password_step(client, "pat")
    assert locked.status_code == 423 and "locked" in locked.text
    assert _account(sessions, "pat").failed_attempts == 5
    with sessions.begin() as db:
        accounts.unlock(db, "pat")
    assert _password_step(client, "pat").status_code == 303


def test_second_factor_failures_count_towards_the_lock(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    _password_step(client, "pat")
    for _ in range(4):
        assert _code_step(client, "0000", "123456").status_code == 401
    # The right password again does not reset the count: only a full sign-in does.
    _password_step(client, "pat")
    r = _code_step(client, "0000", "123456")
    assert r.status_code == 423 and "locked" in r.text
    assert _password_step(client, "pat").status_code == 423


def test_totp_accepts_one_step_of_drift_and_each_code_once(sessions):
    secret = add_user(sessions, "pat", ["practitioner"])
    totp = pyotp.TOTP(secret)
    policy = accounts.LockoutPolicy()
    now = time.time()
    with sessions.begin() as db:
        account = db.query(PractitionerAccount).filter_by(user_id="pat").one()
        with pytest.raises(accounts.SignInRefused):  # two steps behind
            accounts.check_second_factor(db, account, PIN, totp.at(now - 60), policy, at=now)
        with pytest.raises(accounts.SignInRefused):  # two steps ahead
            accounts.check_second_factor(db, account, PIN, totp.at(now + 60), policy, at=now)
        accounts.check_second_factor(db, account, PIN, totp.at(now - 30), policy, at=now)  # one behind
        with pytest.raises(accounts.SignInRefused):  # the same code again
            accounts.check_second_factor(db, account, PIN, totp.at(now - 30), policy, at=now)
        accounts.check_second_factor(db, account, PIN, totp.at(now + 30), policy, at=now)  # one ahead
        with pytest.raises(accounts.SignInRefused):  # right code, wrong PIN
            accounts.check_second_factor(db, account, "9999", totp.at(now), policy, at=now + 60)


def test_post_without_or_with_a_wrong_csrf_token_is_refused(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    client.get("/web/sign-in")
    r = client.post("/web/sign-in", data={"user_id": "pat", "password": PASSWORD})
    assert r.status_code == 403 and "could not be sent" in r.text
    r = client.post("/web/sign-in", data={"user_id": "pat", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403
    assert _account(sessions, "pat").failed_attempts == 0  # refused before the password was tried
    sign_in(client, sessions, "pat")
    for path, data in [
        ("/web/search", {"reason": "direct_work", "identifier": "CP1234567897"}),
        ("/web/sign-out", {}),
    ]:
        assert client.post(path, data=data).status_code == 403, path
    assert client.get("/web/search").status_code == 200  # still signed in: sign-out was refused


def test_session_rotates_at_each_stage_and_sign_out_ends_it(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    client.get("/web/sign-in")
    anonymous = client.cookies.get("cpb_session")
    _password_step(client, "pat")
    half = client.cookies.get("cpb_session")
    _code_step(client, PIN, next_code(sessions, "pat"))
    full = client.cookies.get("cpb_session")
    assert len({anonymous, half, full}) == 3
    page = client.get("/web/search")
    r = client.post("/web/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert r.headers["location"] == "/web/signed-out"
    client.cookies.set("cpb_session", full)
    assert client.get("/web/search").headers["location"] == "/web/sign-in"


def test_idle_session_times_out(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    with sessions.begin() as db:
        for ws in db.query(WebSession).all():
            ws.last_seen_at -= timedelta(minutes=16)
    r = client.get("/web/search")
    assert r.headers["location"] == "/web/signed-out?reason=idle"
    page = client.get(r.headers["location"])
    assert "did nothing for 15 minutes" in page.text
    with sessions() as db:
        assert db.query(WebSession).filter(WebSession.stage == "signed_in").count() == 0


def test_cookie_flags(tmp_path):
    from fastapi.testclient import TestClient
    from web_helpers import settings_for

    from cpbridge.directory.app import create_app

    settings = settings_for(tmp_path)
    settings.directory.web.secure_cookies = True
    with TestClient(create_app(settings), base_url="https://127.0.0.1") as c:
        cookie = c.get("/web/sign-in").headers["set-cookie"]
    assert cookie.startswith("__Host-cpb_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie


def test_security_headers_on_pages_with_personal_data(client, sessions):
    child = seed_child(sessions)
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    page = client.get("/web/search")
    r = client.post("/web/search", data={"reason": "direct_work", "identifier": child.directory_id, "csrf_token": csrf_of(page.text)})
    assert child.family_name in r.text
    for response in (page, r):
        h = response.headers
        assert h["cache-control"] == "no-store"
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in r.text  # no inline script anywhere
    static = client.get("/web/static/govuk/govuk-frontend.min.css")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"
