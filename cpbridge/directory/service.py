"""The directory's operations: one function per SOAP operation.

Each takes a session (the caller commits), the authenticated :class:`Caller` and the
canonical model, and returns a WriteResult, LookupResult or ChildRecord, or raises
:class:`~cpbridge.faults.Fault`.

Rules every write follows, in this order:

0. **Who** — the caller's role must hold the write's right, and its account must be
   allowed to write for the event's ``sourceSystem`` (``SystemAccount.source_systems``).
   An involvement may be changed or ended only through the account that registered it
   (``InvolvementRow.registered_by``); any other account gets Fault NotAuthorised, which
   says nothing about the involvement or its child.
1. **Idempotency** — an ``event_id`` already answered returns outcome ``duplicate``
   with the original match outcome and directory ID, and changes nothing (to the
   account that sent it; another account reusing the id gets Fault NotAuthorised).
2. **Staleness** — an event older (``occurred_at``) than the newest applied to the
   same involvement (or setting, or the child's demographics) returns ``stale`` and
   changes nothing. Stale answers are remembered too, so a replay is ``duplicate``.
3. **Identity** — :func:`cpbridge.directory.matching.match_identity` decides the child.
   An event about an existing involvement stays with that involvement's child unless
   the matcher positively places it on another child (Fault IdentifierConflict).
   Then every identifier the source gave is linked to the child; one already linked
   to a different child is Fault IdentifierConflict (nothing is moved silently).
4. **Apply** — the operation's own rule (see each function).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpbridge.codes import IdentifierScheme, MatchOutcome, OverrideReason, Service, SettingKind, WriteOutcome
from cpbridge.faults import Fault
from cpbridge.identifiers import new_directory_id
from cpbridge.model import (
    AssessmentCompleted,
    ChildIdentity,
    ChildRecord,
    DemographicsChanged,
    DirectoryId,
    EventBase,
    Identifier,
    InvolvementChanged,
    InvolvementClosed,
    InvolvementOpened,
    LeadProfessionalRemoved,
    LeadProfessionalSet,
    LookupRequest,
    LookupResult,
    Model,
    Practitioner,
    SettingChanged,
    WriteResult,
)

from . import access, areas, audit, lifecycle, review, search
from .access import Right
from .auth import Caller
from .matching import MatchDecision, identifier_owner, match_identity, name_key
from .matching.reasons import TRUSTED_MATCHES, MatchReason
from .shields import shielded_child_ids
from .records import child_record
from .tables import (
    AppliedEvent,
    Carer,
    Child,
    ChildIdentifier,
    ChildName,
    ChildSetting,
    InvolvementRow,
    utc,
)

#: Schemes of which a child holds one value only (a second one is a conflict).
SINGLE_VALUED = (IdentifierScheme.nhs_number,)


class ReadChildRequest(Model):
    """The ReadChild body: exactly one of a directory ID or an identifier."""

    directory_id: DirectoryId | None = None
    identifier: Identifier | None = None
    override_reason: OverrideReason | None = None

    @model_validator(mode="after")
    def _one(self) -> ReadChildRequest:
        if (self.directory_id is None) == (self.identifier is None):
            raise ValueError("give exactly one of directoryId or identifier")
        return self


# --- writes ---------------------------------------------------------------------------


@audit.audited("RegisterInvolvement")
@review.holds_for_review
def register_involvement(session: Session, caller: Caller, event: InvolvementOpened | InvolvementChanged) -> WriteResult:
    """Create or update the involvement (source_system, local_reference): an upsert.

    A sensitive service needs recorded consent. ``leadProfessional`` true clears the
    flag on the child's other involvements; an absent ``cafCompletedOn`` keeps a CAF
    date recorded earlier.
    """
    access.require(caller, Right.write_involvements)
    access.require_source_system(caller, event.source_system)
    if done := _already_answered(session, caller, event.event_id):
        return done
    inv = event.involvement
    if inv.sensitive and inv.consent is None:
        raise Fault(
            "ConsentRequired",
            f"service {inv.service.value} is sensitive: the involvement needs recorded consent",
            field="involvement.consent",
        )
    row = _involvement(session, event.source_system, inv.local_reference)
    if row is not None:
        access.require_involvement_owner(caller, row.registered_by)
    if row is not None and _is_stale(event, row.last_occurred_at):
        return _answer(session, caller, event, WriteOutcome.stale, _matched(row.child, "involvement"), row.child)
    decision, child = _resolve(session, event, anchor=row)
    if row is None:
        row = InvolvementRow(child=child, source_system=event.source_system, local_reference=inv.local_reference)
        session.add(row)
    elif row.child_id != child.id:  # pragma: no cover - _resolve refuses this
        raise AssertionError("involvement re-homed without a conflict")
    row.service = inv.service.value
    row.organisation = inv.organisation
    _set_practitioner(row, inv.practitioner)
    row.start_date = inv.start_date
    row.end_date = inv.end_date
    row.lead_professional = inv.lead_professional
    if inv.caf_completed_on is not None:
        row.caf_completed_on = inv.caf_completed_on
    row.consent_given_by = inv.consent.given_by.value if inv.consent else None
    row.consent_recorded_on = inv.consent.recorded_on if inv.consent else None
    _stamp(row, caller, event)
    if inv.lead_professional:
        _clear_other_leads(session, child, row)
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


@audit.audited("EndInvolvement")
@review.holds_for_review
def end_involvement(session: Session, caller: Caller, event: InvolvementClosed) -> WriteResult:
    """Set the involvement's end date (Fault NoSuchInvolvement if it was never registered)."""
    row = _involvement_to_change(session, caller, event)
    if isinstance(row, WriteResult):
        return row
    if event.end_date < row.start_date:
        raise Fault("InvalidRequest", "endDate is before the involvement's start date", field="endDate")
    decision, child = _resolve(session, event, anchor=row)
    row.end_date = event.end_date
    _stamp(row, caller, event)
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


