"""The matching review queue: held events, the management team's decisions, merges and their undo.

When the matcher answers ``review`` (:mod:`cpbridge.directory.matching`), the write
is applied to no child. :func:`hold` keeps the canonical event in a case with the
incoming identity and the candidates' per-field evidence, and the local system is
told ``queued_for_review`` with the reason code. A later event with the same
identity, or about an involvement whose opening is held, joins the same case.

The management team (right ``resolve_reviews``) then decides, and the held events
are applied in the order they happened, as the account that sent them:

* :func:`resolve_link` — it is this existing child;
* :func:`resolve_create` — it is a child not on the directory yet;
* :func:`resolve_merge` — two existing records are the same child: merge them
  (:func:`merge_children`) and apply the events to the one kept.

A merge moves the merged record's identifiers, names, carers, settings and
involvements (and its shield, so a merge can never drop one) onto the kept
record, leaves the merged record with status ``merged`` (its directory ID leads to
the kept one), and stores every row it moved: :func:`undo_merge` moves them back.
Merges and undos are audited (operations ``MergeChildren``, ``UndoMerge``) as are
resolutions (``ReviewResolved``) and every candidate record a person is shown in a case
(``ReviewCase``, one row per candidate, as search results are).

A case that involves a shielded record belongs to the shielding authority's
management team: only they see it unmasked and only they may resolve it. The
sender is never told a shield was involved (reason ``uncertain``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from cpbridge.codes import IdentifierScheme, MatchOutcome, ReasonCode, WriteOutcome
from cpbridge.faults import Fault
from cpbridge.identifiers import normalise_directory_id
from cpbridge.model import Actor, ChildIdentity, EventBase, WriteResult, parse_event

from . import access, audit, matching
from .access import Right
from .auth import Caller
from .matching import MatchDecision, scoring, store
from .matching.reasons import MatchReason, external
from .matching.scoring import Evidence
from .review_tables import (
    CREATED,
    LINKED,
    MERGED,
    OPEN,
    ChildMerge,
    ReviewCandidate,
    ReviewCase,
    ReviewEvent,
)
from .shield_tables import ShieldRow
from .tables import (
    AppliedEvent,
    Carer,
    Child,
    ChildIdentifier,
    ChildName,
    ChildSetting,
    InvolvementRow,
    utc,
    utcnow,
)

#: The audit operations written here.
MERGE_OPERATION, UNDO_OPERATION, RESOLVE_OPERATION = "MergeChildren", "UndoMerge", "ReviewResolved"
#: The audit operation of a candidate record shown in a case.
VIEW_OPERATION = "ReviewCase"


class HoldForReview(Exception):
    """Raised by the service's identity step: the event must be held, not applied."""

    def __init__(self, decision: MatchDecision):
        super().__init__(decision.reason_code)
        self.decision = decision


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSummary:
    """One line of the queue."""

    id: int
    status: str
    reason_code: str
    source_system: str
    local_authority: str | None
    created_at: datetime
    given_names: str
    family_name: str
    date_of_birth: date
    candidates: int
    events: int
    best_score: float | None


@dataclass(frozen=True)
class CandidateView:
    """A candidate record with its evidence. A shielded one's address is masked unless the
    viewer belongs to the shielding authority's management team; a masked candidate's
    ``score`` and ``weight`` are then those of the fields shown only (the stored ones, less the
    shown evidence, would give the withheld fields' agreement)."""

    child_id: int | None
    directory_id: str | None
    status: str | None
    given_names: str | None
    family_name: str | None
    date_of_birth: date | None
    gender: str | None
    postcode: str | None
    address_lines: tuple[str, ...]
    rank: int
    score: float
    weight: float
    veto: bool
    shielded: bool
    twin_risk: bool
    masked: bool
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class HeldEventView:
    event_id: str
    event_type: str
    source_system: str
    local_reference: str | None
    occurred_at: datetime
    held_at: datetime
    applied_outcome: str | None
    applied_reason: str | None


