"""The secure web link: sign in (password, then PIN and security code), search, read a record,
override a shield, and the management team's pages (:mod:`cpbridge.web.manage`).

Mount :func:`create_web_app` at ``/web``. Every page runs in one database
transaction: the server-side session is loaded (and its idle timeout checked),
the CSRF token of a POST is checked, then the page calls the directory through
:mod:`cpbridge.web.directory_calls` as the signed-in user. A directory Fault rolls
back that call's work (a savepoint) and is shown as a GOV.UK error page.

No URL holds personal data: searches are POSTed, and search results are opened by
a random handle that the server-side session maps to the directory ID.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from cpbridge.codes import ActorRole, OverrideReason, ReasonCode
from cpbridge.directory import accounts
from cpbridge.directory.account_tables import PractitionerAccount
from cpbridge.directory.auth import Caller
from cpbridge.faults import Fault
from cpbridge.settings import Settings

from . import directory_calls, forms
from .security import SecurityHeaders
from .sessions import ANONYMOUS, PASSWORD_DONE, SIGNED_IN, SessionStore, Visit
from .templating import Templates
from .views import record_view

log = logging.getLogger("cpbridge.web")

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/web"


@dataclass
class Page:
    """What a page handler gets: the transaction, the session, the form and the user."""

    db: Session
    visit: Visit
    request: Request
    form: dict[str, str] = field(default_factory=dict)

    @property
    def account(self) -> PractitionerAccount:
        account = self.visit.account
        assert account is not None
        return account

    def caller(self, reason: ReasonCode, role: ActorRole | None = None) -> Caller:
        caller = accounts.caller_for_account(self.account, reason, role)
        return caller


class WebLink:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        web = settings.directory.web
        self.sessions = sessions
        self.store = SessionStore(idle_timeout=timedelta(minutes=web.idle_timeout_minutes), secure=web.secure_cookies)
        self.policy = accounts.LockoutPolicy(web.max_failed_attempts, timedelta(minutes=web.lockout_minutes))
        self.idle_minutes = web.idle_timeout_minutes
        self.templates = Templates()

    # --- plumbing -------------------------------------------------------------------------

    def render(self, page: Page, name: str, status_code: int = 200, **context) -> Response:
        account = page.visit.account if page.visit.stage == SIGNED_IN else None
        return self.templates.render(
            name,
            status_code=status_code,
            account=account,
            roles=set(account.roles) if account else set(),
            csrf_token=page.visit.session.csrf_token if page.visit.session else "",
            path=page.request.url.path,
            **context,
        )

    def handle(
        self,
        request: Request,
        handler: Callable[[Page], Response],
        *,
        stage: str | None = SIGNED_IN,
        role: ActorRole | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        """Run ``handler`` in one transaction after the session, stage, role and CSRF checks."""
        with self.sessions.begin() as db:
            visit = self.store.load(db, request)
            page = Page(db, visit, request, form or {})
            if stage is not None and visit.stage != stage:
                response = self._elsewhere(page, stage)
            elif form is not None and not self.store.csrf_ok(visit, form.get("csrf_token")):
                log.info("web: POST %s refused: CSRF token missing or wrong", request.url.path)
                response = self.render(page, "error.html", 403, title="Your form could not be sent", kind="csrf")
            elif role is not None and not accounts.has_role(page.account, role):
                response = self.render(page, "error.html", 403, title="You cannot see this page", kind="role")
            else:
                response = handler(page)
            return self.store.apply_cookie(response, visit)

    def _elsewhere(self, page: Page, wanted: str) -> Response:
        """Where a request that is at the wrong sign-in stage goes."""
        if page.visit.stage == SIGNED_IN:
            return RedirectResponse(f"{PREFIX}/search", 303)
        if wanted == SIGNED_IN and page.visit.timed_out:
            return RedirectResponse(f"{PREFIX}/signed-out?reason=idle", 303)
        return RedirectResponse(f"{PREFIX}/sign-in", 303)

    def directory(
        self, page: Page, caller: Caller, operation: str, call: Callable[[], object]
    ) -> tuple[object | None, Fault | None]:
        """Run a directory call in a savepoint: a Fault undoes its work, is audited as a
        refusal and is returned."""
        try:
            with page.db.begin_nested():
                return call(), None
        except Fault as fault:
            log.info("web: directory refused %s: %s", operation, fault.code)
            directory_calls.audit_refusal_in(page.db, caller, operation, fault)
            return None, fault

    def fault_page(self, page: Page, fault: Fault) -> Response:
        return self.render(page, "error.html", fault.http_status, title=_fault_title(fault), kind="fault", fault=fault)

    # --- signing in ----------------------------------------------------------------------

    def sign_in_page(self, page: Page, errors: dict[str, str] | None = None, status: int = 200, **ctx) -> Response:
        if page.visit.stage == SIGNED_IN:
            return RedirectResponse(f"{PREFIX}/search", 303)
        if page.visit.session is None or page.visit.stage != ANONYMOUS:
            self.store.start(page.db, page.visit, ANONYMOUS, None)
        return self.render(page, "sign_in.html", status, errors=errors or {}, **ctx)

    def sign_in(self, page: Page) -> Response:
        user_id, password = page.form.get("user_id", "").strip(), page.form.get("password", "")
        errors = {}
        if not user_id:
            errors["user_id"] = "Enter your user name"
        if not password:
            errors["password"] = "Enter your password"
        if errors:
            return self.sign_in_page(page, errors, 400, user_id=user_id)
        try:
            account = accounts.check_password(page.db, user_id, password, self.policy)
        except accounts.SignInRefused as refused:
            return self.sign_in_page(page, {"user_id": str(refused)}, 401 if not refused.locked else 423, user_id=user_id)
        self.store.start(page.db, page.visit, PASSWORD_DONE, account)
        return RedirectResponse(f"{PREFIX}/sign-in/code", 303)

    def code(self, page: Page) -> Response:
        pin, code = page.form.get("pin", ""), page.form.get("code", "")
        errors = {}
        if not pin.strip():
            errors["pin"] = "Enter your PIN"
        if not code.strip():
            errors["code"] = "Enter the security code from your authenticator app"
        if errors:
            return self.render(page, "sign_in_code.html", 400, errors=errors)
        try:
            accounts.check_second_factor(page.db, page.account, pin, code, self.policy)
        except accounts.SignInRefused as refused:
            if refused.locked:
                self.store.end(page.db, page.visit)
                self.store.start(page.db, page.visit, ANONYMOUS, None)
                return self.render(page, "sign_in.html", 423, errors={"user_id": str(refused)})
            return self.render(page, "sign_in_code.html", 401, errors={"pin": str(refused)})
        account = page.account
        self.store.start(page.db, page.visit, SIGNED_IN, account)
        home = "/search" if accounts.has_role(account, ActorRole.practitioner) or accounts.has_role(
            account, ActorRole.shield_override
        ) else "/manage"
        return RedirectResponse(f"{PREFIX}{home}", 303)

    # --- search and records --------------------------------------------------------------

    def reasons_for(self, account: PractitionerAccount) -> list[ReasonCode]:
        extra = forms.MANAGEMENT_REASONS if accounts.has_role(account, ActorRole.management_team) else []
        return forms.SEARCH_REASONS + extra

    def search(self, page: Page) -> Response:
        reasons = self.reasons_for(page.account)
        parsed = forms.read_search(page.form, reasons)
        context = {"values": parsed.values, "reasons": reasons}
        if parsed.errors:
            return self.render(page, "search.html", 400, errors=parsed.errors, **context)
        assert parsed.reason is not None
        caller = page.caller(parsed.reason)
        result, fault = self.directory(
            page, caller, "SearchChildren", lambda: directory_calls.search(page.db, caller, criteria=parsed.criteria, identifier=parsed.identifier)
        )
        if fault is not None:
            if fault.code in ("SearchTooBroad", "InvalidRequest", "RateLimited"):
                target = "identifier" if parsed.identifier else "family_name"
                message = _search_fault_message(fault)
                return self.render(page, "search.html", fault.http_status, errors={target: message}, **context)
            return self.fault_page(page, fault)
        handles = {secrets.token_urlsafe(12): m.record.directory_id for m in result.matches}
        self.store.set_data(page.visit, results=handles, reason=parsed.reason.value)
        rows = list(zip(handles, result.matches))
        return self.render(page, "results.html", rows=rows, reason=parsed.reason)

    def _record_target(self, page: Page, handle: str) -> tuple[str, ReasonCode] | None:
        data = page.visit.session.data or {}
        directory_id = (data.get("results") or {}).get(handle)
        if directory_id is None:
            return None
        return directory_id, ReasonCode(data.get("reason", ReasonCode.direct_work.value))

    def record(self, page: Page, handle: str) -> Response:
        target = self._record_target(page, handle)
        if target is None:
            return self.render(page, "error.html", 404, title="Search again to open this record", kind="stale_handle")
        directory_id, reason = target
        caller = page.caller(reason)
        record, fault = self.directory(page, caller, "ReadChild", lambda: directory_calls.read_child(page.db, caller, directory_id=directory_id))
        if fault is not None:
            return self.fault_page(page, fault)
        may_override = accounts.has_role(page.account, ActorRole.shield_override)
        return self.render(
            page, "record.html", record=record, view=record_view(record), handle=handle, may_override=may_override
        )

    def override_form(self, page: Page, handle: str, errors: dict[str, str] | None = None, status: int = 200) -> Response:
        if self._record_target(page, handle) is None:
            return self.render(page, "error.html", 404, title="Search again to open this record", kind="stale_handle")
        return self.render(
            page, "override.html", status, handle=handle, errors=errors or {}, reasons=list(OverrideReason),
            values=page.form,
        )

    def override(self, page: Page, handle: str) -> Response:
        target = self._record_target(page, handle)
        if target is None:
            return self.render(page, "error.html", 404, title="Search again to open this record", kind="stale_handle")
        reason, errors = forms.read_override(page.form)
        if errors:
            return self.override_form(page, handle, errors, 400)
        directory_id, purpose = target
        caller = page.caller(purpose, ActorRole.shield_override)
        record, fault = self.directory(
            page, caller, "ReadChild", lambda: directory_calls.read_child(page.db, caller, directory_id=directory_id, override=reason)
        )
        if fault is not None:
            return self.fault_page(page, fault)
        # Rendered in the POST's response and never stored: the override lasts this one viewing.
        return self.render(
            page, "record.html", record=record, view=record_view(record), handle=handle, may_override=False,
            overridden=True,
        )


def _fault_title(fault: Fault) -> str:
    return {
        "NoSuchChild": "No record found",
        "NotAuthorised": "You do not have the right to do this",
        "RateLimited": "You have searched too often",
        "Unavailable": "Sorry, the directory is not available",
    }.get(fault.code, "The directory could not do this")


def _search_fault_message(fault: Fault) -> str:
    if fault.code == "SearchTooBroad":
        return (
            "Enter more details: at least the family name and full date of birth, "
            f"or an NHS number, UPN or directory ID ({fault.message})"
        )
    if fault.code == "RateLimited":
        return "You have searched too many times in a short time. Wait a minute and try again"
    return f"Check the search details: {fault.message}"


def create_web_app(settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    """The secure web link (mount it at ``/web``)."""
    link = WebLink(settings, sessions)
    app = FastAPI(title="cpbridge secure web link", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.link = link
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    async def form_of(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def run(request: Request, handler, **kw):
        return run_in_threadpool(link.handle, request, handler, **kw)

    @app.get("/")
    async def home(request: Request) -> Response:
        return await run(request, lambda p: RedirectResponse(f"{PREFIX}/search", 303))

    @app.get("/sign-in")
    async def sign_in_get(request: Request) -> Response:
        return await run(request, link.sign_in_page, stage=ANONYMOUS_OR_NONE)

    @app.post("/sign-in")
    async def sign_in_post(request: Request) -> Response:
        return await run(request, link.sign_in, stage=ANONYMOUS, form=await form_of(request))

    @app.get("/sign-in/code")
    async def code_get(request: Request) -> Response:
        return await run(request, lambda p: link.render(p, "sign_in_code.html", errors={}), stage=PASSWORD_DONE)

    @app.post("/sign-in/code")
    async def code_post(request: Request) -> Response:
        return await run(request, link.code, stage=PASSWORD_DONE, form=await form_of(request))

    @app.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        def out(page: Page) -> Response:
            link.store.end(page.db, page.visit)
            return RedirectResponse(f"{PREFIX}/signed-out", 303)

        return await run(request, out, stage=None, form=await form_of(request))

    @app.get("/signed-out")
    async def signed_out(request: Request) -> Response:
        idle = request.query_params.get("reason") == "idle"
        return await run(
            request, lambda p: link.render(p, "signed_out.html", idle=idle, idle_minutes=link.idle_minutes), stage=None
        )

    @app.get("/search")
    async def search_get(request: Request) -> Response:
        return await run(
            request,
            lambda p: link.render(p, "search.html", errors={}, values={}, reasons=link.reasons_for(p.account)),
        )

    @app.post("/search")
    async def search_post(request: Request) -> Response:
        return await run(request, link.search, form=await form_of(request))

    @app.get("/record/{handle}")
    async def record(request: Request, handle: str) -> Response:
        return await run(request, lambda p: link.record(p, handle))

    @app.get("/record/{handle}/override")
    async def override_get(request: Request, handle: str) -> Response:
        return await run(request, lambda p: link.override_form(p, handle), role=ActorRole.shield_override)

    @app.post("/record/{handle}/override")
    async def override_post(request: Request, handle: str) -> Response:
        return await run(request, lambda p: link.override(p, handle), role=ActorRole.shield_override, form=await form_of(request))

    from .manage import add_management_routes

    add_management_routes(app, link, run, form_of)
    app.add_middleware(SecurityHeaders)
    return app


#: The sign-in page may be shown with no session or an anonymous one (stage check off; the
#: handler starts a fresh anonymous session).
ANONYMOUS_OR_NONE = None
