"""Identity matching: which directory record is the child a source is talking about?

:func:`match_identity` ``(session, identity) -> MatchDecision`` decides and never
writes child data. The service acts on the decision: ``matched`` -> write to
``child_id``; ``new`` -> create a child; ``review`` -> the event is held in the
review queue (:mod:`cpbridge.directory.review`), not applied; ``rejected`` -> Fault.

The rules, in order (docs/matching.md has the detail and the figures):

1. **Trusted identifiers** decide: the directory ID (unknown -> rejected), an NHS
   number or UPN linked before, or a local reference the source linked before.
   The child found is scored with :func:`.scoring.compare` all the same, and goes
   to review instead when it is shielded, when it holds a different NHS number or
   permanent UPN (two values of one trusted scheme never auto-match), when the
   identifiers point at two different children, or when the demographics
   contradict it badly (date of birth *and* a name disagree outright).
2. **Probabilistic**: candidates are every child sharing a blocking key
   (:mod:`.store`, one indexed ``IN`` probe), scored and decided by
   :func:`.scoring.decide` with name frequencies from the store: matched, review
   (uncertain band, too close to call, possible twin, identifier conflict, or any
   shielded candidate scoring above ``shield_review`` on its visible fields) or new.
   A shielded child is never a candidate through address blocking keys alone, and
   its address never weighs in the decision: a write's answer must not tell the
   sender where a shielded child lives.

Reason codes are :class:`.reasons.MatchReason`.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cpbridge.codes import IdentifierScheme, MatchOutcome
from cpbridge.model import ChildIdentity

from ..tables import Child, ChildIdentifier
from . import store
from .reasons import MatchReason
from .scoring import (
    DEFAULT_THRESHOLDS,
    Comparison,
    Thresholds,
    compare,
    decide,
    profile_of,
)

#: Identifier schemes issued and checked nationally: they identify one child only.
TRUSTED_SCHEMES = (IdentifierScheme.directory_id, IdentifierScheme.nhs_number, IdentifierScheme.upn)

_REASON_BY_SCHEME = {
    IdentifierScheme.directory_id.value: MatchReason.directory_id_match,
    IdentifierScheme.nhs_number.value: MatchReason.nhs_number_match,
    IdentifierScheme.upn.value: MatchReason.upn_match,
    IdentifierScheme.local.value: MatchReason.local_reference_linked,
}
_PRIORITY = list(_REASON_BY_SCHEME.values())

#: decide()'s reasons -> reason codes
_DECIDE_REASONS = {
    "match": MatchReason.probabilistic_match,
    "no_candidate": MatchReason.no_candidate,
    "low_score": MatchReason.low_score,
    "uncertain": MatchReason.uncertain,
    "too_close_to_call": MatchReason.too_close_to_call,
    "possible_twin": MatchReason.possible_twin,
    "identifier_conflict": MatchReason.identifier_conflict,
    "shielded_candidate": MatchReason.shielded_candidate,
}

#: The thresholds the directory decides with (tune in docs/matching.md's way, then change here).
THRESHOLDS: Thresholds = DEFAULT_THRESHOLDS

_FORCED = "cpbridge.matching.forced"
_OWNER = text("SELECT child_id FROM child_identifiers WHERE scheme = :scheme AND system = :system AND value = :value")


@dataclass(frozen=True)
class MatchDecision:
    """The matcher's answer.

    ``candidates`` holds the child ids considered, best first; ``comparisons`` the
    scored evidence the review queue shows; ``forced`` is set for a decision made
    by the management team (review resolution), which the service applies as is.
    """

    outcome: MatchOutcome
    child_id: int | None = None
    reason_code: str | None = None
    candidates: tuple[int, ...] = field(default_factory=tuple)
    comparisons: tuple[Comparison, ...] = field(default_factory=tuple)
    forced: bool = False

    @property
    def shielded(self) -> bool:
        """Whether a shielded record is among the candidates."""
        return any(c.shielded for c in self.comparisons)


def name_key(name: str) -> str:
    """A name folded for exact comparison: upper case, accents, apostrophes and dots dropped,
    hyphens as spaces, whitespace collapsed (``O'Brien-Smith`` -> ``OBRIEN SMITH``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    letters = re.sub(r"['.’]", "", letters.upper())
    letters = re.sub(r"[\s\-]+", " ", letters)
    return letters.strip()