@dataclass(frozen=True)
class CaseView:
    """A case in full, for the review page."""

    id: int
    status: str
    reason_code: str
    identity: ChildIdentity
    source_system: str
    event_id: str
    local_authority: str | None
    shielded: bool
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    resolved_directory_id: str | None
    merge_id: int | None
    candidates: tuple[CandidateView, ...]
    events: tuple[HeldEventView, ...]


@dataclass(frozen=True)
class Resolution:
    """What a resolution did: the child the events went to and each event's answer."""

    case_id: int
    status: str
    directory_id: str | None
    results: tuple[WriteResult, ...]
    merge_id: int | None = None


@dataclass(frozen=True)
class MergeView:
    id: int
    kept_directory_id: str
    merged_directory_id: str
    moved: dict[str, int]
    merged_by: str
    merged_at: datetime
    undone_by: str | None
    undone_at: datetime | None
    #: The authority whose management team made the merge.
    local_authority: str | None = None


# --- holding ---------------------------------------------------------------------------------


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def identity_json(identity: ChildIdentity) -> str:
    """The identity's canonical JSON (camelCase, sorted keys): what a case stores and hashes."""
    return canonical_json(identity.model_dump(mode="json", by_alias=True, exclude_none=True))


def involvement_reference(event: EventBase) -> str | None:
    """The local reference of the involvement an event is about, if any."""
    ref = getattr(event, "local_reference", None)
    if ref is None and getattr(event, "involvement", None) is not None:
        ref = event.involvement.local_reference  # type: ignore[attr-defined]
    return ref


def holds_for_review(fn):
    """Decorate a service write: a :class:`HoldForReview` from its identity step (or an event about
    an involvement whose opening is held) becomes a held event and a ``queued_for_review`` answer."""

    @functools.wraps(fn)
    def inner(session: Session, caller: Caller, event: EventBase, *args, **kwargs) -> WriteResult:
        try:
            return fn(session, caller, event, *args, **kwargs)
        except HoldForReview as held:
            return hold(session, caller, event, held.decision)
        except Fault as fault:
            if fault.code != "NoSuchInvolvement" or is_resolving(session):
                raise
            case = _open_case_for_involvement(session, event.source_system, involvement_reference(event))
            if case is None:
                raise
            return hold(session, caller, event, None, case=case)

    return inner


_RESOLVING = "cpbridge.review.resolving"


def is_resolving(session: Session) -> bool:
    return bool(session.info.get(_RESOLVING))


def hold(
    session: Session, caller: Caller, event: EventBase, decision: MatchDecision | None, *, case: ReviewCase | None = None
) -> WriteResult:
    """Keep ``event`` in a review case (a new one, or the open case it belongs to) and answer it."""
    ident_json = identity_json(event.child)
    ident_hash = hashlib.sha256(ident_json.encode()).hexdigest()
    ref = involvement_reference(event)
    if case is None and ref is not None:
        case = _open_case_for_involvement(session, event.source_system, ref)
    if case is None:
        case = session.scalar(
            select(ReviewCase).where(ReviewCase.identity_hash == ident_hash, ReviewCase.status == OPEN).order_by(ReviewCase.id)
        )
    if case is None:
        assert decision is not None
        case = _new_case(session, caller, event, decision, ident_json, ident_hash)
    session.add(
        ReviewEvent(
            case=case,
            event_id=event.event_id,
            event_type=event.type,  # type: ignore[attr-defined]
            source_system=event.source_system,
            local_reference=ref,
            occurred_at=utc(event.occurred_at),
            event_json=canonical_json(event.model_dump(mode="json", by_alias=True, exclude_none=True)),
            caller_json=_caller_json(caller),
        )
    )
    reason = external(case.reason_code)
    session.add(
        AppliedEvent(
            event_id=event.event_id,
            event_type=event.type,  # type: ignore[attr-defined]
            source_system=event.source_system,
            account=caller.account,
            outcome=WriteOutcome.queued_for_review.value,
            match_outcome=MatchOutcome.review.value,
            reason_code=reason,
            directory_id=None,
        )
    )
    session.flush()
    return WriteResult(
        event_id=event.event_id,
        outcome=WriteOutcome.queued_for_review,
        match_outcome=MatchOutcome.review,
        reason_code=reason,
        directory_id=None,
    )


