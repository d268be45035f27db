"""The directory functions the web pages call — one place, so every page goes through the rules.

Pages never query the store themselves: they call these, which call the
directory's service-level functions in-process with a :class:`Caller` (rights,
shielding, sensitive-service masking, audit and alerts all happen there). The
management pages wrap other modules' APIs (shields, alerts, audit, the matching
review queue); when one of those is not installed yet, its wrapper raises
:class:`ApiMissing` naming exactly what is expected, and the page says the
feature is not available instead of failing.
"""

from __future__ import annotations

import importlib
from datetime import date

from sqlalchemy.orm import Session

from cpbridge.codes import OverrideReason
from cpbridge.directory import service
from cpbridge.directory.auth import Caller
from cpbridge.faults import Fault
from cpbridge.model import (
    ChildRecord,
    Identifier,
    LookupRequest,
    LookupResult,
    SearchCriteria,
)


class ApiMissing(RuntimeError):
    """A directory API a page needs is not there (yet). The message names it."""


def _api(module: str, name: str):
    try:
        mod = importlib.import_module(f"cpbridge.directory.{module}")
    except ImportError:
        raise ApiMissing(f"cpbridge.directory.{module}.{name}") from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise ApiMissing(f"cpbridge.directory.{module}.{name}")
    return fn


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
    fields: dict = {"directory_id": directory_id, "identifier": identifier}
    if override is not None:
        if "override_reason" not in service.ReadChildRequest.model_fields:
            raise ApiMissing("cpbridge.directory.service.ReadChildRequest.override_reason")
        fields["override_reason"] = override
    return service.read_child(session, caller, service.ReadChildRequest(**fields))


def audit_refusal(sessions, caller: Caller, operation: str, fault: Fault) -> None:
    """Audit a refused request in its own transaction (the refused one was rolled back)."""
    try:
        record_refusal = _api("audit", "record_refusal")
    except ApiMissing:
        return
    record_refusal(sessions, caller, operation, fault)


def audit_refusal_in(session: Session, caller: Caller, operation: str, fault: Fault) -> None:
    """Audit a refused request in ``session``'s transaction (its own work was rolled back to a savepoint)."""
    try:
        record = _api("audit", "record")
    except ApiMissing:
        return
    record(session, caller, operation, outcome=f"refused:{fault.code}", detail=f"field={fault.field}" if fault.field else None)


# --- management: shields, alerts ------------------------------------------------------------


def shields(session: Session, caller: Caller):
    return _api("shields", "listing")(session, caller)


def shields_due(session: Session, caller: Caller, today: date | None = None):
    return _api("shields", "due")(session, caller, today)


def place_shield(session: Session, caller: Caller, directory_id: str, reason: str):
    return _api("shields", "place")(session, caller, directory_id, reason)


def review_shield(session: Session, caller: Caller, directory_id: str):
    return _api("shields", "review")(session, caller, directory_id)


def lift_shield(session: Session, caller: Caller, directory_id: str, reason: str):
    return _api("shields", "lift")(session, caller, directory_id, reason)


def shield_reasons() -> list[str]:
    return [r.value for r in _api("shields", "ShieldReason")]


def lift_reasons() -> list[str]:
    return [r.value for r in _api("shields", "LiftReason")]


def open_alerts(session: Session, caller: Caller):
    return _api("alerts", "alerts_for")(session, caller)


def acknowledge_alert(session: Session, caller: Caller, alert_id: int):
    return _api("alerts", "acknowledge")(session, caller, alert_id)


# --- management: audit, subject access, matching review ------------------------------------


def audit_findings(session: Session, caller: Caller, days: int = 7):
    """Likely misuse in the caller's authority over the last ``days`` days
    (:func:`cpbridge.directory.audit_review.review`; right ``review_audit``)."""
    from datetime import timedelta

    from cpbridge.directory import access
    from cpbridge.directory.tables import utcnow

    access.require(caller, access.Right.review_audit)
    review = _api("audit_review", "review")
    return review(session, since=utcnow() - timedelta(days=days), la=caller.local_authority or None)


def subject_access(session: Session, caller: Caller, directory_id: str):
    """The subject-access report (:func:`cpbridge.directory.subject_access.subject_access`) and its text."""
    report = _api("subject_access", "subject_access")(session, caller, directory_id)
    return report, _api("subject_access", "render_text")(report)


def review_queue(session: Session, caller: Caller):
    """Open matching review cases of the caller's authority."""
    return _api("review", "open_cases")(session, caller.local_authority or None, caller=caller)


def review_item(session: Session, caller: Caller, case_id: int):
    """One case with each candidate's per-field evidence."""
    return _api("review", "case")(session, case_id, caller=caller)


def resolve_review(session: Session, caller: Caller, case_id: int, decision: str):
    """``link:<directory id>`` (it is that child) or ``create`` (a child not on the directory yet)."""
    if decision.startswith("link:"):
        return _api("review", "resolve_link")(session, caller, case_id, decision.removeprefix("link:"))
    if decision == "create":
        return _api("review", "resolve_create")(session, caller, case_id)
    raise Fault("InvalidRequest", "choose whether it is one of the candidates or a new child", field="decision")


__all__ = ["ApiMissing", "Fault"]
