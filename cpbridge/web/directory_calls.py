"""The directory functions the web pages call — one place, so every page goes through the rules.

Pages never query the store themselves: they call these, which call the
directory's service-level functions in-process with a :class:`Caller` (rights,
shielding, sensitive-service masking, audit and alerts all happen there). A
refusal is a :class:`~cpbridge.faults.Fault`, which the page shows.

The match-review pages (:mod:`cpbridge.web.review_pages`) call
:mod:`cpbridge.directory.review` directly; its functions already take the caller.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from cpbridge.codes import OverrideReason
from cpbridge.directory import (
    access,
    alerts,
    audit,
    audit_review,
    service,
    shields,
    subject_access,
)
from cpbridge.directory.alerts import AlertView
from cpbridge.directory.audit_review import Finding
from cpbridge.directory.auth import Caller
from cpbridge.directory.shields import LiftReason, ShieldReason, ShieldView
from cpbridge.directory.subject_access import SubjectAccessReport
from cpbridge.directory.tables import utcnow
from cpbridge.faults import Fault
from cpbridge.model import (
    ChildRecord,
    Identifier,
    LookupRequest,
    LookupResult,
    SearchCriteria,
)

# --- practitioners -----------------------------------------------------------------------


def search(session: Session, caller: Caller, *, criteria: SearchCriteria | None = None, identifier: Identifier | None = None) -> LookupResult:
    """``service.search_children`` as ``caller`` (the directory enforces the minimum fields)."""
    request = LookupRequest(
        actor=caller.actor,
        reason=caller.reason,
        identifiers=[identifier] if identifier else [],
        criteria=criteria,
    )
    return service.search_children(session, caller, request)


def read_child(
    session: Session,
    caller: Caller,
    *,
    directory_id: str | None = None,
    identifier: Identifier | None = None,
    override: OverrideReason | None = None,
) -> ChildRecord:
    """``service.read_child`` as ``caller``; ``override`` opens a shielded record for this one
    viewing (the caller's role must hold the override right; the directory audits it and
    alerts the management team in the same transaction)."""
    request = service.ReadChildRequest(directory_id=directory_id, identifier=identifier, override_reason=override)
    return service.read_child(session, caller, request)


def audit_refusal(sessions: sessionmaker[Session], caller: Caller, operation: str, fault: Fault) -> None:
    """Audit a refused request in its own transaction (the refused one was rolled back)."""
    audit.record_refusal(sessions, caller, operation, fault)


def audit_refusal_in(session: Session, caller: Caller, operation: str, fault: Fault) -> None:
    """Audit a refused request in ``session``'s transaction (its own work was rolled back to a savepoint)."""
    audit.record(session, caller, operation, outcome=f"refused:{fault.code}", detail=f"field={fault.field}" if fault.field else None)


# --- management: shields, alerts ------------------------------------------------------------


def shields_in_force(session: Session, caller: Caller) -> list[ShieldView]:
    return shields.listing(session, caller)


def shields_due(session: Session, caller: Caller, today: date | None = None) -> list[ShieldView]:
    return shields.due(session, caller, today)


def place_shield(session: Session, caller: Caller, directory_id: str, reason: str) -> ShieldView:
    return shields.place(session, caller, directory_id, reason)


def review_shield(session: Session, caller: Caller, directory_id: str) -> ShieldView:
    return shields.review(session, caller, directory_id)


def lift_shield(session: Session, caller: Caller, directory_id: str, reason: str) -> ShieldView:
    return shields.lift(session, caller, directory_id, reason)


def shield_reasons() -> list[str]:
    return [r.value for r in ShieldReason]


def lift_reasons() -> list[str]:
    return [r.value for r in LiftReason]


def open_alerts(session: Session, caller: Caller) -> list[AlertView]:
    return alerts.alerts_for(session, caller)


def acknowledge_alert(session: Session, caller: Caller, alert_id: int) -> AlertView:
    return alerts.acknowledge(session, caller, alert_id)


# --- management: audit review, subject access ----------------------------------------------


def audit_findings(session: Session, caller: Caller, days: int = 7) -> list[Finding]:
    """Likely misuse in the caller's authority over the last ``days`` days
    (:func:`cpbridge.directory.audit_review.review`; right ``review_audit``)."""
    access.require(caller, access.Right.review_audit)
    return audit_review.review(session, since=utcnow() - timedelta(days=days), la=caller.local_authority or None)


def subject_access_report(session: Session, caller: Caller, directory_id: str) -> tuple[SubjectAccessReport, str]:
    """The subject-access report (:func:`cpbridge.directory.subject_access.subject_access`) and its text."""
    report = subject_access.subject_access(session, caller, directory_id)
    return report, subject_access.render_text(report)