def _new_case(
    session: Session, caller: Caller, event: EventBase, decision: MatchDecision, ident_json: str, ident_hash: str
) -> ReviewCase:
    shield_la = None
    shielded_ids = [int(c.child_id) for c in decision.comparisons if c.shielded]
    if shielded_ids:
        shield_la = session.scalar(
            select(ShieldRow.local_authority).where(ShieldRow.child_id.in_(shielded_ids), ShieldRow.lifted_at.is_(None))
        )
    la = shield_la or caller.local_authority or _area_of(event.child)
    case = ReviewCase(
        status=OPEN,
        reason_code=decision.reason_code or MatchReason.uncertain.value,
        identity_json=ident_json,
        identity_hash=ident_hash,
        source_system=event.source_system,
        event_id=event.event_id,
        local_authority=la,
        shielded=bool(shielded_ids),
    )
    for rank, comp in enumerate(decision.comparisons):
        case.candidates.append(
            ReviewCandidate(
                child_id=int(comp.child_id),
                rank=rank,
                score=comp.score,
                weight=comp.weight,
                veto=comp.veto,
                shielded=comp.shielded,
                twin_risk=comp.twin_risk,
                evidence=[
                    {"field": e.field, "level": e.level, "weight": e.weight, "incoming": e.incoming, "candidate": e.candidate}
                    for e in comp.evidence
                ],
            )
        )
    session.add(case)
    return case


def _area_of(identity: ChildIdentity) -> str | None:
    from . import areas

    return areas.la_for_postcode(identity.address.postcode) if identity.address else None


def _open_case_for_involvement(session: Session, source_system: str, ref: str | None) -> ReviewCase | None:
    if ref is None:
        return None
    return session.scalar(
        select(ReviewCase)
        .join(ReviewEvent, ReviewEvent.case_id == ReviewCase.id)
        .where(ReviewEvent.source_system == source_system, ReviewEvent.local_reference == ref, ReviewCase.status == OPEN)
        .order_by(ReviewCase.id)
        .limit(1)
    )


def _caller_json(caller: Caller) -> str:
    return canonical_json(
        {
            "account": caller.account,
            "organisation": caller.organisation,
            "actor": caller.actor.model_dump(mode="json"),
            "reason": caller.reason.value,
            "local_authority": caller.local_authority,
            "source_address": caller.source_address,
        }
    )


def _caller_from(text: str) -> Caller:
    data = json.loads(text)
    return Caller(
        account=data["account"],
        organisation=data["organisation"],
        actor=Actor.model_validate(data["actor"]),
        reason=ReasonCode(data["reason"]),
        local_authority=data.get("local_authority") or "",
        source_address=data.get("source_address"),
    )


# --- reading the queue -----------------------------------------------------------------------


def _check_reader(caller: Caller | None) -> None:
    if caller is not None:
        access.require(caller, Right.resolve_reviews)


def open_cases(
    session: Session, local_authority: str | None = None, *, caller: Caller | None = None, limit: int = 500
) -> list[CaseSummary]:
    """Open cases, oldest first, optionally for one authority (``caller`` given: its right is checked)."""
    _check_reader(caller)
    query = select(ReviewCase).where(ReviewCase.status == OPEN)
    if local_authority is not None:
        # A case with no authority (no known postcode, a sender without one) would be in no
        # queue at all: every authority's management team sees it until one resolves it.
        query = query.where(
            or_(ReviewCase.local_authority == local_authority, ReviewCase.local_authority.is_(None), ReviewCase.local_authority == "")
        )
    out = []
    cases = list(session.scalars(query.order_by(ReviewCase.created_at, ReviewCase.id).limit(limit)))
    shield_la = _shield_authorities(session, [c.child_id for case in cases for c in case.candidates[:1] if c.child_id])
    for case in cases:
        ident = ChildIdentity.model_validate_json(case.identity_json)
        out.append(
            CaseSummary(
                id=case.id,
                status=case.status,
                reason_code=case.reason_code,
                source_system=case.source_system,
                local_authority=case.local_authority,
                created_at=case.created_at,
                given_names=ident.given_names,
                family_name=ident.family_name,
                date_of_birth=ident.date_of_birth,
                candidates=len(case.candidates),
                events=len(case.events),
                best_score=_best_score(case, shield_la, caller),
            )
        )
    return out


