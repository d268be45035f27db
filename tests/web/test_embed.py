"""The embeddable panel: signed contexts, opaque single-use launches, framing rules, directory rules."""

from __future__ import annotations

import time

import pytest
from web_helpers import (
    LA,
    ORG,
    PANEL_ACCOUNT,
    PANEL_SECRET,
    seed_child,
    settings_for,
    shield,
)

from cpbridge.model import Actor, Identifier
from cpbridge.web.embed import ContextRefused, mint_context, verify_context

PRACTITIONER = Actor(user_id="sw-101", name="Kim Brown", organisation=ORG, role="practitioner")


def _mint(child, **kw):
    kw.setdefault("practitioner", PRACTITIONER)
    kw.setdefault("reason", "direct_work")
    return mint_context(kw.pop("account", PANEL_ACCOUNT), kw.pop("secret", PANEL_SECRET), child=child, **kw)


def _register(client, token):
    return client.post("/embed/contexts", data={"ctx": token})


def test_panel_shows_who_is_working_with_the_child_from_a_local_reference(client, sessions, settings):
    child = seed_child(sessions, sensitive=True)
    token = _mint(Identifier(scheme="local", system="ics", value=child.local_reference))
    r = _register(client, token)
    assert r.status_code == 201, r.text
    url = r.json()["launchUrl"]
    assert url.startswith("/embed/launch?ctx=")
    # Nothing in the URL identifies the child.
    for clear in (child.local_reference, child.directory_id, child.family_name, token.split(".")[1]):
        assert clear not in url
    page = client.get(url)
    assert page.status_code == 200
    for expected in ("Sam Patel", "0113 222 3333", "Lead professional", "CAF completed", "Unspecified service", "Ria Kaur"):
        assert expected in page.text, expected
    assert "Mental health" not in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors http://127.0.0.1:9" in csp and "'none'" not in csp.split("frame-ancestors")[1]
    assert "x-frame-options" not in page.headers
    assert page.headers["cache-control"] == "no-store"


def test_a_launch_opens_once_and_a_context_registers_once(client, sessions):
    child = seed_child(sessions)
    token = _mint(child.directory_id)
    url = _register(client, token).json()["launchUrl"]
    assert client.get(url).status_code == 200
    again = client.get(url)
    assert again.status_code == 409 and "already been opened" in again.text and "Sam Patel" not in again.text
    replay = _register(client, token)
    assert replay.status_code == 409 and replay.json()["error"] == "replayed"


def test_expired_contexts_and_launches_are_refused(tmp_path, sessions, client, app):
    child = seed_child(sessions)
    old = _mint(child.directory_id, now=time.time() - 400, ttl=300)
    r = _register(client, old)
    assert r.status_code == 401 and r.json()["error"] == "expired"
    # A launch registered in time but opened after the context's expiry.
    panel = next(r for r in app.routes if getattr(r, "path", "") == "/embed").app.state.panel
    url = _register(client, _mint(child.directory_id, ttl=60)).json()["launchUrl"]
    real_clock = panel.clock
    panel.clock = lambda: real_clock() + 120
    try:
        page = client.get(url)
    finally:
        panel.clock = real_clock
    assert page.status_code == 410 and "has expired" in page.text and "Sam Patel" not in page.text


def test_tampered_unknown_or_overlong_contexts_are_refused():
    accounts = settings_for(__import__("pathlib").Path("/tmp")).directory.accounts
    token = _mint("CP1234567897")
    version, payload, signature = token.split(".")
    tampered = f"{version}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    with pytest.raises(ContextRefused) as refused:
        verify_context(tampered, accounts)
    assert refused.value.code in ("bad_signature", "malformed")
    with pytest.raises(ContextRefused) as refused:
        verify_context(_mint("CP1234567897", secret="someone-elses-secret"), accounts)
    assert refused.value.code == "bad_signature"
    with pytest.raises(ContextRefused) as refused:
        verify_context(_mint("CP1234567897", account="no-such-system"), accounts)
    assert refused.value.code == "bad_signature"
    with pytest.raises(ValueError):
        _mint("CP1234567897", ttl=301)
    with pytest.raises(ContextRefused) as refused:
        verify_context("v1.bm90IGpzb24.c2ln", accounts)
    assert refused.value.code == "malformed"
    account, context = verify_context(token, accounts)
    assert context.practitioner.user_id == "sw-101" and account.local_authority == LA