@audit.audited("SetLeadProfessional")
@review.holds_for_review
def set_lead_professional(session: Session, caller: Caller, event: LeadProfessionalSet) -> WriteResult:
    """Flag the involvement's practitioner (updated if given) as the child's one lead professional."""
    row = _involvement_to_change(session, caller, event)
    if isinstance(row, WriteResult):
        return row
    decision, child = _resolve(session, event, anchor=row)
    if event.practitioner is not None:
        _set_practitioner(row, event.practitioner)
    row.lead_professional = True
    _stamp(row, caller, event)
    _clear_other_leads(session, child, row)
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


@audit.audited("RemoveLeadProfessional")
@review.holds_for_review
def remove_lead_professional(session: Session, caller: Caller, event: LeadProfessionalRemoved) -> WriteResult:
    """Clear the involvement's lead-professional flag."""
    row = _involvement_to_change(session, caller, event)
    if isinstance(row, WriteResult):
        return row
    decision, child = _resolve(session, event, anchor=row)
    row.lead_professional = False
    _stamp(row, caller, event)
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


@audit.audited("RecordAssessment")
@review.holds_for_review
def record_assessment(session: Session, caller: Caller, event: AssessmentCompleted) -> WriteResult:
    """Set the CAF-completed date on the involvement ``local_reference``.

    With no such involvement, an ``early_help`` involvement is created from the event:
    its organisation, the assessor as practitioner, starting on the completion date.
    An existing involvement without a practitioner gets the assessor.
    """
    access.require(caller, Right.write_involvements)
    access.require_source_system(caller, event.source_system)
    if done := _already_answered(session, caller, event.event_id):
        return done
    row = _involvement(session, event.source_system, event.local_reference)
    if row is not None:
        access.require_involvement_owner(caller, row.registered_by)
    if row is not None and _is_stale(event, row.last_occurred_at):
        return _answer(session, caller, event, WriteOutcome.stale, _matched(row.child, "involvement"), row.child)
    decision, child = _resolve(session, event, anchor=row)
    if row is None:
        row = InvolvementRow(
            child=child,
            source_system=event.source_system,
            local_reference=event.local_reference,
            service=Service.early_help.value,
            organisation=event.organisation,
            start_date=event.completed_on,
            lead_professional=False,
        )
        session.add(row)
        _set_practitioner(row, event.assessor)
    elif not row.practitioner_name:
        _set_practitioner(row, event.assessor)
    row.caf_completed_on = event.completed_on
    _stamp(row, caller, event)
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