def _best_score(case: ReviewCase, shield_la: dict[int, str], caller: Caller | None) -> float | None:
    """The first candidate's score, on the fields the reader may see (see :func:`case`)."""
    if not case.candidates:
        return None
    first = case.candidates[0]
    if _masked(first, case, shield_la, caller):
        return _shown_score(first.evidence)[0]
    return first.score


def _masked(cand: ReviewCandidate, case: ReviewCase, shield_la: dict[int, str], caller: Caller | None) -> bool:
    """Whether ``cand``'s shielded fields are withheld from ``caller`` (no caller: withheld)."""
    shielded_now = cand.child_id in shield_la
    return (shielded_now or cand.shielded) and not _may_see_behind(caller, shield_la.get(cand.child_id, case.local_authority))


def _shown_score(evidence: list[dict]) -> tuple[float, float]:
    """(score, total weight) of a candidate counting only the fields a masked view shows."""
    weight = round(sum(e["weight"] for e in evidence if e["field"] not in _MASKED_FIELDS), 2)
    return scoring._logistic(weight), weight


def _case(session: Session, case_id: int) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise Fault("InvalidRequest", f"no review case {case_id}", field="caseId")
    return case


def _may_see_behind(caller: Caller | None, local_authority: str | None) -> bool:
    """Whether ``caller`` is of the management team of ``local_authority`` (a shield's or a case's)."""
    return (
        caller is not None
        and access.has_right(caller, Right.see_shielded_fields)
        and bool(caller.local_authority)
        and caller.local_authority == local_authority
    )


def _may_see_shielded(caller: Caller | None, case: ReviewCase) -> bool:
    return _may_see_behind(caller, case.local_authority)


def _shield_authorities(session: Session, child_ids: list[int]) -> dict[int, str]:
    """child id -> the authority of its shield in force, for those of ``child_ids`` that are shielded."""
    if not child_ids:
        return {}
    rows = session.execute(
        select(ShieldRow.child_id, ShieldRow.local_authority).where(ShieldRow.child_id.in_(child_ids), ShieldRow.lifted_at.is_(None))
    )
    return dict(rows.all())


_MASKED_FIELDS = {"postcode", "address"}
#: The agreement level shown for a field withheld from the viewer.
WITHHELD = "withheld"


def case(session: Session, case_id: int, *, caller: Caller | None = None) -> CaseView:
    """One case with its identity, candidates (evidence per field) and held events.

    A shielded candidate's postcode and address — their values, and how well they agree
    with the incoming ones, which would tell where the child lives — are withheld unless
    ``caller`` is of the management team of the authority that placed *that* shield
    (no caller: withheld). So is what would let them be worked out: a masked candidate's
    score and total weight count the fields shown only.

    With a ``caller`` (a person), every candidate record shown is audited (``ReviewCase``,
    one row per candidate, outcome ``full``, ``behind_shield`` or ``shielded``).
    """
    _check_reader(caller)
    row = _case(session, case_id)
    ids = [c.child_id for c in row.candidates if c.child_id]
    children = {c.id: c for c in session.scalars(select(Child).where(Child.id.in_(ids)))}
    shield_la = _shield_authorities(session, ids)
    cands = []
    for cand in row.candidates:
        child = children.get(cand.child_id) if cand.child_id else None
        masked = _masked(cand, row, shield_la, caller)
        score, weight = _shown_score(cand.evidence) if masked else (cand.score, cand.weight)
        evidence = tuple(
            Evidence(e["field"], WITHHELD, 0.0, e["incoming"], None)
            if masked and e["field"] in _MASKED_FIELDS
            else Evidence(e["field"], e["level"], e["weight"], e["incoming"], e["candidate"])
            for e in cand.evidence
        )
        cands.append(
            CandidateView(
                child_id=cand.child_id,
                directory_id=child.directory_id if child else None,
                status=child.status if child else None,
                given_names=child.given_names if child else None,
                family_name=child.family_name if child else None,
                date_of_birth=child.date_of_birth if child else None,
                gender=child.gender if child else None,
                postcode=None if masked or child is None else child.postcode,
                address_lines=() if masked or child is None else tuple(child.address_lines or ()),
                rank=cand.rank,
                score=score,
                weight=weight,
                veto=cand.veto,
                shielded=cand.shielded,
                twin_risk=cand.twin_risk,
                masked=masked,
                evidence=evidence,
            )
        )
    if caller is not None:
        _audit_shown(session, caller, row, cands, children, shield_la)
    resolved = session.get(Child, row.resolved_child_id) if row.resolved_child_id else None
    return CaseView(
        id=row.id,
        status=row.status,
        reason_code=row.reason_code,
        identity=ChildIdentity.model_validate_json(row.identity_json),
        source_system=row.source_system,
        event_id=row.event_id,
        local_authority=row.local_authority,
        shielded=row.shielded,
        created_at=row.created_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolved_directory_id=resolved.directory_id if resolved else None,
        merge_id=row.merge_id,
        candidates=tuple(cands),
        events=tuple(
            HeldEventView(
                e.event_id, e.event_type, e.source_system, e.local_reference, e.occurred_at, e.held_at,
                e.applied_outcome, e.applied_reason,
            )
            for e in row.events
        ),
    )