def test_a_role_the_system_account_may_not_assert_is_refused(client):
    elevated = Actor(**{**PRACTITIONER.model_dump(), "role": "shield_override"})
    r = _register(client, _mint("CP1234567897", practitioner=elevated))
    assert r.status_code == 403 and r.json()["error"] == "not_authorised"


def test_unknown_launch_and_no_record(client, sessions):
    page = client.get("/embed/launch?ctx=made-up")
    assert page.status_code == 404 and "not valid" in page.text
    url = _register(client, _mint(Identifier(scheme="local", system="ics", value="NOPE1"))).json()["launchUrl"]
    page = client.get(url)
    assert page.status_code == 404 and "No directory record" in page.text


def test_panel_respects_shielding(client, sessions):
    child = seed_child(sessions)
    shield(sessions, child.directory_id)
    page = client.get(_register(client, _mint(child.directory_id)).json()["launchUrl"])
    assert page.status_code == 200 and "This record is shielded" in page.text
    for hidden in ("Sam Patel", "12 Park Lane", "Park Surgery"):
        assert hidden not in page.text


def test_web_pages_cannot_be_framed_and_the_panel_only_by_its_system(client):
    assert "frame-ancestors 'none'" in client.get("/web/sign-in").headers["content-security-policy"]


# --- mutual TLS and verified organisations ----------------------------------------------------


def _panel_app(tmp_path, require_client_cert: bool = False, **account):
    from fastapi.testclient import TestClient

    from cpbridge.directory.app import create_app

    settings = settings_for(tmp_path)
    settings.directory.client_cert_header = "X-SSL-Client-S-DN"
    settings.directory.require_client_cert = require_client_cert
    for key, value in account.items():
        setattr(settings.directory.accounts[PANEL_ACCOUNT], key, value)
    app = create_app(settings)
    return app, TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def test_registering_a_context_needs_the_accounts_client_certificate_as_soap_does(tmp_path):
    app, client = _panel_app(tmp_path, client_cert_subject="CN=ics-adapter,O=Leeds City Council")
    with client:
        child = seed_child(app.state.endpoint.sessions)
        for headers in ({}, {"X-SSL-Client-S-DN": "CN=intruder,O=Leeds City Council"}):
            r = client.post("/embed/contexts", data={"ctx": _mint(child.directory_id)}, headers=headers)
            assert (r.status_code, r.json()["error"]) == (401, "not_authenticated"), headers
            assert "launchUrl" not in r.json()
        r = client.post("/embed/contexts", data={"ctx": _mint(child.directory_id)}, headers={"X-SSL-Client-S-DN": "CN=ics-adapter,O=Leeds City Council"})
        assert r.status_code == 201, r.text
        # the launch is opened by the practitioner's browser, which has no client certificate
        assert client.get(r.json()["launchUrl"]).status_code == 200


def test_require_client_cert_refuses_a_panel_account_without_a_subject(tmp_path):
    for require, status in ((False, 201), (True, 401)):
        _app, client = _panel_app(tmp_path / str(require), require_client_cert=require)
        with client:
            r = client.post("/embed/contexts", data={"ctx": _mint("CP0000000018")}, headers={"X-SSL-Client-S-DN": "CN=anyone"})
            assert r.status_code == status, require


def test_the_panel_shows_a_sensitive_service_only_to_a_verified_own_organisation(tmp_path):
    clinic = Actor(user_id="cl-1", name="Dr Lee", organisation="Leeds Community Health", role="practitioner")
    # with no organisations list the asserted organisation is not verified: masked
    app, client = _panel_app(tmp_path / "open")
    with client:
        child = seed_child(app.state.endpoint.sessions, sensitive=True)
        page = client.get(_register(client, _mint(child.directory_id, practitioner=clinic)).json()["launchUrl"])
        assert "Unspecified service" in page.text and "Mental health" not in page.text
    app, client = _panel_app(tmp_path / "listed", organisations=[ORG, "Leeds Community Health"])
    with client:
        child = seed_child(app.state.endpoint.sessions, sensitive=True)
        page = client.get(_register(client, _mint(child.directory_id, practitioner=clinic)).json()["launchUrl"])
        assert "Mental health" in page.text
        page = client.get(_register(client, _mint(child.directory_id)).json()["launchUrl"])  # the council's practitioner
        assert "Mental health" not in page.text