@audit.audited("UpdateDemographics")
@review.holds_for_review
def update_demographics(session: Session, caller: Caller, event: DemographicsChanged) -> WriteResult:
    """Apply the source's view of names, date of birth, gender, address and date of death.

    Stale if older than the demographics last applied to the child. A changed name
    keeps the old one as an alias (so later matching still finds the child). An
    absent address or date of death leaves the stored one. Carers given replace the
    carers this source recorded before; ``carer`` absent leaves them.
    """
    access.require(caller, Right.write_demographics)
    access.require_source_system(caller, event.source_system)
    if done := _already_answered(session, caller, event.event_id):
        return done
    decision, child = _decide(session, event.child, anchor=None)
    if child is not None and child.demographics_as_of is not None and _is_stale(event, child.demographics_as_of):
        return _answer(session, caller, event, WriteOutcome.stale, decision, child)
    decision, child = _materialise(session, event, decision, child)
    ident = event.child
    if (name_key(ident.given_names), name_key(ident.family_name)) != (child.given_key, child.family_key):
        former = (child.given_names, child.family_name)
        _set_name(child, ident.given_names, ident.family_name)
        _add_alias(session, child, *former, event.source_system)
    child.date_of_birth = ident.date_of_birth
    if ident.gender.value != "unknown":
        child.gender = ident.gender.value
    if ident.address is not None:
        child.address_lines = list(ident.address.lines)
        child.postcode = ident.address.postcode
    if ident.date_of_death is not None:
        child.date_of_death = ident.date_of_death
    for alias in ident.aliases:
        _add_alias(session, child, alias.given_names, alias.family_name, event.source_system)
    child.demographics_as_of = utc(event.occurred_at)
    if event.carers is not None:
        for old in [c for c in child.carers if c.source_system == event.source_system]:
            child.carers.remove(old)
        for position, carer in enumerate(event.carers):
            child.carers.append(
                Carer(
                    source_system=event.source_system,
                    position=position,
                    given_names=carer.given_names,
                    family_name=carer.family_name,
                    family_key=name_key(carer.family_name),
                    relation=carer.relationship.value,
                    phone=carer.phone,
                    email=carer.email,
                    address_lines=list(carer.address.lines) if carer.address else None,
                    postcode=carer.address.postcode if carer.address else None,
                    parental_responsibility=carer.parental_responsibility,
                )
            )
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


@audit.audited("UpdateSetting")
@review.holds_for_review
def update_setting(session: Session, caller: Caller, event: SettingChanged) -> WriteResult:
    """Record that the child joined (no end date) or left a setting, keyed by (kind, code).

    Joining a setting ends the child's other open settings of the same kind (on the
    new start date, else the event's date): a child has one school and one GP practice.
    """
    access.require(caller, Right.write_demographics)
    access.require_source_system(caller, event.source_system)
    if done := _already_answered(session, caller, event.event_id):
        return done
    s = event.setting
    decision, child = _decide(session, event.child, anchor=None)
    row = None
    if child is not None:
        row = _setting(child, s.kind, s.code)
        if row is not None and _is_stale(event, row.last_occurred_at):
            return _answer(session, caller, event, WriteOutcome.stale, decision, child)
    decision, child = _materialise(session, event, decision, child)
    occurred = utc(event.occurred_at)
    if row is None:
        row = ChildSetting(kind=s.kind.value, code=s.code)
        child.settings.append(row)
    row.name = s.name
    row.phone = s.phone
    row.address_lines = list(s.address.lines) if s.address else None
    row.postcode = s.address.postcode if s.address else None
    row.start_date = s.start_date or row.start_date
    row.end_date = s.end_date
    row.source_system = event.source_system
    row.last_occurred_at = occurred
    if s.end_date is None:
        ended_on = s.start_date or occurred.date()
        for other in child.settings:
            if other is not row and other.kind == s.kind.value and other.end_date is None and other.last_occurred_at <= occurred:
                other.end_date = ended_on
    return _answer(session, caller, event, WriteOutcome.applied, decision, child)


