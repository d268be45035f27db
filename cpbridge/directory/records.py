"""The view of a child's record a given user may see.

:func:`child_record` is the one place a stored child becomes a :class:`ChildRecord`
for a caller, so the disclosure rules live here: shielding (later work: a shielded
record without override shows only directory ID, names, date of birth and gender)
and sensitive-service masking (mental health, sexual health and substance misuse
are shown as ``unspecified``; the practitioner's contact stays, so users can still
get in touch).
"""

from __future__ import annotations

from cpbridge.codes import SENSITIVE_SERVICES, Gender, Relationship, Role, Service, SettingKind
from cpbridge.model import Address, Carer, ChildRecord, InvolvementView, Practitioner, Setting

from .auth import Caller
from .tables import Child, InvolvementRow


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


def _service_seen(row: InvolvementRow, viewer: Caller | None) -> Service:
    service = Service(row.service)
    if service in SENSITIVE_SERVICES:
        # Deny by default: no role may see a sensitive service yet.
        return Service.unspecified
    return service


def child_record(session, child: Child, viewer: Caller | None) -> ChildRecord:
    """``child`` as ``viewer`` may see it. ``viewer`` None is an internal caller; the same
    masking applies until the disclosure rules distinguish callers."""
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
            service=_service_seen(row, viewer),
            organisation=row.organisation,
            practitioner=practitioner_of(row),
            start_date=row.start_date,
            end_date=row.end_date,
            lead_professional=row.lead_professional,
            caf_completed_on=row.caf_completed_on,
            source_system=row.source_system,
        )
        for row in child.involvements
    ]
    return ChildRecord(
        directory_id=child.directory_id,
        given_names=child.given_names,
        family_name=child.family_name,
        date_of_birth=child.date_of_birth,
        gender=Gender(child.gender),
        shielded=False,
        address=address_of(child.address_lines, child.postcode),
        carers=carers,
        settings=settings,
        involvements=involvements,
    )