def _audit_shown(
    session: Session, caller: Caller, row: ReviewCase, cands: list[CandidateView], children: dict[int, Child], shield_la: dict[int, str]
) -> None:
    """One audit row per candidate record shown: the names of its fields on the page, never values."""
    for cand in cands:
        child = children.get(cand.child_id) if cand.child_id else None
        if child is None:
            continue
        fields = ["givenNames", "familyName", "dateOfBirth", "gender"]
        fields += [] if cand.masked else ["postcode", "address"]
        fields += sorted({e.field for e in cand.evidence if e.candidate is not None and e.field not in _EVIDENCE_SHOWN_ABOVE})
        view = "shielded" if cand.masked else "behind_shield" if child.id in shield_la else "full"
        audit.record(
            session, caller, VIEW_OPERATION,
            outcome=view, child=child, fields=fields, detail=f"case={row.id} rank={cand.rank} candidates={len(cands)}",
        )  # fmt: skip


#: Evidence fields that repeat the candidate's fields listed by name above.
_EVIDENCE_SHOWN_ABOVE = {"given_names", "family_name", "date_of_birth", "gender", "postcode", "address"}


# --- resolving -------------------------------------------------------------------------------


def _open_for(session: Session, caller: Caller, case_id: int) -> ReviewCase:
    access.require(caller, Right.resolve_reviews)
    row = _case(session, case_id)
    if row.status != OPEN:
        raise Fault("InvalidRequest", f"review case {case_id} is already {row.status}", field="caseId")
    if row.shielded and not _may_see_shielded(caller, row):
        raise Fault("NotAuthorised", "this case involves a shielded record: only the shielding authority's management team may resolve it", field="caseId")
    if row.local_authority and caller.local_authority != row.local_authority:
        raise Fault("NotAuthorised", "this case is in another authority's review queue", field="caseId")
    return row


def _live_child(session: Session, directory_id: str | int, field: str) -> Child:
    if isinstance(directory_id, int):
        child = session.get(Child, directory_id)
    else:
        try:
            wanted = normalise_directory_id(directory_id)
        except ValueError as exc:
            raise Fault("InvalidRequest", f"{field}: {exc}", field=field) from None
        child = session.scalar(select(Child).where(Child.directory_id == wanted))
    if child is None:
        raise Fault("NoSuchChild", f"{field}: no record has that directory ID", field=field)
    if child.status == store.MERGED:
        raise Fault("InvalidRequest", f"{field}: {child.directory_id} was merged into another record", field=field)
    return child


def resolve_link(session: Session, caller: Caller, case_id: int, child: str | int) -> Resolution:
    """The case's child is ``child`` (a directory ID): apply the held events to it."""
    row = _open_for(session, caller, case_id)
    target = _live_child(session, child, "child")
    if target.id not in {c.child_id for c in row.candidates}:
        raise Fault("InvalidRequest", "link the case only to one of its candidates (or create, or merge)", field="child")
    _check_shield_of(session, caller, target)
    return _finish(session, caller, row, LINKED, MatchDecision(MatchOutcome.matched, target.id, MatchReason.review_linked.value))