#: event type -> the function that applies it
WRITERS = {
    "involvement_opened": register_involvement,
    "involvement_changed": register_involvement,
    "involvement_closed": end_involvement,
    "lead_professional_set": set_lead_professional,
    "lead_professional_removed": remove_lead_professional,
    "assessment_completed": record_assessment,
    "demographics_changed": update_demographics,
    "setting_changed": update_setting,
}


def apply_event(session: Session, caller: Caller, event: EventBase) -> WriteResult:
    """Apply any canonical event with the function for its type."""
    return WRITERS[event.type](session, caller, event)  # type: ignore[attr-defined]


# --- reads ----------------------------------------------------------------------------


@audit.audited("SearchChildren")
def search_children(session: Session, caller: Caller, request: LookupRequest) -> LookupResult:
    """Children by identifier (exact), or by demographics, with every rule of
    :mod:`cpbridge.directory.search`: rate limit, minimum combinations (SearchTooBroad),
    fuzzy scoring, shielded records dropped from searches that use a hidden field,
    at most 10 results for a person and one unique match or none for a system."""
    access.require(caller, Right.search_children)
    return search.run(session, caller, request)


@audit.audited("ReadChild")
def read_child(session: Session, caller: Caller, request: ReadChildRequest) -> ChildRecord:
    """One child's record by directory ID or identifier (Fault NoSuchChild).

    ``override_reason`` (shield_override role only, else NotAuthorised before the child
    is looked up) opens a shielded record for this viewing: see :mod:`.records`.
    """
    access.require(caller, Right.read_child)
    if request.override_reason is not None:
        access.require(caller, Right.override_shield)
    if request.directory_id is not None:
        child = session.scalar(select(Child).where(Child.directory_id == request.directory_id))
    else:
        ident = request.identifier
        assert ident is not None
        owner = identifier_owner(session, ident.scheme, ident.value, ident.system)
        child = session.get(Child, owner) if owner is not None else None
    if child is None or not lifecycle.visible_to(child, caller):
        raise Fault("NoSuchChild", "no record has that identifier", field="directoryId" if request.directory_id else "identifier")
    return child_record(session, child, caller, override_reason=request.override_reason)


# --- helpers: idempotency and staleness -----------------------------------------------


def _already_answered(session: Session, caller: Caller, event_id: str) -> WriteResult | None:
    """The answer already given to ``event_id``, if the caller's account sent it; an event id
    another account sent is Fault NotAuthorised (its answer names that account's child)."""
    done = session.scalar(select(AppliedEvent).where(AppliedEvent.event_id == event_id))
    if done is None:
        return None
    if done.account != caller.account:
        raise Fault("NotAuthorised", "this eventId was sent through another account", field="eventId")
    return WriteResult(
        event_id=event_id,
        outcome=WriteOutcome.duplicate,
        match_outcome=MatchOutcome(done.match_outcome),
        reason_code=done.reason_code,
        directory_id=done.directory_id,
    )


def _is_stale(event: EventBase, last: datetime) -> bool:
    return utc(event.occurred_at) < last


def _answer(
    session: Session, caller: Caller, event: EventBase, outcome: WriteOutcome, decision: MatchDecision, child: Child
) -> WriteResult:
    """Remember the answer to ``event`` (for duplicates) and return it."""
    reason = decision.reason_code if outcome is WriteOutcome.applied else outcome.value
    areas.place_child(session, caller, child, source_system=event.source_system)
    session.add(
        AppliedEvent(
            event_id=event.event_id,
            event_type=event.type,  # type: ignore[attr-defined]
            source_system=event.source_system,
            account=caller.account,
            outcome=outcome.value,
            match_outcome=decision.outcome.value,
            reason_code=reason,
            directory_id=child.directory_id,
        )
    )
    session.flush()
    return WriteResult(
        event_id=event.event_id,
        outcome=outcome,
        match_outcome=decision.outcome,
        reason_code=reason,
        directory_id=child.directory_id,
    )


