"""The management team's pages: alerts, shields (place, review, lift, reviews due),
the matching review queue (:mod:`cpbridge.web.review_pages`), audit review and
subject-access reports.

Every page needs the ``management_team`` role and acts in it (reason
``brokering_contact``, or ``subject_access`` for a subject-access report). The
pages call the directory through :mod:`cpbridge.web.directory_calls`; a refusal (a
directory Fault) is shown on the page. Directory IDs travel in POSTed forms, never in URLs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import Response

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.faults import Fault

from . import directory_calls
from .review_pages import add_review_routes, open_queue

MANAGER = ActorRole.management_team

T = TypeVar("T")


def _attempt(call: Callable[[], T]) -> tuple[T | None, Fault | None]:
    """(result, None) of a management call, or (None, the Fault) when the directory refuses it."""
    try:
        return call(), None
    except Fault as fault:
        return None, fault


def add_management_routes(app: FastAPI, link, run, form_of) -> None:
    """Add the /manage pages to the web link's app."""
    def caller(page, reason: ReasonCode = ReasonCode.brokering_contact):
        return page.caller(reason, MANAGER)

    def in_savepoint(page, operation: str, fn, reason: ReasonCode = ReasonCode.brokering_contact):
        """Run a management action in a savepoint; a refusal rolls it back and is audited as one."""

        def call():
            with page.db.begin_nested():
                return fn()

        result, fault = _attempt(call)
        if fault is not None:
            directory_calls.audit_refusal_in(page.db, caller(page, reason), operation, fault)
        return result, fault

    # --- dashboard -------------------------------------------------------------------------

    def dashboard(page) -> Response:
        c = caller(page)
        alerts, _ = _attempt(lambda: directory_calls.open_alerts(page.db, c))
        due, _ = _attempt(lambda: directory_calls.shields_due(page.db, c))
        return link.render(page, "manage/index.html", alerts=alerts, due=due, queue=open_queue(page, c))

    @app.get("/manage")
    async def manage_home(request: Request) -> Response:
        return await run(request, dashboard, role=MANAGER)

    # --- alerts ------------------------------------------------------------------------------

    def alerts_page(page, status: int = 200, fault: Fault | None = None, done: str | None = None) -> Response:
        alerts, read_fault = _attempt(lambda: directory_calls.open_alerts(page.db, caller(page)))
        return link.render(page, "manage/alerts.html", status, alerts=alerts or [], fault=fault or read_fault, done=done)

    def acknowledge(page) -> Response:
        raw = page.form.get("alert_id", "")
        if not raw.isdigit():
            return alerts_page(page, 400, Fault("InvalidRequest", "choose an alert", field="alertId"))
        _, fault = in_savepoint(page, "AcknowledgeAlert", lambda: directory_calls.acknowledge_alert(page.db, caller(page), int(raw)))
        if fault:
            return alerts_page(page, fault.http_status, fault)
        return alerts_page(page, done="The alert is marked as checked")

    @app.get("/manage/alerts")
    async def alerts_get(request: Request) -> Response:
        return await run(request, alerts_page, role=MANAGER)

    @app.post("/manage/alerts/acknowledge")
    async def alerts_ack(request: Request) -> Response:
        return await run(request, acknowledge, role=MANAGER, form=await form_of(request))

    # --- shields -----------------------------------------------------------------------------

    def shields_page(page, status: int = 200, errors: dict[str, str] | None = None, done: str | None = None) -> Response:
        c = caller(page)
        active, fault = _attempt(lambda: directory_calls.shields_in_force(page.db, c))
        due, _ = _attempt(lambda: directory_calls.shields_due(page.db, c))
        return link.render(
            page, "manage/shields.html", status, active=active or [], due=due or [], reasons=directory_calls.shield_reasons(),
            lift_reasons=directory_calls.lift_reasons(), fault=fault, errors=errors or {}, done=done, values=page.form,
        )  # fmt: skip

    def shield_action(action: str):
        def handler(page) -> Response:
            directory_id = page.form.get("directory_id", "").strip().upper()
            reason = page.form.get("reason", "")
            errors = {}
            if not directory_id:
                errors["directory_id"] = "Enter the child's directory ID"
            if action in ("place", "lift") and not reason:
                errors["reason"] = "Select a reason"
            if errors:
                return shields_page(page, 400, errors)
            c = caller(page)
            calls = {
                "place": lambda: directory_calls.place_shield(page.db, c, directory_id, reason),
                "review": lambda: directory_calls.review_shield(page.db, c, directory_id),
                "lift": lambda: directory_calls.lift_shield(page.db, c, directory_id, reason),
            }
            _, fault = in_savepoint(page, f"{action.capitalize()}Shield", calls[action])
            if fault:
                return shields_page(page, fault.http_status, {"directory_id": fault.message})
            done = {"place": "The shield is placed", "review": "The review is recorded", "lift": "The shield is lifted"}
            return shields_page(page, done=f"{done[action]} for {directory_id}")

        return handler

    @app.get("/manage/shields")
    async def shields_get(request: Request) -> Response:
        return await run(request, shields_page, role=MANAGER)

    for action in ("place", "review", "lift"):

        async def shields_post(request: Request, _action: str = action) -> Response:
            return await run(request, shield_action(_action), role=MANAGER, form=await form_of(request))

        app.add_api_route(f"/manage/shields/{action}", shields_post, methods=["POST"], name=f"shields_{action}")

    # --- matching review queue (cpbridge.web.review_pages) ------------------------------------

    add_review_routes(app, link, run, form_of)

    # --- audit review and subject access -----------------------------------------------------

    def audit_page(page, status: int = 200) -> Response:
        raw = page.form.get("days", "7")
        days = int(raw) if raw in ("1", "7", "30", "90") else 7
        findings, fault = _attempt(lambda: directory_calls.audit_findings(page.db, caller(page), days))
        return link.render(page, "manage/audit.html", status, findings=findings or [], fault=fault, days=days)

    @app.get("/manage/audit")
    async def audit_get(request: Request) -> Response:
        return await run(request, audit_page, role=MANAGER)

    @app.post("/manage/audit")
    async def audit_post(request: Request) -> Response:
        return await run(request, audit_page, role=MANAGER, form=await form_of(request))

    def subject_access_page(page) -> Response:
        directory_id = (page.form.get("directory_id") or "").strip().upper()
        report = text = fault = None
        errors = {}
        if page.request.method == "POST":
            if not directory_id:
                errors["directory_id"] = "Enter the child's directory ID"
            else:
                c = caller(page, ReasonCode.subject_access)
                result, fault = in_savepoint(
                    page, "SubjectAccess", lambda: directory_calls.subject_access_report(page.db, c, directory_id), ReasonCode.subject_access
                )
                if result:
                    report, text = result
                if fault:
                    errors["directory_id"] = fault.message
        status = (fault.http_status if fault else 400) if errors else 200
        return link.render(
            page, "manage/subject_access.html", status, report=report, text=text, errors=errors, values=page.form,
        )  # fmt: skip

    @app.get("/manage/subject-access")
    async def sar_get(request: Request) -> Response:
        return await run(request, subject_access_page, role=MANAGER)

    @app.post("/manage/subject-access")
    async def sar_post(request: Request) -> Response:
        return await run(request, subject_access_page, role=MANAGER, form=await form_of(request))

