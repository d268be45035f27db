"""Subject access: everything held about one child, and who looked at it.

For a subject access request from a child or parent. :func:`subject_access` gathers
the record exactly as stored (sensitive services unmasked, identifiers, carers,
settings, involvements with their areas and consent, extensions, area history, the
lifecycle state) and, from the audit trail, every access: when, who, from which
organisation, what they did and why. It is itself audited (``SubjectAccess``).

Only the management team of the child's authority may run it (right
``review_audit``); a child with no responsible authority yet is no team's
(:func:`areas.in_scope`). A shielded record is marked ``shielded`` with a note: what is
disclosed to whom is a person's decision (a parent asking may be the one the child
is shielded from), not this function's.

The shield rule applies here as everywhere: the hidden fields of a shielded record
(:data:`SHIELD_HIDDEN`, and who accessed it from which organisation) appear only to
the management team of the authority that placed the shield
(:func:`shields.may_see_behind`). Anyone else gets the report redacted to what every
reader of the record sees, with a note naming the authority to ask for the full one.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpbridge.faults import Fault

from . import access, areas, audit, lifecycle, shields
from .audit_tables import AuditRow
from .auth import Caller
from .tables import Child, utcnow

SHIELD_NOTE = (
    "This record is shielded. Check with the management team who placed the shield before "
    "disclosing addresses, carers, settings or practitioners."
)
REDACTED_NOTE = (
    "This record is shielded by another authority ({la}). Its hidden fields, and who accessed the "
    "record from which organisation, are withheld from this report: that authority's management "
    "team can produce the full report."
)
#: The stored record's entries a shielded record hides from those who may not see behind it
#: (what stays: directory ID, names, date of birth, gender, as every reader sees, and the
#: responsible authority, which is the caller's own, date of death and extensions).
SHIELD_HIDDEN = ("otherNames", "address", "identifiers", "carers", "settings", "involvements", "areaHistory")
#: What a withheld entry reads.
WITHHELD = "withheld: shielded"


class AccessEntry(BaseModel):
    """One audited access to the record (no content: who, when, what, why)."""

    at: datetime
    operation: str
    outcome: str
    user_id: str
    user_name: str | None
    organisation: str
    role: str
    account: str
    reason: str | None
    fields: str | None


class SubjectAccessReport(BaseModel):
    """What is held about a child and who looked at it."""

    directory_id: str
    generated_at: datetime
    #: live, archived, or not_held (never held, or destroyed at the end of retention)
    status: str
    archived_on: date | None = None
    archive_reason: str | None = None
    destroy_on: date | None = None
    shielded: bool = False
    #: True when a shield's hidden fields were withheld (the caller is not the shielding authority's team).
    redacted: bool = False
    notes: list[str] = Field(default_factory=list)
    #: The record as stored (None when not held).
    record: dict | None = None
    accesses: list[AccessEntry] = Field(default_factory=list)


def subject_access(session: Session, caller: Caller, directory_id: str) -> SubjectAccessReport:
    """The subject access report for ``directory_id`` (Fault NotAuthorised outside the caller's area)."""
    access.require(caller, access.Right.review_audit)
    child = session.scalar(select(Child).where(Child.directory_id == directory_id))
    if child is not None and not areas.in_scope(caller, child):
        if child.responsible_la is None:
            raise Fault("NotAuthorised", "the record has no responsible authority yet, so no management team's", field="directoryId")
        raise Fault("NotAuthorised", "the record belongs to another authority's management team", field="directoryId")
    report = SubjectAccessReport(directory_id=directory_id, generated_at=utcnow(), status="not_held")
    shield = shields.active_shield(session, child.id) if child is not None else None
    redact = shield is not None and not shields.may_see_behind(caller, shield)
    rows = session.scalars(select(AuditRow).where(AuditRow.directory_id == directory_id).order_by(AuditRow.seq))
    report.accesses = [
        AccessEntry(
            at=r.at, operation=r.operation, outcome=r.outcome, user_id=r.user_id, user_name=r.user_name,
            organisation=r.organisation, role=r.user_role, account=r.account, reason=r.reason, fields=r.fields,
        )  # fmt: skip
        for r in rows
        if child is not None or r.child_la in (None, caller.local_authority)
    ]
    if redact:  # whose staff looked at the record tells where the child is now
        report.accesses = [a.model_copy(update=dict.fromkeys(("user_id", "user_name", "organisation", "account"), WITHHELD)) for a in report.accesses]
    if child is None:
        report.notes.append("No record is held under this directory ID (never held, or destroyed after retention).")
        audit.record(session, caller, "SubjectAccess", outcome="not_held", directory_id=directory_id, reason="subject_access")
        return report
    report.status = child.status
    report.archived_on, report.archive_reason = child.archived_on, child.archive_reason
    report.destroy_on = lifecycle.destroyed_on(child)
    report.shielded, report.redacted = shield is not None, redact
    if report.shielded:
        report.notes.append(SHIELD_NOTE)
    report.record = stored_record(session, child)
    if redact:
        report.notes.append(REDACTED_NOTE.format(la=areas.la_name(shield.local_authority)))
        report.record.update(dict.fromkeys(SHIELD_HIDDEN, WITHHELD))
    view = "shielded" if redact else "behind_shield" if shield is not None else "full"
    audit.record(session, caller, "SubjectAccess", outcome=view, child=child, reason="subject_access")
    return report


def stored_record(session: Session, child: Child) -> dict:
    """Every stored field of the child and what hangs off it (internal ids and matching keys left out)."""
    return {
        "directoryId": child.directory_id,
        "givenNames": child.given_names,
        "familyName": child.family_name,
        "otherNames": [{"givenNames": n.given_names, "familyName": n.family_name, "source": n.source_system} for n in child.names],
        "dateOfBirth": child.date_of_birth.isoformat(),
        "gender": child.gender,
        "address": {"lines": child.address_lines or [], "postcode": child.postcode} if child.address_lines or child.postcode else None,
        "dateOfDeath": child.date_of_death.isoformat() if child.date_of_death else None,
        "responsibleAuthority": {"code": child.responsible_la, "name": areas.la_name(child.responsible_la)},
        "identifiers": [
            {"scheme": i.scheme, "system": i.system or None, "value": i.value, "source": i.source_system} for i in child.identifiers
        ],
        "carers": [
            {
                "givenNames": c.given_names, "familyName": c.family_name, "relationship": c.relation, "phone": c.phone,
                "email": c.email, "address": {"lines": c.address_lines or [], "postcode": c.postcode} if c.address_lines else None,
                "parentalResponsibility": c.parental_responsibility, "source": c.source_system,
            }  # fmt: skip
            for c in child.carers
        ],
        "settings": [
            {
                "kind": s.kind, "code": s.code, "name": s.name, "phone": s.phone,
                "startDate": _iso(s.start_date), "endDate": _iso(s.end_date), "source": s.source_system,
            }  # fmt: skip
            for s in child.settings
        ],
        "involvements": [
            {
                "service": i.service, "organisation": i.organisation, "localAuthority": i.local_authority,
                "practitioner": {
                    "name": i.practitioner_name, "role": i.practitioner_role, "team": i.practitioner_team,
                    "phone": i.practitioner_phone, "email": i.practitioner_email,
                } if i.practitioner_name else None,
                "startDate": _iso(i.start_date), "endDate": _iso(i.end_date), "leadProfessional": i.lead_professional,
                "cafCompletedOn": _iso(i.caf_completed_on), "consentGivenBy": i.consent_given_by,
                "consentRecordedOn": _iso(i.consent_recorded_on), "source": i.source_system,
            }  # fmt: skip
            for i in child.involvements
        ],
        "extensions": [
            {
                "reason": e.reason, "consentGivenBy": e.consent_given_by, "consentGivenOn": _iso(e.consent_given_on),
                "endsOn": _iso(e.ends_on), "withdrawnOn": _iso(e.withdrawn_on),
            }  # fmt: skip
            for e in lifecycle.extensions_of(session, child.id)
        ],
        "areaHistory": [
            {"from": h.from_la, "to": h.to_la, "basis": h.basis, "at": h.moved_at.isoformat(timespec="seconds")}
            for h in areas.area_history(session, child)
        ],
    }


def render_text(report: SubjectAccessReport) -> str:
    """A readable report (for printing or attaching to the reply)."""
    out = [f"Subject access report for {report.directory_id}", f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC", ""]
    out.append(f"Status: {report.status}" + (f" (archived {report.archived_on}, {report.archive_reason}; destroyed on {report.destroy_on})" if report.archived_on else ""))
    out += [f"NOTE: {n}" for n in report.notes]
    if report.record:
        out += ["", "What is held:"]
        out += _lines(report.record, indent=1)
    out += ["", f"Who looked at or changed the record ({len(report.accesses)}):"]
    for a in report.accesses:
        who = f"{a.user_name or a.user_id} ({a.user_id}), {a.organisation}, {a.role}"
        out.append(f"  {a.at:%Y-%m-%d %H:%M}  {a.operation:<22} {a.outcome:<12} {who}; reason {a.reason or '-'}")
    return "\n".join(out) + "\n"


def _lines(value, indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{key}:")
                lines += _lines(v, indent + 1)
            elif v not in (None, [], {}):
                lines.append(f"{pad}{key}: {v}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                sub = _lines(item, indent + 1)
                if sub:
                    lines.append(f"{pad}- {sub[0].strip()}")
                    lines += sub[1:]
            else:
                lines.append(f"{pad}- {item}")
    return lines


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