def _stamp(row: InvolvementRow, caller: Caller, event: EventBase) -> None:
    """The involvement now carries ``event``: it belongs to the account that sent it, as of its time."""
    row.registered_by = caller.account
    row.last_occurred_at = utc(event.occurred_at)


def _involvement_to_change(session: Session, caller: Caller, event: EventBase) -> InvolvementRow | WriteResult:
    """What every write to an existing involvement checks first: the right, a resent event,
    that the involvement exists (Fault NoSuchInvolvement) and that the event is not stale.

    Returns the involvement to change, or the answer to give without changing anything.
    """
    access.require(caller, Right.write_involvements)
    access.require_source_system(caller, event.source_system)
    if done := _already_answered(session, caller, event.event_id):
        return done
    row = _existing_involvement(session, event.source_system, event.local_reference)  # type: ignore[attr-defined]
    access.require_involvement_owner(caller, row.registered_by)
    if _is_stale(event, row.last_occurred_at):
        return _answer(session, caller, event, WriteOutcome.stale, _matched(row.child, "involvement"), row.child)
    return row


# --- helpers: identity ----------------------------------------------------------------


def _matched(child: Child, reason: str) -> MatchDecision:
    return MatchDecision(MatchOutcome.matched, child.id, reason, (child.id,))


def _decide(session: Session, identity: ChildIdentity, anchor: InvolvementRow | None) -> tuple[MatchDecision, Child | None]:
    """The matcher's decision and the existing child it names (no writes).

    ``review`` raises :class:`review.HoldForReview` (the write is held, see review.py).
    An event about an existing involvement stays on that involvement's child, unless a
    trusted identifier places it on another child (Fault IdentifierConflict); a shielded
    child's involvement is never updated silently (held for review too). A decision made
    by the management team (``forced``) is applied as it stands.
    """
    decision = match_identity(session, identity)
    if anchor is not None:
        if decision.outcome is MatchOutcome.matched and decision.child_id != anchor.child_id and (
            decision.forced or decision.reason_code in TRUSTED_MATCHES
        ):
            raise Fault(
                "IdentifierConflict",
                "the child's identity matches a different directory record from the one this involvement is on",
                field="child",
            )
        if decision.outcome is not MatchOutcome.rejected:
            if not decision.forced and shielded_child_ids(session, [anchor.child_id]):
                raise review.HoldForReview(
                    MatchDecision(MatchOutcome.review, None, MatchReason.shielded_candidate.value, (anchor.child_id,),
                                  _anchor_comparison(session, identity, anchor))
                )  # fmt: skip
            reason = decision.reason_code if decision.forced else MatchReason.involvement.value
            return _matched(anchor.child, reason), anchor.child
    if decision.outcome is MatchOutcome.rejected:
        raise Fault("NoSuchChild", "the directory ID given for the child is not on the directory", field="child.identifier")
    if decision.outcome is MatchOutcome.review:
        raise review.HoldForReview(decision)
    child = session.get(Child, decision.child_id) if decision.child_id is not None else None
    return decision, child


def _anchor_comparison(session: Session, identity: ChildIdentity, anchor: InvolvementRow) -> tuple:
    from .matching import store
    from .matching.scoring import compare

    return tuple(compare(identity, rec) for rec in store.candidate_records(session, [anchor.child_id]))


def _materialise(
    session: Session, event: EventBase, decision: MatchDecision, child: Child | None
) -> tuple[MatchDecision, Child]:
    """Create the child for a ``new`` decision, then link the event's identifiers to it."""
    if child is None:
        child = _new_child(session, event.child, event.source_system)
        decision = MatchDecision(MatchOutcome.new, child.id, decision.reason_code or MatchReason.no_candidate.value, ())
    _link_identifiers(session, child, event.child, event.source_system)
    return decision, child


