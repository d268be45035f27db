"""Server-side sessions with CSRF tokens and an idle timeout.

The browser holds only a random token in a cookie (HttpOnly, SameSite=Strict, Secure
unless turned off for plain-http tests; named ``__Host-cpb_session`` when Secure).
The database holds the token's SHA-256, the account, the sign-in stage, a
synchroniser CSRF token and small per-session data (search result handles). A
session unused for the idle timeout is deleted; the token is replaced whenever the
sign-in stage changes (no session fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from cpbridge.directory.account_tables import PractitionerAccount, WebSession
from cpbridge.directory.tables import utcnow

ANONYMOUS, PASSWORD_DONE, SIGNED_IN = "anonymous", "password", "signed_in"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Visit:
    """The session state of one request."""

    session: WebSession | None = None
    #: a new cookie value to send (after create or rotate)
    new_token: str | None = None
    #: the request carried a session that had timed out
    timed_out: bool = False
    clear_cookie: bool = False
    data_changed: bool = field(default=False)

    @property
    def stage(self) -> str | None:
        return self.session.stage if self.session else None

    @property
    def account(self) -> PractitionerAccount | None:
        return self.session.account if self.session is not None else None


class SessionStore:
    def __init__(self, *, idle_timeout: timedelta, secure: bool):
        self.idle_timeout = idle_timeout
        self.secure = secure
        self.cookie_name = "__Host-cpb_session" if secure else "cpb_session"

    def load(self, db: Session, request: Request, now: datetime | None = None) -> Visit:
        """The request's live session (touching it), or an empty Visit."""
        now = now or utcnow()
        token = request.cookies.get(self.cookie_name)
        if not token:
            return Visit()
        ws = db.get(WebSession, _hash(token))
        if ws is None:
            return Visit(clear_cookie=True)
        if now - ws.last_seen_at > self.idle_timeout:
            db.delete(ws)
            return Visit(timed_out=ws.stage != ANONYMOUS, clear_cookie=True)
        ws.last_seen_at = now
        return Visit(session=ws)

    def start(self, db: Session, visit: Visit, stage: str, account: PractitionerAccount | None) -> None:
        """Replace the visit's session (if any) with a fresh one at ``stage``."""
        if visit.session is not None:
            db.delete(visit.session)
        self.prune(db)
        token = secrets.token_urlsafe(32)
        ws = WebSession(
            token_hash=_hash(token),
            account=account,
            stage=stage,
            csrf_token=secrets.token_urlsafe(32),
            data={},
            created_at=utcnow(),
            last_seen_at=utcnow(),
        )
        db.add(ws)
        visit.session, visit.new_token, visit.clear_cookie = ws, token, False

    def end(self, db: Session, visit: Visit) -> None:
        if visit.session is not None:
            db.delete(visit.session)
        visit.session, visit.clear_cookie = None, True

    def prune(self, db: Session) -> None:
        db.execute(delete(WebSession).where(WebSession.last_seen_at < utcnow() - self.idle_timeout))

    @staticmethod
    def csrf_ok(visit: Visit, submitted: str | None) -> bool:
        return bool(visit.session and submitted and hmac.compare_digest(visit.session.csrf_token, submitted))

    @staticmethod
    def set_data(visit: Visit, **values) -> None:
        """Update the session's data (JSON: reassign so the change is saved)."""
        assert visit.session is not None
        visit.session.data = {**(visit.session.data or {}), **values}

    def apply_cookie(self, response: Response, visit: Visit) -> Response:
        if visit.new_token:
            response.set_cookie(
                self.cookie_name,
                visit.new_token,
                httponly=True,
                secure=self.secure,
                samesite="strict",
                path="/",
            )
        elif visit.clear_cookie:
            response.delete_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="strict")
        return response