def resolve_create(session: Session, caller: Caller, case_id: int) -> Resolution:
    """The case's child is not on the directory: create it from the first held event, apply the rest to it."""
    row = _open_for(session, caller, case_id)
    return _finish(session, caller, row, CREATED, MatchDecision(MatchOutcome.new, None, MatchReason.review_created.value))


def resolve_merge(session: Session, caller: Caller, case_id: int, keep: str | int, merge: str | int) -> Resolution:
    """Two existing records are one child: merge ``merge`` into ``keep`` and apply the held events to it."""
    row = _open_for(session, caller, case_id)
    view = merge_children(session, caller, keep, merge, case_id=row.id)
    kept = _live_child(session, keep, "keep")
    decision = MatchDecision(MatchOutcome.matched, kept.id, MatchReason.review_merged.value)
    return _finish(session, caller, row, MERGED, decision, merge_id=view.id)


def _finish(
    session: Session, caller: Caller, row: ReviewCase, status: str, decision: MatchDecision, *, merge_id: int | None = None
) -> Resolution:
    from . import service

    row.status, row.resolved_by, row.resolved_at, row.merge_id = status, caller.actor.user_id, utcnow(), merge_id
    session.flush()
    results = []
    session.info[_RESOLVING] = True
    try:
        for held in [e for e in row.events if e.applied_outcome is None]:
            session.execute(delete(AppliedEvent).where(AppliedEvent.event_id == held.event_id))
            event = parse_event(json.loads(held.event_json))
            try:
                with matching.forced(session, decision):
                    result = service.apply_event(session, _caller_from(held.caller_json), event)
            except Fault as fault:
                raise Fault(fault.code, f"held event {held.event_id} ({held.event_type}): {fault.message}", field=fault.field) from None
            held.applied_outcome, held.applied_reason = result.outcome.value, result.reason_code
            results.append(result)
            if decision.outcome is MatchOutcome.new and result.directory_id:
                created = session.scalar(select(Child.id).where(Child.directory_id == result.directory_id))
                decision = MatchDecision(MatchOutcome.matched, created, MatchReason.review_created.value)
    finally:
        session.info.pop(_RESOLVING, None)
    child_id = decision.child_id
    row.resolved_child_id = child_id
    child = session.get(Child, child_id) if child_id else None
    audit.record(
        session, caller, RESOLVE_OPERATION, outcome=status, child=child,
        event_id=row.event_id, detail=f"case={row.id} reason={row.reason_code} events={len(results)}",
    )  # fmt: skip
    session.flush()
    return Resolution(row.id, status, child.directory_id if child else None, tuple(results), merge_id)


def _check_shield_of(session: Session, caller: Caller, child: Child) -> None:
    la = session.scalar(select(ShieldRow.local_authority).where(ShieldRow.child_id == child.id, ShieldRow.lifted_at.is_(None)))
    if la is not None and not (access.has_right(caller, Right.see_shielded_fields) and caller.local_authority == la):
        raise Fault("NotAuthorised", "the record is shielded by another authority: its management team decides", field="child")


# --- merging ---------------------------------------------------------------------------------

_MOVABLE = {"child_identifiers": ChildIdentifier, "child_names": ChildName, "carers": Carer, "settings": ChildSetting, "involvements": InvolvementRow}


def _ids(session: Session, model, child_id: int, *where) -> list[int]:
    return list(session.scalars(select(model.id).where(model.child_id == child_id, *where).order_by(model.id)))


def _trusted_values(session: Session, child_id: int, scheme: IdentifierScheme) -> set[str]:
    return set(session.scalars(select(ChildIdentifier.value).where(ChildIdentifier.child_id == child_id, ChildIdentifier.scheme == scheme.value)))