def _resolve(session: Session, event: EventBase, anchor: InvolvementRow | None) -> tuple[MatchDecision, Child]:
    decision, child = _decide(session, event.child, anchor)
    if child is not None and child.status == "archived":
        # The record has left the live directory (at 18, or a year after death): it takes
        # no new data, and a fresh record must not be made for the same person either.
        raise Fault("RecordArchived", "the child's record has left the live directory and takes no new data", field="child")
    return _materialise(session, event, decision, child)


def _new_child(session: Session, identity: ChildIdentity, source_system: str) -> Child:
    while True:
        directory_id = new_directory_id()
        if session.scalar(select(Child.id).where(Child.directory_id == directory_id)) is None:
            break
    child = Child(
        directory_id=directory_id,
        date_of_birth=identity.date_of_birth,
        gender=identity.gender.value,
        address_lines=list(identity.address.lines) if identity.address else None,
        postcode=identity.address.postcode if identity.address else None,
        date_of_death=identity.date_of_death,
        status="live",
    )
    _set_name(child, identity.given_names, identity.family_name)
    session.add(child)
    session.flush()
    for alias in identity.aliases:
        _add_alias(session, child, alias.given_names, alias.family_name, source_system)
    return child


def _link_identifiers(session: Session, child: Child, identity: ChildIdentity, source_system: str) -> None:
    for ident in identity.identifiers:
        if ident.scheme is IdentifierScheme.directory_id:
            if ident.value != child.directory_id:
                raise Fault("IdentifierConflict", "the directory ID given belongs to a different child", field="child.identifier")
            continue
        owner = identifier_owner(session, ident.scheme, ident.value, ident.system)
        if owner == child.id:
            continue
        if owner is not None:
            raise Fault(
                "IdentifierConflict",
                f"the {ident.scheme.value} given is already linked to a different child",
                field="child.identifier",
            )
        if ident.scheme in SINGLE_VALUED and any(i.scheme == ident.scheme.value for i in child.identifiers):
            raise Fault(
                "IdentifierConflict",
                f"the child already has a different {ident.scheme.value}",
                field="child.identifier",
            )
        child.identifiers.append(
            ChildIdentifier(scheme=ident.scheme.value, system=ident.system or "", value=ident.value, source_system=source_system)
        )
        session.flush()


def _set_name(child: Child, given: str, family: str) -> None:
    child.given_names, child.family_name = given, family
    child.given_key, child.family_key = name_key(given), name_key(family)


def _add_alias(session: Session, child: Child, given: str, family: str, source_system: str) -> None:
    keys = (name_key(given), name_key(family))
    if keys == (child.given_key, child.family_key):
        return
    if any((n.given_key, n.family_key) == keys for n in child.names):
        return
    child.names.append(
        ChildName(given_names=given, family_name=family, given_key=keys[0], family_key=keys[1], source_system=source_system)
    )


# --- helpers: involvements and settings -----------------------------------------------


def _involvement(session: Session, source_system: str, local_reference: str) -> InvolvementRow | None:
    return session.scalar(
        select(InvolvementRow).where(
            InvolvementRow.source_system == source_system, InvolvementRow.local_reference == local_reference
        )
    )


def _existing_involvement(session: Session, source_system: str, local_reference: str) -> InvolvementRow:
    row = _involvement(session, source_system, local_reference)
    if row is None:
        raise Fault(
            "NoSuchInvolvement",
            f"no involvement from {source_system!r} with local reference {local_reference!r}",
            field="localReference",
        )
    return row


def _set_practitioner(row: InvolvementRow, practitioner: Practitioner | None) -> None:
    row.practitioner_name = practitioner.name if practitioner else None
    row.practitioner_role = practitioner.role.value if practitioner else None
    row.practitioner_team = practitioner.team if practitioner else None
    row.practitioner_phone = practitioner.phone if practitioner else None
    row.practitioner_email = practitioner.email if practitioner else None


def _clear_other_leads(session: Session, child: Child, lead: InvolvementRow) -> None:
    for other in child.involvements:
        if other is not lead and other.lead_professional:
            other.lead_professional = False


def _setting(child: Child, kind: SettingKind, code: str) -> ChildSetting | None:
    for row in child.settings:
        if row.kind == kind.value and row.code == code:
            return row
    return None
