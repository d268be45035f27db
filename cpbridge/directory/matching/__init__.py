"""Identity matching: which directory record is the child a source is talking about?

The interface is deliberately small so the internals can be replaced (probabilistic
scoring, a review band, shield-aware duplicate checks) without touching the service:

* :func:`match_identity` ``(session, identity) -> MatchDecision`` decides, and never writes;
* :func:`name_key` is the normalised form stored in ``children.given_key`` /
  ``family_key`` (and ``child_names``) that exact name matching compares.

The service acts on the decision: ``matched`` -> write to ``child_id``; ``new`` ->
create a child; ``review`` -> not applied (Fault ReviewPending until a review queue
exists); ``rejected`` -> Fault named by ``reason_code``.

The current rules are deterministic, first hit wins:

1. a trusted identifier: the directory ID, then the NHS number, then the UPN;
2. a local identifier (system, value) the source linked before;
3. exact normalised given names + family name (current or alias) + date of birth,
   leaving out children who hold a different NHS number (a different child);
   one candidate matches, several go to review;
4. otherwise a new child.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpbridge.codes import IdentifierScheme, MatchOutcome
from cpbridge.model import ChildIdentity

from ..tables import Child, ChildIdentifier, ChildName

#: Identifier schemes issued and checked nationally: they identify one child only.
TRUSTED_SCHEMES = (IdentifierScheme.directory_id, IdentifierScheme.nhs_number, IdentifierScheme.upn)


@dataclass(frozen=True)
class MatchDecision:
    """The matcher's answer. ``candidates`` holds child ids considered (review, audit)."""

    outcome: MatchOutcome
    child_id: int | None = None
    reason_code: str | None = None
    candidates: tuple[int, ...] = field(default_factory=tuple)


def name_key(name: str) -> str:
    """A name folded for exact comparison: upper case, accents, apostrophes and dots dropped,
    hyphens as spaces, whitespace collapsed (``O'Brien-Smith`` -> ``OBRIEN SMITH``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    letters = re.sub(r"['.’]", "", letters.upper())
    letters = re.sub(r"[\s\-]+", " ", letters)
    return letters.strip()


def identifier_owner(session: Session, scheme: IdentifierScheme, value: str, system: str | None = None) -> int | None:
    """The id of the child an identifier is linked to, if any."""
    if scheme is IdentifierScheme.directory_id:
        return session.scalar(select(Child.id).where(Child.directory_id == value))
    return session.scalar(
        select(ChildIdentifier.child_id).where(
            ChildIdentifier.scheme == scheme.value,
            ChildIdentifier.system == (system or ""),
            ChildIdentifier.value == value,
        )
    )


def match_identity(session: Session, identity: ChildIdentity) -> MatchDecision:
    """Decide which child ``identity`` describes (see the module docstring for the rules)."""
    for scheme in TRUSTED_SCHEMES:
        ident = identity.identifier(scheme)
        if ident is None:
            continue
        owner = identifier_owner(session, scheme, ident.value)
        if owner is not None:
            return MatchDecision(MatchOutcome.matched, owner, f"{scheme.value}", (owner,))
        if scheme is IdentifierScheme.directory_id:
            return MatchDecision(MatchOutcome.rejected, None, "UnknownDirectoryId")

    for ident in identity.identifiers:
        if ident.scheme is IdentifierScheme.local:
            owner = identifier_owner(session, ident.scheme, ident.value, ident.system)
            if owner is not None:
                return MatchDecision(MatchOutcome.matched, owner, "local_identifier", (owner,))

    candidates = _name_candidates(session, identity)
    if len(candidates) == 1:
        return MatchDecision(MatchOutcome.matched, candidates[0], "name_dob", tuple(candidates))
    if len(candidates) > 1:
        return MatchDecision(MatchOutcome.review, None, "ManyMatch", tuple(candidates))
    return MatchDecision(MatchOutcome.new, None, None)


def _name_candidates(session: Session, identity: ChildIdentity) -> list[int]:
    given, family = name_key(identity.given_names), name_key(identity.family_name)
    by_current = select(Child.id).where(
        Child.given_key == given, Child.family_key == family, Child.date_of_birth == identity.date_of_birth
    )
    by_alias = (
        select(Child.id)
        .join(ChildName, ChildName.child_id == Child.id)
        .where(
            ChildName.given_key == given,
            ChildName.family_key == family,
            Child.date_of_birth == identity.date_of_birth,
        )
    )
    ids = sorted(set(session.scalars(by_current)) | set(session.scalars(by_alias)))
    nhs = identity.identifier(IdentifierScheme.nhs_number)
    if nhs and ids:
        # A candidate holding a different NHS number is a different child.
        clashing = set(
            session.scalars(
                select(ChildIdentifier.child_id).where(
                    ChildIdentifier.child_id.in_(ids),
                    ChildIdentifier.scheme == IdentifierScheme.nhs_number.value,
                    ChildIdentifier.value != nhs.value,
                )
            )
        )
        ids = [i for i in ids if i not in clashing]
    return ids