def identifier_owner(session: Session, scheme: IdentifierScheme, value: str, system: str | None = None) -> int | None:
    """The id of the child an identifier is linked to, if any (a merged record's directory ID
    leads to the child it was merged into)."""
    if scheme is IdentifierScheme.directory_id:
        row = session.execute(select(Child.id, Child.status).where(Child.directory_id == value)).first()
        if row is None:
            return None
        return _follow_merges(session, row[0]) if row[1] == store.MERGED else row[0]
    return session.scalar(
        select(ChildIdentifier.child_id).where(
            ChildIdentifier.scheme == scheme.value,
            ChildIdentifier.system == (system or ""),
            ChildIdentifier.value == value,
        )
    )


def _follow_merges(session: Session, child_id: int) -> int:
    from ..review_tables import ChildMerge

    seen = {child_id}
    while True:
        kept = session.scalar(
            select(ChildMerge.kept_child_id).where(ChildMerge.merged_child_id == child_id, ChildMerge.undone_at.is_(None))
        )
        if kept is None or kept in seen:
            return child_id
        seen.add(kept)
        child_id = kept


@contextlib.contextmanager
def forced(session: Session, decision: MatchDecision) -> Iterator[None]:
    """Within the block, :func:`match_identity` answers ``decision`` (a review resolution)."""
    session.info[_FORCED] = replace(decision, forced=True)
    try:
        yield
    finally:
        session.info.pop(_FORCED, None)


def match_identity(session: Session, identity: ChildIdentity, *, thresholds: Thresholds | None = None) -> MatchDecision:
    """Decide which child ``identity`` describes (see the module docstring for the rules)."""
    if (decision := session.info.get(_FORCED)) is not None:
        return decision
    store.sync(session)
    thresholds = thresholds or THRESHOLDS
    owners, rejected = _trusted_owners(session, identity)
    if rejected:
        return MatchDecision(MatchOutcome.rejected, None, MatchReason.unknown_directory_id)
    frequencies = store.frequencies_for(session, identity)
    if owners:
        return _trusted_decision(session, identity, owners, frequencies, thresholds)
    candidates = store.blocked_candidates(session, identity)
    result = decide(identity, candidates, thresholds, frequencies)
    reason = _DECIDE_REASONS[result.reason]
    child_id = int(result.child_id) if result.child_id is not None else None
    return MatchDecision(
        result.outcome, child_id, reason.value, tuple(int(c.child_id) for c in result.candidates), result.candidates
    )


def _trusted_owners(session: Session, identity: ChildIdentity) -> tuple[dict[int, str], bool]:
    """child id -> the strongest trusted reason that found it; and whether a directory ID is unknown."""
    found: dict[int, list[str]] = {}
    pairs = []
    for ident in identity.identifiers:
        if ident.scheme is IdentifierScheme.directory_id:
            owner = identifier_owner(session, ident.scheme, ident.value)
            if owner is None:
                return {}, True
            found.setdefault(owner, []).append(MatchReason.directory_id_match)
        else:
            pairs.append((ident.scheme.value, ident.system or "", ident.value))
    conn = session.connection() if pairs else None
    for scheme, system, value in pairs:
        for child_id in conn.execute(_OWNER, {"scheme": scheme, "system": system, "value": value}).scalars():
            found.setdefault(child_id, []).append(_REASON_BY_SCHEME[scheme])
    return {cid: min(reasons, key=_PRIORITY.index) for cid, reasons in found.items()}, False


def _contradicts(comparison: Comparison) -> bool:
    """Date of birth and a name disagree outright: not the child the identifier says."""
    dob = comparison.level("date_of_birth")
    names = (comparison.level("given_names"), comparison.level("family_name"))
    return dob == "disagree" and "disagree" in names


def _trusted_decision(session, identity, owners, frequencies, thresholds) -> MatchDecision:
    records = store.candidate_records(session, owners)
    profile = profile_of(identity)
    comps = tuple(sorted((compare(profile, r, frequencies) for r in records), key=lambda c: -c.weight))
    ids = tuple(int(c.child_id) for c in comps)

    def review(reason: MatchReason) -> MatchDecision:
        return MatchDecision(MatchOutcome.review, None, reason.value, ids, comps)

    if not comps:  # every owner is a merged record (cannot happen: identifiers move on merge)
        return review(MatchReason.identifier_conflict)
    if any(c.shielded for c in comps):
        return review(MatchReason.shielded_candidate)
    if len(comps) > 1:
        return review(MatchReason.identifier_conflict)
    best = comps[0]
    if best.veto:
        return review(MatchReason.identifier_conflict)
    if _contradicts(best):
        return review(MatchReason.demographics_contradict)
    child_id = int(best.child_id)
    return MatchDecision(MatchOutcome.matched, child_id, owners[child_id].value, ids, comps)
