"""The embeddable panel: a local system shows the directory's view of a child inside its own screen.

Launch (in the manner of a SMART on FHIR EHR launch, where the URL carries only an
opaque ``launch`` id and the context is held by the server):

1. The local system (or the adapter beside it) mints a **signed context** with
   :func:`mint_context`: the child (directory ID, or the system's local reference),
   the practitioner (user id, name, organisation, role), the reason code, issued-at,
   expiry (at most 5 minutes later) and a nonce ``jti``. It is signed with
   HMAC-SHA256 under the system account's secret (``directory.accounts``). Format::

       v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "v1." + payload part))>

   Payload (camelCase): ``iss`` (the account), ``iat``, ``exp`` (Unix seconds),
   ``jti``, ``child`` (``{"directoryId": ...}`` or ``{"identifier": {"scheme",
   "system", "value"}}``), ``practitioner`` (Actor fields), ``reason``.
2. Its **server** POSTs the token to ``POST /embed/contexts`` (form field or JSON
   ``ctx``). The directory checks the signature, the expiry, that the ``jti`` is
   new and, with mutual TLS in use (``directory.client_cert_header``), the account's
   client certificate exactly as for SOAP (:func:`access.check_client_certificate`), stores the context under a random 256-bit launch id (only its SHA-256 is
   kept) and answers ``201 {"launchUrl": "/embed/launch?ctx=<launch id>", "expiresAt"}``.
3. The local screen opens ``launchUrl`` in an iframe or a new pane. The launch id is
   opaque: nothing in the URL, the browser history, proxy logs or a Referer says who
   the child is. It can be opened once, before the context expires; a replayed,
   expired or unknown launch gets a clear page and no data.

Why not put the signed context itself in the URL? Its payload is signed, not
encrypted, and would show the child's reference in clear; encrypting it would need
key management on every local system for no gain, since the server-held context
gives the same guarantee with nothing but the existing account secret.

There is no second sign-in: the system account vouches for the practitioner, as it
does for SOAP lookups, and the directory reads the record as that practitioner
(through :func:`cpbridge.directory.service.read_child`, so every rule — rights,
shielding, sensitive services, audit — applies). The panel may be framed only by the
account's ``frame_origins`` (CSP ``frame-ancestors``); elsewhere it cannot be framed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import StringConstraints, ValidationError, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cpbridge.codes import ReasonCode
from cpbridge.directory.account_tables import EmbedLaunch
from cpbridge.directory import access
from cpbridge.directory.auth import Caller
from cpbridge.faults import Fault
from cpbridge.model import Actor, DirectoryId, Identifier, Model
from cpbridge.settings import DirectorySettings, Settings, SystemAccount

from . import directory_calls
from .security import SecurityHeaders, frame_policy
from .templating import Templates
from .views import record_view

log = logging.getLogger("cpbridge.web.embed")

VERSION = "v1"
#: The longest a context may live (exp - iat).
MAX_TTL = 300
#: Clock skew allowed between the local system and the directory.
LEEWAY = 30


class PanelChild(Model):
    """Which child the panel is for: a directory ID, or an identifier (e.g. the system's local reference)."""

    directory_id: DirectoryId | None = None
    identifier: Identifier | None = None

    @model_validator(mode="after")
    def _one(self) -> PanelChild:
        if (self.directory_id is None) == (self.identifier is None):
            raise ValueError("give exactly one of directoryId or identifier")
        return self


class LaunchContext(Model):
    """The signed context's payload."""

    iss: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    iat: int
    exp: int
    jti: Annotated[str, StringConstraints(min_length=8, max_length=64)]
    child: PanelChild
    practitioner: Actor
    reason: ReasonCode


class ContextRefused(Exception):
    """A context or launch cannot be used. ``code`` is short and stable; ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload_part: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{VERSION}.{payload_part}".encode(), hashlib.sha256).digest())


def mint_context(
    account: str,
    secret: str,
    *,
    child: str | Identifier,
    practitioner: Actor,
    reason: ReasonCode | str,
    ttl: int = MAX_TTL,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    """A signed panel context for ``child`` (a directory ID, or an Identifier such as
    ``Identifier(scheme="local", system="ics", value="C1234")``) seen by ``practitioner``.

    ``account``/``secret`` are the system account at the directory. The context is
    valid for ``ttl`` seconds (at most 300) and once only."""
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL} seconds")
    issued = int(time.time() if now is None else now)
    panel_child = PanelChild(directory_id=child) if isinstance(child, str) else PanelChild(identifier=child)
    context = LaunchContext(
        iss=account,
        iat=issued,
        exp=issued + ttl,
        jti=jti or secrets.token_urlsafe(16),
        child=panel_child,
        practitioner=practitioner,
        reason=ReasonCode(reason),
    )
    payload = _b64(json.dumps(context.wire(), separators=(",", ":"), sort_keys=True).encode())
    return f"{VERSION}.{payload}.{_signature(secret, payload)}"


def verify_context(token: str, accounts: dict[str, SystemAccount], now: float | None = None) -> tuple[SystemAccount, LaunchContext]:
    """The account and context of a valid token, else ContextRefused."""
    now = time.time() if now is None else now
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise ContextRefused("malformed", f"a context is {VERSION}.<payload>.<signature>")
    try:
        raw = json.loads(_unb64(parts[1]))
        issuer = raw["iss"]
    except (ValueError, KeyError, TypeError):
        raise ContextRefused("malformed", "the context payload is not base64url JSON with an iss") from None
    account = accounts.get(issuer) if isinstance(issuer, str) else None
    if account is None or not hmac.compare_digest(_signature(account.secret, parts[1]), parts[2]):
        raise ContextRefused("bad_signature", "the context is not signed by a known system account", 401)
    try:
        context = LaunchContext.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ContextRefused("invalid", f"the context's fields are not valid: {fields}") from None
    if context.exp - context.iat > MAX_TTL or context.exp <= context.iat:
        raise ContextRefused("too_long", f"a context may live at most {MAX_TTL} seconds")
    if context.iat > now + LEEWAY:
        raise ContextRefused("not_yet_valid", "the context was issued in the future; check the system's clock")
    if now > context.exp + LEEWAY:
        raise ContextRefused("expired", "the context has expired", 401)
    if account.organisations and context.practitioner.organisation not in account.organisations:
        raise ContextRefused("not_authorised", f"account {issuer!r} may not act for that organisation", 403)
    if context.practitioner.role.value not in account.roles:
        raise ContextRefused("not_authorised", f"account {issuer!r} may not act in the role {context.practitioner.role.value}", 403)
    return account, context


def _launch_hash(launch_id: str) -> str:
    return hashlib.sha256(launch_id.encode()).hexdigest()


def _naive(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


class Panel:
    """Registers contexts and renders launches. ``clock`` (Unix seconds) is for tests."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time):
        self.accounts = dict(settings.directory.accounts)
        self.directory_settings: DirectorySettings = settings.directory
        self.sessions = sessions
        self.clock = clock
        self.templates = Templates()
        # A page that cannot be tied to one account may be framed by any configured origin,
        # so the host shows the refusal in place (it holds no personal data).
        self.any_origin = sorted({o for a in self.accounts.values() for o in a.frame_origins})

    def register(self, token: str, client_subject: str | None = None) -> tuple[str, datetime]:
        """Verify ``token`` and hold its context; returns (launch id, expiry).

        ``client_subject`` is the certificate subject the TLS-terminating proxy passed in
        ``directory.client_cert_header``: the issuing account must present its own, as for SOAP."""
        now = self.clock()
        account, context = verify_context(token, self.accounts, now)
        try:
            access.check_client_certificate(context.iss, account, self.directory_settings, client_subject)
        except Fault as fault:
            raise ContextRefused("not_authenticated", fault.message, 401) from None
        launch_id = secrets.token_urlsafe(32)
        expires = _naive(min(context.exp, now + MAX_TTL))
        try:
            with self.sessions.begin() as db:
                db.add(
                    EmbedLaunch(
                        launch_hash=_launch_hash(launch_id),
                        jti=context.jti,
                        account=context.iss,
                        context=context.wire(),
                        expires_at=expires,
                        created_at=_naive(now),
                    )
                )
        except IntegrityError:
            raise ContextRefused("replayed", "this context (jti) has been used already", 409) from None
        return launch_id, expires

    def launch(self, launch_id: str) -> Response:
        """The panel for a registered launch, or a refusal page."""
        now = self.clock()
        with self.sessions.begin() as db:
            row = db.get(EmbedLaunch, _launch_hash(launch_id)) if launch_id else None
            if row is None:
                return self._refusal("unknown", self.any_origin, 404)
            origins = self.accounts[row.account].frame_origins if row.account in self.accounts else []
            if row.used_at is not None:
                return self._refusal("replayed", origins, 409)
            if _naive(now) > row.expires_at:
                return self._refusal("expired", origins, 410)
            row.used_at = _naive(now)
            context = LaunchContext.model_validate(row.context)
            account = self.accounts.get(row.account)
        if account is None:
            return self._refusal("unknown", self.any_origin, 404)
        caller = Caller(
            account=context.iss,
            organisation=account.organisation,
            actor=context.practitioner,
            reason=context.reason,
            local_authority=account.local_authority,
            organisation_verified=bool(account.organisations),  # verify_context checked it is one of them
        )
        try:
            with self.sessions.begin() as db:
                record = directory_calls.read_child(
                    db, caller, directory_id=context.child.directory_id, identifier=context.child.identifier
                )
        except Fault as fault:
            log.info("panel read refused: %s", fault.code)
            directory_calls.audit_refusal(self.sessions, caller, "ReadChild", fault)
            return self._refusal(
                "no_record" if fault.code == "NoSuchChild" else "refused", origins, fault.http_status, fault=fault
            )
        response = self.templates.render(
            "panel.html", record=record, view=record_view(record), practitioner=context.practitioner
        )
        response.headers["content-security-policy"] = frame_policy(origins)
        return response

    def _refusal(self, kind: str, origins: list[str], status: int, fault: Fault | None = None) -> Response:
        response = self.templates.render("panel_refused.html", status_code=status, kind=kind, fault=fault)
        response.headers["content-security-policy"] = frame_policy(origins)
        return response


def create_embed_app(settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time) -> FastAPI:
    """The panel application (mount it at ``/embed``)."""
    panel = Panel(settings, sessions, clock)
    cert_header = settings.directory.client_cert_header
    app = FastAPI(title="cpbridge panel", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.panel = panel

    @app.post("/contexts")
    async def register(request: Request) -> JSONResponse:
        token = await _token_from(request)
        subject = request.headers.get(cert_header) if cert_header else None
        try:
            launch_id, expires = await run_in_threadpool(panel.register, token or "", subject)
        except ContextRefused as refused:
            log.info("panel context refused: %s", refused.code)
            return JSONResponse({"error": refused.code, "message": refused.message}, status_code=refused.status)
        return JSONResponse(
            {
                "launchUrl": f"{request.scope.get('root_path', '')}/launch?ctx={launch_id}",
                "expiresAt": expires.replace(tzinfo=UTC).isoformat(),
            },
            status_code=201,
        )

    @app.get("/launch")
    def launch(ctx: str = "") -> Response:
        return panel.launch(ctx)

    app.add_middleware(SecurityHeaders)
    return app


async def _token_from(request: Request) -> str | None:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return None
        return body.get("ctx") if isinstance(body, dict) and isinstance(body.get("ctx"), str) else None
    form = await request.form()
    value = form.get("ctx")
    return value if isinstance(value, str) else None


def register_context(client, directory_url: str, token: str) -> str:
    """For a local system's server: register ``token`` with the directory at
    ``directory_url`` (e.g. ``https://directory.example``) and return the absolute
    launch URL to open in the practitioner's screen. ``client`` is an httpx or
    requests-like client with ``post(url, data=...)``."""
    response = client.post(f"{directory_url.rstrip('/')}/embed/contexts", data={"ctx": token})
    if response.status_code != 201:
        raise ContextRefused(response.json().get("error", "refused"), response.text, response.status_code)
    return f"{directory_url.rstrip('/')}{response.json()['launchUrl']}"