def merge_children(session: Session, caller: Caller, keep: str | int, merge: str | int, *, case_id: int | None = None) -> MergeView:
    """Fold record ``merge`` into record ``keep`` (directory IDs); reversible with :func:`undo_merge`.

    Refused when the two hold different NHS numbers or permanent UPNs (two children).
    A setting both records share stays on the merged record; every other row moves.
    """
    access.require(caller, Right.resolve_reviews)
    kept, gone = _live_child(session, keep, "keep"), _live_child(session, merge, "merge")
    if kept.id == gone.id:
        raise Fault("InvalidRequest", "a record cannot be merged into itself", field="merge")
    _check_shield_of(session, caller, kept)
    _check_shield_of(session, caller, gone)
    for scheme in (IdentifierScheme.nhs_number, IdentifierScheme.upn):
        a, b = _trusted_values(session, kept.id, scheme), _trusted_values(session, gone.id, scheme)
        permanent = {v for v in a | b if not (scheme is IdentifierScheme.upn and v[-1].isalpha())}
        if a and b and a != b and len(permanent) > 1:
            raise Fault("IdentifierConflict", f"the two records hold different {scheme.value} values: they are two children", field="merge")
    session.flush()
    moved: dict[str, list[int]] = {}
    keep_name_keys = {(kept.given_key, kept.family_key)} | {
        tuple(k) for k in session.execute(select(ChildName.given_key, ChildName.family_key).where(ChildName.child_id == kept.id))
    }
    names = session.execute(select(ChildName.id, ChildName.given_key, ChildName.family_key).where(ChildName.child_id == gone.id)).all()
    moved["child_names"] = [i for i, g, f in names if (g, f) not in keep_name_keys]
    keep_settings = {tuple(r) for r in session.execute(select(ChildSetting.kind, ChildSetting.code).where(ChildSetting.child_id == kept.id))}
    settings = session.execute(select(ChildSetting.id, ChildSetting.kind, ChildSetting.code).where(ChildSetting.child_id == gone.id)).all()
    moved["settings"] = [i for i, k, c in settings if (k, c) not in keep_settings]
    for table in ("child_identifiers", "carers", "involvements"):
        moved[table] = _ids(session, _MOVABLE[table], gone.id)
    leads_cleared: list[int] = []
    if session.scalar(select(InvolvementRow.id).where(InvolvementRow.child_id == kept.id, InvolvementRow.lead_professional.is_(True))):
        leads_cleared = _ids(session, InvolvementRow, gone.id, InvolvementRow.lead_professional.is_(True))
    for table, ids in moved.items():
        if ids:
            model = _MOVABLE[table]
            session.execute(update(model).where(model.id.in_(ids)).values(child_id=kept.id).execution_options(synchronize_session=False))
    if leads_cleared:
        session.execute(update(InvolvementRow).where(InvolvementRow.id.in_(leads_cleared)).values(lead_professional=False).execution_options(synchronize_session=False))
    aliases_added: list[int] = []
    if (gone.given_key, gone.family_key) not in keep_name_keys:
        alias = ChildName(child_id=kept.id, given_names=gone.given_names, family_name=gone.family_name,
                          given_key=gone.given_key, family_key=gone.family_key, source_system="merge")  # fmt: skip
        session.add(alias)
        session.flush()
        aliases_added.append(alias.id)
    shield_moved = None
    gone_shield = session.scalar(select(ShieldRow).where(ShieldRow.child_id == gone.id, ShieldRow.lifted_at.is_(None)))
    kept_shield = session.scalar(select(ShieldRow.id).where(ShieldRow.child_id == kept.id, ShieldRow.lifted_at.is_(None)))
    if gone_shield is not None and kept_shield is None:
        # The merged record's shield goes with it: a merge must never leave the child unshielded.
        session.execute(update(ShieldRow).where(ShieldRow.id == gone_shield.id).values(child_id=kept.id).execution_options(synchronize_session=False))
        shield_moved = gone_shield.id
    gone.status = store.MERGED
    merge_row = ChildMerge(
        kept_child_id=kept.id,
        merged_child_id=gone.id,
        kept_directory_id=kept.directory_id,
        merged_directory_id=gone.directory_id,
        case_id=case_id,
        undo={"moved": moved, "aliases_added": aliases_added, "leads_cleared": leads_cleared, "shield_moved": shield_moved},
        merged_by=caller.actor.user_id,
        local_authority=caller.local_authority or None,
    )
    session.add(merge_row)
    session.flush()
    _refresh(session, kept, gone)
    detail = f"merge={merge_row.id} kept={kept.directory_id} merged={gone.directory_id}"
    audit.record(session, caller, MERGE_OPERATION, outcome="merged", child=kept, fields=[t for t, ids in moved.items() if ids], detail=detail)
    audit.record(session, caller, MERGE_OPERATION, outcome="merged_away", child=gone, detail=detail)
    return _merge_view(merge_row)


