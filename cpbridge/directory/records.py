"""The view of a child's record a given user may see.

:func:`child_record` is the one place a stored child becomes a :class:`ChildRecord`
for a caller, so the disclosure rules live here:

* **Shielding** — a child with a shield in force shows only directory ID, names,
  date of birth and gender (``shielded`` true), except to the management team of
  the authority that placed the shield (who see everything, to broker contact),
  and to a user with the override right who states an override reason: they see
  the full record for this one viewing, with a warning; an alert is raised to the
  management team at once and the viewing is audited. The next viewing without
  an override reason is shielded again.
* **Sensitive services** (mental health, sexual health, substance misuse) are
  shown as ``unspecified`` with the practitioner's contact, except to the management
  team and to users of the involvement's own organisation, who see the service. The
  organisation must be verified (``Caller.organisation_verified``): asserted through an
  account limited to a list of organisations, or a web-link practitioner's own.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cpbridge.codes import SENSITIVE_SERVICES, Gender, OverrideReason, Relationship, Role, Service, SettingKind
from cpbridge.faults import Fault
from cpbridge.model import Address, Carer, ChildRecord, InvolvementView, Practitioner, Setting

from . import access, alerts, audit, shields
from .auth import Caller
from .shield_tables import ShieldRow
from .tables import Child, InvolvementRow

#: The warning an overriding viewer receives with the record.
OVERRIDE_WARNING = (
    "Shielded record opened by override: this viewing is recorded and the authority's "
    "management team has been alerted for an immediate check."
)


def address_of(lines: list[str] | None, postcode: str | None) -> Address | None:
    """A stored address (lines + postcode) as the canonical Address, or None without lines."""
    if not lines:
        return None
    return Address(lines=list(lines), postcode=postcode)


def practitioner_of(row: InvolvementRow) -> Practitioner | None:
    if not row.practitioner_name:
        return None
    return Practitioner(
        name=row.practitioner_name,
        role=Role(row.practitioner_role or Role.practitioner.value),
        team=row.practitioner_team,
        phone=row.practitioner_phone,
        email=row.practitioner_email,
    )


def service_seen(row: InvolvementRow, viewer: Caller | None) -> Service:
    """The involvement's service as ``viewer`` may see it (sensitive ones masked; a
    practitioner's own organisation counts only when it is verified, never merely asserted)."""
    service = Service(row.service)
    if service not in SENSITIVE_SERVICES:
        return service
    if access.has_right(viewer, access.Right.see_all_sensitive_services):
        return service
    if (
        viewer is not None
        and viewer.organisation_verified
        and access.has_right(viewer, access.Right.see_own_sensitive_services)
        and access.same_organisation(row.organisation, viewer.actor.organisation)
    ):
        return service
    return Service.unspecified


def child_record(
    session: Session, child: Child, viewer: Caller | None, override_reason: OverrideReason | str | None = None
) -> ChildRecord:
    """``child`` as ``viewer`` may see it (``viewer`` None: an internal caller, who gets the
    most restricted view).

    ``override_reason`` (right ``override_shield``, else Fault NotAuthorised) opens a
    shielded record in full for this viewing only; it raises an alert and audits it.
    """
    if override_reason is not None:
        access.require(viewer, access.Right.override_shield)
        try:
            override_reason = OverrideReason(override_reason)
        except ValueError:
            allowed = ", ".join(r.value for r in OverrideReason)
            raise Fault("InvalidRequest", f"overrideReason must be one of {allowed}", field="overrideReason") from None
    shield = shields.active_shield(session, child.id)
    if shield is None:
        return _full(child, viewer, shielded=False)
    if shields.may_see_behind(viewer, shield):
        return _full(child, viewer, shielded=True)
    if override_reason is None or viewer is None:
        return shielded_view(child)
    _record_override(session, viewer, child, shield, override_reason)
    record = _full(child, viewer, shielded=True)
    record.override_reason = override_reason
    record.override_warning = OVERRIDE_WARNING
    return record


def shielded_view(child: Child) -> ChildRecord:
    """The four fields a shielded record shows."""
    return ChildRecord(
        directory_id=child.directory_id,
        given_names=child.given_names,
        family_name=child.family_name,
        date_of_birth=child.date_of_birth,
        gender=Gender(child.gender),
        shielded=True,
    )


def _record_override(session: Session, viewer: Caller, child: Child, shield: ShieldRow, reason: OverrideReason) -> None:
    """Alert the shield's management team and audit the override, in the viewing's transaction."""
    alerts.raise_alert(
        session, alerts.AlertKind.shield_override, child.id, viewer, reason.value, local_authority=shield.local_authority
    )
    audit_shield_override(session, viewer, child, reason)


def audit_shield_override(session: Session, viewer: Caller, child: Child, reason: OverrideReason) -> None:
    """The one call site auditing a shield override in the hash-chained audit trail
    (written with the viewing's transaction, like the alert)."""
    audit.record_shield_override(session, viewer, child, reason.value)


def _full(child: Child, viewer: Caller | None, *, shielded: bool) -> ChildRecord:
    carers = [
        Carer(
            given_names=c.given_names,
            family_name=c.family_name,
            relationship=Relationship(c.relation),
            phone=c.phone,
            email=c.email,
            address=address_of(c.address_lines, c.postcode),
            parental_responsibility=c.parental_responsibility,
        )
        for c in child.carers
    ]
    settings = [
        Setting(
            kind=SettingKind(s.kind),
            code=s.code,
            name=s.name,
            phone=s.phone,
            address=address_of(s.address_lines, s.postcode),
            start_date=s.start_date,
            end_date=s.end_date,
        )
        for s in child.settings
    ]
    involvements = [
        InvolvementView(
            service=service_seen(row, viewer),
            organisation=row.organisation,
            practitioner=practitioner_of(row),
            start_date=row.start_date,
            end_date=row.end_date,
            lead_professional=row.lead_professional,
            caf_completed_on=row.caf_completed_on,
            source_system=row.source_system,
            local_authority=row.local_authority,
        )
        for row in child.involvements
    ]
    return ChildRecord(
        directory_id=child.directory_id,
        given_names=child.given_names,
        family_name=child.family_name,
        date_of_birth=child.date_of_birth,
        gender=Gender(child.gender),
        shielded=shielded,
        address=address_of(child.address_lines, child.postcode),
        carers=carers,
        settings=settings,
        involvements=involvements,
    )