def undo_merge(session: Session, caller: Caller, merge_id: int) -> MergeView:
    """Reverse a merge: every row it moved goes back, the alias it added goes, both records are live."""
    access.require(caller, Right.resolve_reviews)
    row = session.get(ChildMerge, merge_id)
    if row is None:
        raise Fault("InvalidRequest", f"no merge {merge_id}", field="mergeId")
    if row.undone_at is not None:
        raise Fault("InvalidRequest", f"merge {merge_id} was already undone", field="mergeId")
    if row.local_authority and caller.local_authority != row.local_authority:
        raise Fault("NotAuthorised", "only the authority that made a merge may undo it", field="mergeId")
    kept, gone = session.get(Child, row.kept_child_id), session.get(Child, row.merged_child_id)
    assert kept is not None and gone is not None
    _check_shield_of(session, caller, kept)
    session.flush()
    undo = row.undo
    for table, ids in undo["moved"].items():
        if ids:
            model = _MOVABLE[table]
            session.execute(
                update(model).where(model.id.in_(ids), model.child_id == kept.id).values(child_id=gone.id)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
    if undo["aliases_added"]:
        session.execute(delete(ChildName).where(ChildName.id.in_(undo["aliases_added"])).execution_options(synchronize_session=False))
    if undo["leads_cleared"]:
        session.execute(update(InvolvementRow).where(InvolvementRow.id.in_(undo["leads_cleared"])).values(lead_professional=True).execution_options(synchronize_session=False))
    if undo["shield_moved"]:
        session.execute(update(ShieldRow).where(ShieldRow.id == undo["shield_moved"]).values(child_id=gone.id).execution_options(synchronize_session=False))
    gone.status = "live"
    row.undone_at, row.undone_by = utcnow(), caller.actor.user_id
    session.flush()
    _refresh(session, kept, gone)
    detail = f"merge={row.id} kept={kept.directory_id} merged={gone.directory_id}"
    audit.record(session, caller, UNDO_OPERATION, outcome="undone", child=kept, detail=detail)
    audit.record(session, caller, UNDO_OPERATION, outcome="restored", child=gone, detail=detail)
    return _merge_view(row)


def merges(
    session: Session, child: str | int | None = None, *, local_authority: str | None = None, limit: int | None = None
) -> list[MergeView]:
    """Merges, newest first: of one record (kept or merged) if given, made by one authority if given."""
    query = select(ChildMerge).order_by(ChildMerge.merged_at.desc(), ChildMerge.id.desc())
    if local_authority is not None:
        query = query.where(ChildMerge.local_authority == local_authority)
    if limit is not None:
        query = query.limit(limit)
    if child is not None:
        if isinstance(child, int):
            c = session.get(Child, child)
        else:
            c = session.scalar(select(Child).where(Child.directory_id == normalise_directory_id(child)))
        if c is not None:
            query = query.where((ChildMerge.kept_child_id == c.id) | (ChildMerge.merged_child_id == c.id))
    return [_merge_view(m) for m in session.scalars(query)]


def _refresh(session: Session, *children: Child) -> None:
    """After core UPDATEs: reload the children's collections and re-key them for matching."""
    for child in children:
        session.expire(child)
    store.reindex(session, [c.id for c in children])


def _merge_view(row: ChildMerge) -> MergeView:
    return MergeView(
        id=row.id,
        kept_directory_id=row.kept_directory_id,
        merged_directory_id=row.merged_directory_id,
        moved={t: len(ids) for t, ids in row.undo["moved"].items()},
        merged_by=row.merged_by,
        local_authority=row.local_authority,
        merged_at=row.merged_at,
        undone_by=row.undone_by,
        undone_at=row.undone_at,
    )
